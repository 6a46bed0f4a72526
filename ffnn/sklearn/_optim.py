"""MLP's stochastic solvers as functional updates on name-keyed parameters.

``state = opt.init(params)``, ``params, state = opt.update(params, grads, state)``;
``opt.epoch_end(state, t)`` and ``opt.on_plateau(state)`` carry MLP's learning-rate
schedules (invscaling per epoch, adaptive on a plateau). Updates are made in place
where the array library allows it and by rebinding otherwise; the state's arrays live
with the parameters.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MLPSGD", "MLPAdam"]

State = dict[str, Any]


def _zeros_like(params: dict[str, Any], xp: Any) -> dict[str, Any]:
    return {k: xp.zeros_like(p, dtype=p.dtype, device=p.device) for k, p in params.items()}


class MLPSGD:
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
    ) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.schedule = schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.backend = backend

    def init(self, params: dict[str, Any]) -> State:
        """η = η₀ and zero velocities."""
        return {"learning_rate": self.learning_rate_init, "velocity": _zeros_like(params, self.backend.xp)}

    def update(self, params: dict[str, Any], grads: dict[str, Any], state: State) -> tuple[dict[str, Any], State]:
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

    def epoch_end(self, state: State, samples_seen: int) -> State:
        if self.schedule == "invscaling":
            state["learning_rate"] = self.learning_rate_init / (samples_seen + 1) ** self.power_t
        return state

    def on_plateau(self, state: State, message: str = "", *, verbose: bool = False) -> bool:
        """True: stop. The adaptive schedule divides η by 5 instead, until η ≤ 1e-6.
        With ``verbose``, prints ``message`` and what happens, as MLP does."""
        if self.schedule != "adaptive" or state["learning_rate"] <= 1e-6:
            if verbose:
                print(message + (" Learning rate too small." if self.schedule == "adaptive" else "") + " Stopping.")
            return True
        state["learning_rate"] /= 5.0
        if verbose:
            print(f"{message} Setting learning rate to {state['learning_rate']:f}")
        return False


class MLPAdam:
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

    def init(self, params: dict[str, Any]) -> State:
        return {
            "learning_rate": self.learning_rate_init,
            "t": 0,
            "m": _zeros_like(params, self.backend.xp),
            "v": _zeros_like(params, self.backend.xp),
        }

    def update(self, params: dict[str, Any], grads: dict[str, Any], state: State) -> tuple[dict[str, Any], State]:
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

    def epoch_end(self, state: State, samples_seen: int) -> State:
        return state

    def on_plateau(self, state: State, message: str = "", *, verbose: bool = False) -> bool:
        if verbose:
            print(message + " Stopping.")
        return True
