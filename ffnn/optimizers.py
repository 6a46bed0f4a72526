"""Optimizers: the parameter update that follows each backward pass (SGD, momentum, Nesterov, Adam, AdamW).

The update is a function of (parameters, gradients, state) on dictionaries keyed by
parameter name ("W1", "b1", …): ``new_params, new_state = opt.update(params, grads,
state)``. It never reaches into a network, so gradients can be reduced (all-reduce)
between backward and update and the whole step can be compiled. An optimizer object
is configuration (equal when class and configuration are equal); for convenience it
also keeps the state of the fit it last served in :attr:`Optimizer.state`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, Protocol

import numpy as np

from backends import Backend, constant, device_of, get_backend, to_numpy

from ._registry import Registry
from ._types import Array, Namespace, OptState, Params
from ._validation import Interval, check_bool
from .schedules import Schedule, schedule_from_config

__all__ = ["OPTIMIZERS", "SGD", "Adam", "AdamW", "Optimizer", "get_optimizer", "optimizer_from_config"]


class _Model(Protocol):
    """What :meth:`Optimizer.step` and :meth:`Optimizer.bind` need of a network."""

    backend: Backend

    def named_parameters(self) -> Params: ...

    def set_parameters(self, params: Params, /) -> None: ...


_FRACTION = Interval(0.0, 1.0, closed="left")


def _learning_rate(value: Any) -> float | Schedule:
    if isinstance(value, Schedule):
        return value
    return Interval(0.0, None, closed="neither").check(value, "learning_rate", " or a schedule (StepDecay, ...)")


def parameter_names(n_layers: int) -> list[str]:
    """["W1", "b1", …, "WL", "bL"]: the parameter names of an L-layer network (P1's [l])."""
    return [f"{kind}{l}" for l in range(1, n_layers + 1) for kind in ("W", "b")]


class Optimizer:
    """Base class of the update rules.

    The state is a dict ``{"step": t, <slot>: {name: array}}`` (e.g. Adam's
    ``state["m"]["W1"]``), arrays shaped, typed and placed like the parameters;
    ``step`` counts the updates made (Adam's t; the schedules' step) as a host int.

    Attributes
    ----------
    learning_rate : float or Schedule
        The step size, or a schedule of it over the update count.
    state : dict or None
        The state of the fit this object last served (see :meth:`step`); None until
        then. :meth:`update` itself never reads it.
    """

    name: str = ""
    slot_names: tuple[str, ...] = ()
    needs_namespace: bool = False

    def __init__(self, learning_rate: float | Schedule) -> None:
        self.learning_rate = _learning_rate(learning_rate)
        self.state: OptState | None = None

    # ------------------------------------------------------------------ the functional update
    def learning_rate_at(self, step: int) -> float:
        """The learning rate of update number ``step`` (0-based), a Python float."""
        rate = self.learning_rate
        return rate(step) if isinstance(rate, Schedule) else rate

    def init(self, params: Params, /, *, xp: Namespace | None = None) -> OptState:
        """A fresh state for ``params``: step 0 and zero slots like each parameter
        (``xp``: the parameters' namespace, found from them when None)."""
        state: OptState = {"step": 0}
        if self.slot_names and params:
            xp = xp or namespace_of(next(iter(params.values())))
            for slot in self.slot_names:
                state[slot] = {k: _zeros_like(p, xp) for k, p in params.items()}
        return state

    def update(
        self, params: Params, grads: Params, state: OptState, /, *, xp: Namespace | None = None
    ) -> tuple[Params, OptState]:
        """One update: returns the new parameters and state.

        Arrays are updated in place where the array library allows (``p -= Δ``) and
        rebound where it does not (JAX): use the returned dicts, never rely on the
        inputs. The gradients are consumed (overwritten). No host synchronisation and
        no checks happen here (the training hot path).

        Parameters
        ----------
        params, grads : dict of name → array
            Same keys, in the same order ("W1", "b1", …).
        state : dict
            From :meth:`init` or a previous update.
        xp : namespace, optional
            The arrays' Array API namespace (found from them when None).
        """
        t = int(state["step"])
        scalars: dict[str, Any] = self._typed(self._scalars(self.learning_rate_at(t), t + 1), grads)
        if self.needs_namespace and params:
            scalars["xp"] = xp or namespace_of(next(iter(params.values())))
        new_params, slots = self.apply(params, grads, state, scalars)
        return new_params, {"step": t + 1, **slots}

    def apply(
        self, params: Params, grads: Params, state: OptState, scalars: dict[str, Any], /
    ) -> tuple[Params, OptState]:
        """:meth:`update`'s per-parameter loop with the update's numbers given (``scalars``
        from :meth:`_scalars`, host floats or 0-d device arrays, plus ``"xp"`` when
        :attr:`needs_namespace`): W ← decay(W) − Δ(g) for each parameter. Returns the new
        parameters and the new slots (the state without its ``"step"``)."""
        slots: OptState = {slot: dict(state[slot]) for slot in self.slot_names}
        decay = None if type(self)._decay is Optimizer._decay else self._decay  # no call per parameter without one
        delta = self._delta
        new_params: Params = {}
        for k, p in params.items():
            if decay is not None:
                p = decay(k, p, scalars)
            p -= delta(k, grads[k], slots, scalars)
            new_params[k] = p
        return new_params, slots

    def _scalars(self, lr: float, t: int) -> dict[str, Any]:
        """Per-update host floats, computed once before the per-parameter loop."""
        return {"lr": lr}

    def _typed(self, host: dict[str, Any], grads: Params) -> dict[str, Any]:
        """``host`` (the update's numbers) with each number that is the same as at the
        previous update (a fixed learning rate, momentum, Adam's β1, β2, ε) replaced
        by :func:`backends.constant` of it in the gradients' dtype, held while it stays:
        on NumPy a typed 0-d array spares the weak-scalar promotion of a Python number
        in every product with it (about 0.5 µs each), for the same bits. Numbers that
        change at every update (Adam's bias corrections, a schedule's rate) stay Python
        numbers. Nothing is typed when the gradients differ in dtype (each then rounds
        the Python number to its own) or the library keeps Python numbers."""
        if not grads:
            return host
        held = self.__dict__.get("_typed_numbers")
        like = next(iter(grads.values()))
        dtype, device = like.dtype, getattr(like, "device", None)
        # the array type first: dtypes of two libraries do not compare; then identity before
        # equality (a library's dtype objects are mostly singletons, and comparing them
        # costs more than the rest of this check)
        if held is None or held[1] is not type(like) or not (held[0] is dtype or held[0] == dtype) or held[2] != device:
            held = (dtype, type(like), device, {})
            self._typed_numbers: tuple[Any, type, Any, dict[str, tuple[Any, Any]]] = held
        if not _one_dtype(grads.values()):
            return host  # at every update: the dtypes of a dict may change between calls
        table: dict[str, tuple[Any, Any]] = held[3]
        typed = dict(host)
        for name, value in host.items():
            seen = table.get(name)
            if seen is None or seen[0] != value or type(seen[0]) is not type(value):
                table[name] = (value, None)  # new or changed: a Python number this time
            elif seen[1] is not None:
                typed[name] = seen[1]
            else:  # the same twice in a row: typed from now on
                table[name] = seen = (value, constant(value, like))
                typed[name] = seen[1]
        return typed

    def _decay(self, k: str, p: Array, scalars: dict[str, Any]) -> Array:
        """Decoupled weight decay of parameter ``k`` (none here)."""
        return p

    def _delta(self, k: str, g: Array, state: OptState, scalars: dict[str, Any]) -> Array:
        """The array to subtract from parameter ``k`` given its gradient ``g``
        (updates ``state``'s slots for ``k``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ stateful convenience
    @property
    def iterations(self) -> int:
        """Updates made with :attr:`state` (0 without state)."""
        return 0 if self.state is None else int(self.state["step"])

    @property
    def slots(self) -> dict[str, list[Array]] | None:
        """The state's slots as {slot: [array per parameter, in parameter order]}; None without state."""
        if self.state is None:
            return None
        return {slot: list(self.state[slot].values()) for slot in self.slot_names}

    def step(self, net: _Model, grads: Params | Sequence[tuple[Array, Array]], /) -> None:
        """Apply one update to ``net``'s parameters with the state kept in :attr:`state`
        (built on first use): :meth:`update` plus :meth:`Network.set_parameters`.

        ``grads`` is a dict keyed by parameter name, or the list of (dW, db) pairs of
        :meth:`Network.backward_columns`; the arrays are consumed.
        """
        params = net.named_parameters()
        if not isinstance(grads, dict):
            grads = dict(zip(params, (g for pair in grads for g in pair)))
        xp = net.backend.xp
        if self.state is None:
            self.state = self.init(params, xp=xp)
        new, self.state = self.update(params, grads, self.state, xp=xp)
        net.set_parameters(new)

    def build(self, params: Params | Sequence[Array], /, *, xp: Namespace = None) -> None:
        """Set :attr:`state` to :meth:`init` of ``params`` (a name-keyed dict, or a list
        in parameter order)."""
        if not isinstance(params, dict):
            params = dict(zip(parameter_names(len(params) // 2), params))
        self.state = self.init(params, xp=xp)

    def reset(self) -> None:
        """Forget the state, as if newly created."""
        self.state = None

    def bind(self, net: _Model, /) -> OptState:
        """:attr:`state` after checking that it belongs to ``net`` (building it if missing).

        Raises
        ------
        ValueError
            The state was built for parameters of other names, shapes, dtype or
            device (the optimizer served another network): pass a new optimizer or
            call :meth:`reset`.
        """
        params = net.named_parameters()
        if self.state is None:
            self.state = self.init(params, xp=net.backend.xp)
            return self.state
        backend = net.backend
        for slot in self.slot_names:
            arrays = self.state.get(slot, {})
            fits = list(arrays) == list(params) and all(
                tuple(arrays[k].shape) == tuple(p.shape)
                and arrays[k].dtype == p.dtype
                and backend.owns(arrays[k])
                and backend.array_device_name(arrays[k]) == backend.device_name
                for k, p in params.items()
            )
            if not fits:
                msg = (
                    f"this {type(self).__name__} holds {slot!r} state for other parameters (another network, dtype or "
                    f"device than {net!r}); pass a new optimizer or call optimizer.reset()"
                )
                raise ValueError(msg)
        return self.state

    def state_arrays(self) -> dict[str, Array]:
        """The slots as {"<slot>.<k>": array}, k the 0-based position of the parameter
        (the model file's keys)."""
        slots = self.slots or {}
        return {f"{slot}.{k}": a for slot, arrays in slots.items() for k, a in enumerate(arrays)}

    def load_state(
        self, iterations: int, arrays: dict[str, np.ndarray], backend: Backend, names: int | Iterable[str]
    ) -> None:
        """Restore :attr:`state` from host arrays keyed as :meth:`state_arrays`.

        ``names`` are the parameter names in order, or their count (then "W1", "b1", …).

        Raises
        ------
        ValueError
            A slot array is missing.
        """
        keys = parameter_names(names // 2) if isinstance(names, int) else list(names)
        state: OptState = {"step": int(iterations)}
        for slot in self.slot_names:
            wanted = [f"{slot}.{k}" for k in range(len(keys))]
            missing = [key for key in wanted if key not in arrays]
            if missing:
                msg = f"{type(self).__name__} state is missing {', '.join(missing)}"
                raise ValueError(msg)
            state[slot] = {name: backend.asarray(arrays[key]) for name, key in zip(keys, wanted)}
        self.state = state

    def to(self, backend: Backend, /) -> Optimizer:
        """Move :attr:`state` to ``backend`` (values and dtype kept); returns self."""
        if self.state is not None:
            moved: OptState = {"step": self.state["step"]}
            for slot in self.slot_names:
                moved[slot] = {k: backend.asarray(to_numpy(a)) for k, a in self.state[slot].items()}
            self.state = moved
        return self

    # ------------------------------------------------------------------ configuration
    def hyperparameters(self) -> dict[str, Any]:
        """The constructor options besides ``learning_rate``."""
        return {}

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description; :meth:`from_config` rebuilds it (without state)."""
        rate = self.learning_rate
        return {
            "name": self.name,
            "learning_rate": rate.get_config() if isinstance(rate, Schedule) else rate,
            **self.hyperparameters(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Rebuild an optimizer (without state) from :meth:`get_config`; see :func:`optimizer_from_config`."""
        return optimizer_from_config(config)

    def __eq__(self, other: object) -> bool:
        """Same class and configuration (the state is not compared)."""
        if not isinstance(other, Optimizer):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __getstate__(self) -> dict[str, Any]:
        """The object's attributes for copy and pickle, without the training steps that
        :func:`ffnn.training.held_step` keeps here (they belong to this object and its network)."""
        state = dict(self.__dict__)
        state.pop("_steps", None)
        state.pop("_typed_numbers", None)  # arrays of the last update's library, made again when needed
        return state

    def __hash__(self) -> int:
        return hash((type(self), json.dumps(self.get_config(), sort_keys=True)))

    def __repr__(self) -> str:
        options = {"learning_rate": self.learning_rate, **self.hyperparameters()}
        args = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"{type(self).__name__}({args})"


def _zeros_like(p: Array, xp: Namespace) -> Array:
    return xp.zeros_like(p, dtype=p.dtype, device=device_of(p))


_LIBRARIES = {"numpy": "numpy", "cupy": "cupy", "torch": "torch", "jax": "jax", "jaxlib": "jax"}


_NAMESPACES: dict[type, Namespace] = {}


def namespace_of(x: Array) -> Namespace:
    """The Array API namespace of array ``x`` (as its backend's ``xp``)."""
    kind = type(x)
    if kind not in _NAMESPACES:
        root = kind.__module__.split(".")[0]
        _NAMESPACES[kind] = get_backend(_LIBRARIES.get(root, root)).xp
    return _NAMESPACES[kind]


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
        self.momentum = _FRACTION.check(momentum, "momentum")
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0:
            msg = "nesterov=True needs momentum > 0, e.g. SGD(momentum=0.9, nesterov=True)"
            raise ValueError(msg)
        if self.momentum:
            self.slot_names = ("velocity",)

    def hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _scalars(self, lr: float, t: int) -> dict[str, Any]:
        return {"lr": lr, "mu": self.momentum} if self.momentum else {"lr": lr}

    def apply(
        self, params: Params, grads: Params, state: OptState, scalars: dict[str, Any], /
    ) -> tuple[Params, OptState]:
        """:meth:`Optimizer.apply`; plain SGD (no momentum, this class's own rules) runs
        W ← W − η dW in one loop, without a call per parameter (the training hot path)."""
        if self.momentum or type(self)._delta is not SGD._delta or type(self)._decay is not Optimizer._decay:
            return super().apply(params, grads, state, scalars)
        lr = scalars["lr"]  # a fixed rate is typed by update (Optimizer._typed)
        new_params: Params = {}
        for k, p in params.items():
            g = grads[k]
            g *= lr  # the gradient is consumed, as _delta does
            p -= g
            new_params[k] = p
        return new_params, {}

    def _delta(self, k: str, g: Array, state: OptState, scalars: dict[str, Any]) -> Array:
        lr = scalars["lr"]
        if not self.momentum:
            g *= lr
            return g
        mu = scalars["mu"]
        velocity = state["velocity"]
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
    needs_namespace = True

    def __init__(
        self, learning_rate: float | Schedule = 0.001, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = _FRACTION.check(beta1, "beta1")
        self.beta2 = _FRACTION.check(beta2, "beta2")
        self.eps = Interval(0.0, None, closed="neither").check(eps, "eps")

    def hyperparameters(self) -> dict[str, Any]:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _scalars(self, lr: float, t: int) -> dict[str, Any]:
        b1, b2 = self.beta1, self.beta2
        return {
            "lr": lr,
            "step_size": lr / (1 - b1**t),
            "root_correction": 1 / math.sqrt(1 - b2**t),
            "beta1": b1, "beta2": b2, "one_minus_beta1": 1 - b1, "one_minus_beta2": 1 - b2, "eps": self.eps,
        }

    def _delta(self, k: str, g: Array, state: OptState, scalars: dict[str, Any]) -> Array:
        m, v = state["m"], state["v"]
        square = g * g
        square *= scalars["one_minus_beta2"]
        v[k] *= scalars["beta2"]
        v[k] += square
        g *= scalars["one_minus_beta1"]
        m[k] *= scalars["beta1"]
        m[k] += g
        xp = scalars["xp"]
        denominator = xp.sqrt(v[k])
        denominator *= scalars["root_correction"]
        denominator += scalars["eps"]
        update = m[k] / denominator
        update *= scalars["step_size"]
        return update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam
    update, each weight matrix shrinks, W ← (1 − η λ) W, with η the current
    learning rate and λ = ``weight_decay``. Biases ("b…" parameters) are not decayed.

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
        self.weight_decay = Interval(0.0, None).check(weight_decay, "weight_decay")

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "weight_decay": self.weight_decay}

    def _scalars(self, lr: float, t: int) -> dict[str, Any]:
        return {**super()._scalars(lr, t), "keep": 1 - lr * self.weight_decay}

    def _decay(self, k: str, p: Array, scalars: dict[str, Any]) -> Array:
        if self.weight_decay and k.startswith("W"):  # (1 − η λ) W; a product with 1 when λ = 0 is skipped
            p *= scalars["keep"]
        return p


_DTYPE = attrgetter("dtype")


def _one_dtype(arrays: Iterable[Array]) -> bool:
    """Whether all ``arrays`` (at least one) have one dtype: a set of their dtypes built
    in C (per update, this is most of :meth:`Optimizer._typed`'s work), or where a
    library's dtypes cannot be hashed, compared pairwise."""
    try:
        return len(set(map(_DTYPE, arrays))) == 1
    except TypeError:
        dtypes = [a.dtype for a in arrays]
        return all(d is dtypes[0] or d == dtypes[0] for d in dtypes)


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
