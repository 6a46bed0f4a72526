"""Optimizers: the parameter update that follows each backward pass (SGD, momentum, Nesterov, Adam, AdamW)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backends import Backend, to_numpy

from ._registry import Registry
from .schedules import Schedule, schedule_from_config

if TYPE_CHECKING:
    from .network import Network

__all__ = ["OPTIMIZERS", "SGD", "Adam", "AdamW", "Optimizer", "get_optimizer", "optimizer_from_config"]

def _learning_rate(value: Any) -> float | Schedule:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        msg = f"learning_rate must be a positive finite number or a schedule (StepDecay, ...), got {value!r}"
        raise ValueError(msg)
    return float(value)


def _in_range(value: Any, name: str, low: float, high: float, *, low_closed: bool = True) -> float:
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    above = number and (value >= low if low_closed else value > low)
    if not (number and above and value < high):
        msg = f"{name} must lie in {'[' if low_closed else '('}{low}, {high}), got {value!r}"
        raise ValueError(msg)
    return float(value)


class Optimizer:
    """Base class of the update rules.

    An optimizer keeps its state ("slots", e.g. Adam's moments) as arrays on the
    network's device, one per parameter in the order of
    :meth:`Network.parameters` ([W^[1], b^[1], …]); they are allocated once, on the
    first :meth:`step` (or by :meth:`build`), in the parameters' dtype and device.

    Attributes
    ----------
    learning_rate : float or Schedule
        The step size, or a schedule of it over :attr:`iterations`.
    iterations : int
        Updates made so far (Adam's t; the schedules' step).
    slots : dict of str to list of arrays, or None
        The per-parameter state; None until built.
    """

    name: str = ""
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Schedule) -> None:
        self.learning_rate = _learning_rate(learning_rate)
        self.iterations = 0
        self.slots: dict[str, list[Any]] | None = None

    # ------------------------------------------------------------------ the update
    def learning_rate_at(self, step: int) -> float:
        """The learning rate of update number ``step`` (0-based), a Python float."""
        rate = self.learning_rate
        return rate(step) if isinstance(rate, Schedule) else rate

    def step(self, net: Network, grads: Sequence[tuple[Any, Any]], /) -> None:
        """Apply one update to ``net``'s parameters, in place where the array library
        allows (``layer.W -= Δ``) and by rebinding otherwise.

        Parameters
        ----------
        net : Network
        grads : list of (dW, db)
            One pair per layer, as :meth:`Network.backward_columns` returns, on the
            network's device. The arrays are consumed: the update may overwrite them.

        Notes
        -----
        No host synchronisation and no checks happen here (it is the training hot
        path); :meth:`bind` validates the state once per fit.
        """
        xp = net.xp
        if self.slots is None:
            self.build(net.parameters(), xp=xp)
        lr = self.learning_rate_at(self.iterations)
        self.iterations += 1
        self._begin(lr)
        for i, (layer, (dW, db)) in enumerate(zip(net.layers, grads)):
            layer.W -= self._delta(2 * i, dW, xp)
            layer.b -= self._delta(2 * i + 1, db, xp)

    def _begin(self, lr: float) -> None:
        """Per-update scalars (host floats), computed once before the per-parameter loop."""
        self._lr = lr

    def _delta(self, k: int, g: Any, xp: Any) -> Any:
        """The array to subtract from parameter ``k`` given its gradient ``g``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def build(self, params: Sequence[Any], /, *, xp: Any) -> None:
        """Allocate the slots as zeros shaped, typed and placed like ``params``."""
        self.slots = {
            name: [xp.zeros_like(p, dtype=p.dtype, device=p.device) for p in params] for name in self.slot_names
        }

    def reset(self) -> None:
        """Forget the state (slots and step count), as if newly created."""
        self.iterations = 0
        self.slots = None

    def bind(self, net: Network, /) -> None:
        """Check that the state belongs to ``net`` (building it if missing).

        Raises
        ------
        ValueError
            The slots were built for parameters of other shapes, dtype or device
            (the optimizer served another network): pass a new optimizer or call
            :meth:`reset`.
        """
        params = net.parameters()
        if self.slots is None:
            self.build(params, xp=net.xp)
            return
        backend = net.backend
        for name, arrays in self.slots.items():
            fits = len(arrays) == len(params) and all(
                tuple(a.shape) == tuple(p.shape)
                and a.dtype == p.dtype
                and backend.owns(a)
                and backend.array_device_name(a) == backend.device_name
                for a, p in zip(arrays, params)
            )
            if not fits:
                msg = (
                    f"this {type(self).__name__} holds {name!r} state for other parameters (another network, dtype or "
                    f"device than {net!r}); pass a new optimizer or call optimizer.reset()"
                )
                raise ValueError(msg)

    def state_arrays(self) -> dict[str, Any]:
        """The slots as {"<slot>.<k>": array}, k indexing :meth:`Network.parameters`."""
        return {f"{name}.{k}": a for name, arrays in (self.slots or {}).items() for k, a in enumerate(arrays)}

    def load_state(self, iterations: int, arrays: dict[str, np.ndarray], backend: Backend, n_params: int) -> None:
        """Restore :attr:`iterations` and the slots from host arrays (see :meth:`state_arrays`).

        Raises
        ------
        ValueError
            A slot array is missing.
        """
        slots = {}
        for name in self.slot_names:
            keys = [f"{name}.{k}" for k in range(n_params)]
            missing = [key for key in keys if key not in arrays]
            if missing:
                msg = f"{type(self).__name__} state is missing {', '.join(missing)}"
                raise ValueError(msg)
            slots[name] = [backend.asarray(arrays[key]) for key in keys]
        self.iterations = int(iterations)
        self.slots = slots

    def to(self, backend: Backend, /) -> Optimizer:
        """Move the slots to ``backend`` (values and dtype kept); returns self."""
        if self.slots is not None:
            self.slots = {
                name: [backend.asarray(to_numpy(a)) for a in arrays]
                for name, arrays in self.slots.items()
            }
        return self

    # ------------------------------------------------------------------ description
    def hyperparameters(self) -> dict[str, Any]:
        """The constructor options besides ``learning_rate``."""
        return {}

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description; :func:`optimizer_from_config` rebuilds it (without state)."""
        rate = self.learning_rate
        return {
            "name": self.name,
            "learning_rate": rate.get_config() if isinstance(rate, Schedule) else rate,
            **self.hyperparameters(),
        }

    def __repr__(self) -> str:
        options = {"learning_rate": self.learning_rate, **self.hyperparameters()}
        args = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Plain: W ← W − η dW. With momentum μ (the PyTorch form): V ← μ V + dW, then
    W ← W − η V, or W ← W − η (dW + μ V) with ``nesterov``.

    Parameters
    ----------
    learning_rate : float or Schedule, default 0.01
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
        Needs ``momentum > 0``.

    Raises
    ------
    ValueError
        Non-positive learning rate, momentum outside [0, 1), Nesterov without momentum.
    """

    name = "sgd"

    def __init__(
        self, learning_rate: float | Schedule = 0.01, *, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = _in_range(momentum, "momentum", 0.0, 1.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            msg = "nesterov=True needs momentum > 0, e.g. SGD(momentum=0.9, nesterov=True)"
            raise ValueError(msg)
        if self.momentum:
            self.slot_names = ("velocity",)

    def hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _delta(self, k: int, g: Any, xp: Any) -> Any:
        lr, mu = self._lr, self.momentum
        if not mu:
            g *= lr
            return g
        velocity = self.slots["velocity"]  # type: ignore[index]
        velocity[k] *= mu
        velocity[k] += g
        if self.nesterov:
            g += mu * velocity[k]
            g *= lr
            return g
        return lr * velocity[k]


class Adam(Optimizer):
    """Adam (Kingma & Ba, Algorithm 1), per parameter with gradient g at update t:

    M ← β1 M + (1 − β1) g,  V ← β2 V + (1 − β2) g ⊙ g,
    W ← W − η · M̂ / (√V̂ + ε),  M̂ = M / (1 − β1^t),  V̂ = V / (1 − β2^t).

    Parameters
    ----------
    learning_rate : float or Schedule, default 0.001
    beta1, beta2 : float in [0, 1), defaults 0.9 and 0.999
    eps : float > 0, default 1e-8

    Raises
    ------
    ValueError
        Non-positive learning rate or eps, betas outside [0, 1).
    """

    name = "adam"
    slot_names = ("m", "v")

    def __init__(
        self, learning_rate: float | Schedule = 0.001, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = _in_range(beta1, "beta1", 0.0, 1.0)
        self.beta2 = _in_range(beta2, "beta2", 0.0, 1.0)
        self.eps = _in_range(eps, "eps", 0.0, math.inf, low_closed=False)

    def hyperparameters(self) -> dict[str, Any]:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _begin(self, lr: float) -> None:
        t = self.iterations
        self._step_size = lr / (1 - self.beta1**t)
        self._root_correction = 1 / math.sqrt(1 - self.beta2**t)

    def _delta(self, k: int, g: Any, xp: Any) -> Any:
        b1, b2 = self.beta1, self.beta2
        m, v = self.slots["m"], self.slots["v"]  # type: ignore[index]
        square = g * g
        square *= 1 - b2
        v[k] *= b2
        v[k] += square
        g *= 1 - b1
        m[k] *= b1
        m[k] += g
        denominator = xp.sqrt(v[k])
        denominator *= self._root_correction
        denominator += self.eps
        update = m[k] / denominator
        update *= self._step_size
        return update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam
    update, each weight matrix shrinks, W ← (1 − η λ) W, with η the current
    learning rate and λ = ``weight_decay``. Biases are not decayed.

    Parameters
    ----------
    learning_rate, beta1, beta2, eps
        As for :class:`Adam`.
    weight_decay : float ≥ 0, default 0.01

    Raises
    ------
    ValueError
        As for :class:`Adam`, and a negative or non-finite weight decay.
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(learning_rate, beta1=beta1, beta2=beta2, eps=eps)
        self.weight_decay = _in_range(weight_decay, "weight_decay", 0.0, math.inf)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "weight_decay": self.weight_decay}

    def step(self, net: Network, grads: Sequence[tuple[Any, Any]], /) -> None:
        keep = 1 - self.learning_rate_at(self.iterations) * self.weight_decay
        if keep != 1:
            for layer in net.layers:
                layer.W *= keep
        super().step(net, grads)


OPTIMIZERS: Registry[Any] = Registry("optimizer", Optimizer)
for _cls in (SGD, Adam, AdamW):
    OPTIMIZERS.register(_cls.name, _cls)


def get_optimizer(spec: str | Optimizer, /, **options: Any) -> Optimizer:
    """A new optimizer for the name "sgd", "adam" or "adamw", built with ``options``
    (e.g. ``get_optimizer("sgd", learning_rate=0.1, momentum=0.9)``; defaults
    otherwise); an :class:`Optimizer` passes through unchanged (its state kept).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), invalid option values.
    TypeError
        Neither a name nor an Optimizer; options given with an Optimizer object or
        not accepted by the named optimizer.
    """
    found = OPTIMIZERS.get(spec)
    if isinstance(spec, str):
        return found(**options)
    if options:
        msg = f"options {sorted(options)} apply to an optimizer name, not to the object {spec!r}"
        raise TypeError(msg)
    return found


def optimizer_from_config(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer (without state) from :meth:`Optimizer.get_config`.

    Raises
    ------
    ValueError
        Unknown optimizer or schedule name, or invalid settings.
    """
    options = dict(config)
    cls = OPTIMIZERS.get(str(options.pop("name", "")))
    rate = options.pop("learning_rate", None)
    if isinstance(rate, dict):
        rate = schedule_from_config(rate)
    try:
        return cls(rate, **options)
    except TypeError as exc:
        msg = f"invalid settings for the {cls.name!r} optimizer: {exc}"
        raise ValueError(msg) from exc
