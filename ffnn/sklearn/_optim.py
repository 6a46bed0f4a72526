"""MLP's stochastic solvers as optimizers of ffnn's training loop.

They follow the loop's optimizer protocol (:class:`ffnn.training.Loop`):
``state = opt.init(params, xp=xp)``, ``params, state = opt.update(params, grads, state,
xp=xp)``, the state kept in ``opt.state`` between epochs and fits, and the optional
per-epoch hooks ``opt.epoch_end(state, m)`` (invscaling: η after each epoch of m rows)
and ``opt.on_plateau(state)`` (adaptive: η / 5 instead of stopping). Updates are made in
place where the array library allows it and by rebinding otherwise; the state's arrays
live with the parameters.
"""

from __future__ import annotations

import math
from typing import Any

from backends import device_of

__all__ = ["MLPSGD", "MLPAdam"]

State = dict[str, Any]


def _zeros_like(params: dict[str, Any], xp: Any) -> dict[str, Any]:
    return {k: xp.zeros_like(p, dtype=p.dtype, device=device_of(p)) for k, p in params.items()}


class _MLPSolver:
    """What both solvers share: the state, MLP's ``learning_rate`` and the hooks."""

    learning_rate_init: float
    state: State | None = None
    plateau_message = ""
    """Printed (with what happens next) on a plateau when :attr:`verbose`."""
    verbose = False

    @property
    def learning_rate(self) -> float:
        """The current learning rate (MLP's ``_optimizer.learning_rate``)."""
        return self.learning_rate_init if self.state is None else self.state["learning_rate"]

    def epoch_end(self, state: State, m: int) -> State:
        """After an epoch of m rows: count the samples seen."""
        state["samples_seen"] += m
        return state

    def on_plateau(self, state: State) -> bool:
        """True: stop (MLP's message printed when verbose)."""
        if self.verbose:
            print(self.plateau_message + " Stopping.")
        return True


class MLPSGD(_MLPSolver):
    """SGD with MLP's momentum: v ← μ v − η g; Δ = v, or μ v − η g with Nesterov; p ← p + Δ.

    Parameters
    ----------
    learning_rate_init : float
        η₀.
    schedule : {"constant", "invscaling", "adaptive"}
        invscaling: η = η₀ / (t + 1)^power_t after each epoch, t = samples seen;
        adaptive: η ← η / 5 when the stopping rule reports a plateau, stopping once
        η ≤ 1e-6.
    momentum : float
    nesterov : bool
    power_t : float
    backend : backends.Backend
        Where the state lives (the parameters' backend).
    samples_seen : int, default 0
        Samples seen in earlier fits (MLP's ``t_``; invscaling's t continues from it).
    """

    def __init__(
        self,
        learning_rate_init: float,
        schedule: str = "constant",
        *,
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
        backend: Any,
        samples_seen: int = 0,
    ) -> None:
        self.samples_seen = int(samples_seen)
        self.learning_rate_init = float(learning_rate_init)
        self.schedule = schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.backend = backend

    def init(self, params: dict[str, Any], /, *, xp: Any = None) -> State:
        """η = η₀ and zero velocities."""
        return {
            "learning_rate": self.learning_rate_init,
            "samples_seen": self.samples_seen,
            "velocity": _zeros_like(params, self.backend.xp),
        }

    def update(
        self, params: dict[str, Any], grads: dict[str, Any], state: State, /, *, xp: Any = None
    ) -> tuple[dict[str, Any], State]:
        """One step; ``grads`` holds dJ/dp (with the L2 term) for every name of ``params``."""
        lr, mu = state["learning_rate"], self.momentum
        velocity = state["velocity"]
        new = {}
        for name, p in params.items():
            g = grads[name]
            v = mu * velocity[name] - lr * g
            velocity[name] = v
            p += mu * v - lr * g if self.nesterov else v
            new[name] = p
        return new, state

    def epoch_end(self, state: State, m: int) -> State:
        """invscaling: η = η₀ / (t + 1)^power_t, t = samples seen over all fits."""
        state = super().epoch_end(state, m)
        if self.schedule == "invscaling":
            state["learning_rate"] = self.learning_rate_init / (state["samples_seen"] + 1) ** self.power_t
        return state

    def on_plateau(self, state: State) -> bool:
        """True: stop. The adaptive schedule divides η by 5 instead, until η ≤ 1e-6.
        With :attr:`verbose`, prints MLP's message and what happens."""
        message = self.plateau_message
        if self.schedule != "adaptive" or state["learning_rate"] <= 1e-6:
            if self.verbose:
                tail = " Learning rate too small." if self.schedule == "adaptive" else ""
                print(message + tail + " Stopping.")
            return True
        state["learning_rate"] /= 5.0
        if self.verbose:
            print(f"{message} Setting learning rate to {state['learning_rate']:f}")
        return False


class MLPAdam(_MLPSolver):
    """Adam as MLP writes it: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    η_t = η₀ √(1−β₂ᵗ)/(1−β₁ᵗ), p ← p − η_t m / (√v + ε)."""

    def __init__(
        self,
        learning_rate_init: float,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        backend: Any,
    ) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.backend = backend

    def init(self, params: dict[str, Any], /, *, xp: Any = None) -> State:
        return {
            "learning_rate": self.learning_rate_init,
            "samples_seen": 0,
            "t": 0,
            "m": _zeros_like(params, self.backend.xp),
            "v": _zeros_like(params, self.backend.xp),
        }

    def update(
        self, params: dict[str, Any], grads: dict[str, Any], state: State, /, *, xp: Any = None
    ) -> tuple[dict[str, Any], State]:
        xp, b1, b2 = self.backend.xp, self.beta_1, self.beta_2
        t = state["t"] + 1
        lr = self.learning_rate_init * math.sqrt(1 - b2**t) / (1 - b1**t)
        new = {}
        for name, p in params.items():
            g = grads[name]
            m = b1 * state["m"][name] + (1 - b1) * g
            v = b2 * state["v"][name] + (1 - b2) * (g * g)
            state["m"][name], state["v"][name] = m, v
            p += -lr * m / (xp.sqrt(v) + self.epsilon)
            new[name] = p
        state["t"], state["learning_rate"] = t, lr
        return new, state
