"""One training step as one function of (parameters, optimizer state, batch): the seam
for gradient reduction (all-reduce) and, later, compilation (jax.jit, torch.compile)."""

from __future__ import annotations

from collections.abc import Callable
from operator import is_
from typing import TYPE_CHECKING, Any, TypeVar

from .._types import Array, GradientHook, Namespace, OptState, Params
from ..layers import BINDINGS
from ..optimizers import Optimizer

if TYPE_CHECKING:
    from ._model import Model

__all__ = ["DeviceScalarUpdate", "OwnParameters", "Penalty", "Step", "held_step", "make_step", "train_step"]

Penalty = Callable[..., Array]
"""``penalty(params, grads, m, weights, *, xp) -> cost term``: adds its gradient to
``grads`` (in place or by rebinding the dict's entries) and returns the 0-d term added
to the batch cost (``m`` the batch's rows, ``weights`` its (1, m) row or None)."""

Masks = dict[int, Array] | None
_Held = TypeVar("_Held")

Step = Callable[..., tuple[Params, OptState, Array, Array]]
"""``step(params, opt_state, xb, yb, weights=None, masks=None) -> (params, opt_state, cost, A_L)``."""


def make_step(
    net: Model, optimizer: Optimizer, /, *, l2: float | Penalty = 0.0, reduce_gradients: GradientHook | None = None
) -> Step:
    """The training step of ``net`` with ``optimizer``, as a function of its arrays only.

    ``step(params, opt_state, xb, yb, weights=None)`` runs forward P1 (5)/(6), the
    cost P1 (9), backward P1 (15)/(16)/(22), the L2 penalty, ``reduce_gradients``
    (default: none) and :meth:`Optimizer.update`, and returns ``(params, opt_state,
    cost, A_L)``: the new parameters and state (updated in place where the library
    allows), the 0-d batch cost J before the update (penalty included) and the
    outputs A^[L] (for counting hits). No host synchronisation and no validation
    happen in it.

    Parameters
    ----------
    net : Network
        Supplies the maths (forward/backward); its own parameters are not read.
    optimizer : Optimizer
    l2 : float or Penalty, default 0
        λ of the L2 penalty: J + (λ/2m) Σ_l ‖W^[l]‖² and dW^[l] + (λ/m) W^[l]
        (biases are not penalised). λ = 0 adds no work. A :class:`Penalty` object
        (a callable ``penalty(params, grads, m, weights, xp=xp)`` that adds its
        gradient to ``grads`` and returns its cost term) replaces this rule, e.g.
        scikit-learn's (α/2Σs) Σ‖W‖² with sample weights.
    reduce_gradients : callable, optional
        Called on the name-keyed gradients between backward and update, e.g. an
        all-reduce averaging them over processes; returns the gradients to apply.

    Notes
    -----
    ``xb`` (n^[0], m) and ``yb`` (n^[L], m) are in the seeds' column layout, on the
    network's device and dtype; ``weights`` is an optional (1, m) row of per-example
    weights; ``masks`` the batch's scaled dropout masks {l: (1/p^[l]) ⊙ R^[l]}
    (D (2)/(8), from :class:`ffnn.dropout.EpochMasks`), or None.
    """
    xp = net.xp
    update = optimizer.update
    if (
        isinstance(optimizer, Optimizer)
        and type(optimizer).update is Optimizer.update  # a subclass's own update runs as written
        and _typed_numbers(net.backend.spec)
    ):
        update = DeviceScalarUpdate(optimizer, net.backend, net.dtype).update

    passes = net.passes()  # the network's passes with its structure's decisions made once
    forward_cost, backward, plain = passes.forward_cost, passes.backward, passes.train
    penalty: Penalty | None = l2 if callable(l2) else (_L2(l2) if l2 else None)

    def step(
        params: Params, opt_state: OptState, xb: Array, yb: Array, weights: Array = None, masks: Masks = None
    ) -> tuple[Params, OptState, Array, Array]:
        if plain is not None and weights is None and masks is None:  # the common case, in one pass
            cost, A_L, grads = plain(xb, yb, params)
        else:
            cache, cost = forward_cost(xb, yb, params, masks, weights)
            grads = backward(cache, yb, params, weights, True)  # type: ignore[assignment]  # no input gradient
            A_L = cache[-1]
        if penalty is not None:
            cost = cost + penalty(params, grads, xb.shape[1], weights, xp=xp)
        if reduce_gradients is not None:
            grads = reduce_gradients(grads)
        params, opt_state = update(params, grads, opt_state, xp=xp)
        return params, opt_state, cost, A_L

    return step


def _typed_numbers(spec: Any) -> bool:
    """Whether the optimizer's per-step numbers must be 0-d device arrays: JAX
    (``scalar_arrays``: a Python number is a host-to-device transfer). Not NumPy
    (``typed_constants``): Adam's bias corrections change at every step, and making
    them arrays (:meth:`backends.Backend.scalar`, about 6 µs) costs more than the
    weak-scalar promotion it saves; NumPy's constants are typed by
    :func:`backends.constant`, made once per value."""
    return bool(getattr(spec, "scalar_arrays", False))


class DeviceScalarUpdate:
    """:meth:`Optimizer.update` for libraries where a Python number is a host-to-device
    transfer at every use (JAX, ``scalar_arrays`` in its backend spec): the per-step
    numbers of the rule (learning rate, Adam's bias corrections) become 0-d device
    arrays of the network's dtype, made by :meth:`backends.Backend.scalar` only when
    their value changes (once per fit for a constant learning rate); the update's values
    are the same, bit for bit, as with Python numbers (rounded to the dtype either way).
    While an update's host numbers equal the previous update's (a constant rate without
    bias corrections), the previous dict of arrays is handed on again (as a copy)
    instead of being rebuilt.

    The constant numbers of a rule (momentum, Adam's β1, β2, ε, AdamW's 1 − ηλ) are
    among them, so an update makes no implicit transfer. An optimizer with its own
    ``_decay`` keeps the learning rate a Python number as well (its rule may branch
    on the value).
    """

    def __init__(self, optimizer: Optimizer, backend: Any, dtype: str) -> None:
        self.optimizer, self.backend = optimizer, backend
        self.dtype = backend.dtype(dtype)
        self.static_lr = type(optimizer)._decay is not Optimizer._decay
        self.held: dict[str, tuple[float, Array]] = {}
        # the last update's host numbers, namespace and the dict handed to apply: reused
        # while they stay the same (a constant learning rate without bias corrections)
        self.last: tuple[dict[str, Any], Any, dict[str, Any]] | None = None
        self.compiled_last: tuple[dict[str, Any], float | None, dict[str, Any]] | None = None

    def device_scalar(self, name: str, value: float) -> Array:
        held = self.held.get(name)
        if held is None or held[0] != value:
            held = self.held[name] = (value, self.backend.scalar(value, self.dtype))
        return held[1]

    def compiled_numbers(self, t: int) -> tuple[float | None, dict[str, Any]]:
        """For a compiled step: (the static learning rate or None, the other numbers of
        update ``t`` as device scalars). The same dict is handed on (it must not be
        written to) while the host numbers are those of the previous call."""
        opt = self.optimizer
        host = opt._scalars(opt.learning_rate_at(t), t + 1)
        held = self.compiled_last
        if held is None or held[0] != host:
            scalars = self._on_device(host)
            static_lr = float(scalars.pop("lr")) if self.static_lr else None
            held = self.compiled_last = (host, static_lr, scalars)
        return held[1], held[2]

    def _on_device(self, host: dict[str, Any]) -> dict[str, Any]:
        return {
            name: value if name == "lr" and self.static_lr else self.device_scalar(name, float(value))
            for name, value in host.items()
        }

    def update(
        self, params: Params, grads: Params, state: OptState, /, *, xp: Namespace | None = None
    ) -> tuple[Params, OptState]:
        t = int(state["step"])
        opt = self.optimizer
        host = opt._scalars(opt.learning_rate_at(t), t + 1)
        last = self.last
        if last is None or last[1] is not xp or last[0] != host:
            held = self._on_device(host)
            if opt.needs_namespace:
                held["xp"] = xp
            self.last = last = (host, xp, held)
        scalars = last[2].copy()  # a copy: a rule may write into the dict it is given
        new_params, slots = opt.apply(params, grads, state, scalars)
        return new_params, {"step": t + 1, **slots}


class _L2:
    """:func:`apply_l2` with its λ, as a :data:`Penalty` (the weights are not used)."""

    __slots__ = ("l2",)

    def __init__(self, l2: float) -> None:
        self.l2 = l2

    def __call__(self, params: Params, grads: Params, m: int, weights: Array, /, *, xp: Namespace) -> Array:
        return apply_l2(params, grads, self.l2, m, xp=xp)


def apply_l2(params: Params, grads: Params, l2: float, m: int, /, *, xp: Namespace) -> Array:
    """L2 regularization, D (4)–(5) of MATH.md §8: add (λ/m) W^[l] to each dJ/dW^[l]
    (in place where possible; D (6): biases get nothing) and return the penalty
    f_complexity = (1/m)(λ/2) Σ_l Σ_{j,k} (w^[l]_{j,k})², m the batch size."""
    squares: Array = 0
    for k, W in params.items():
        if k.startswith("W"):
            squares = squares + xp.sum(W * W)
            dW = grads[k]
            dW += (l2 / m) * W
            grads[k] = dW
    return squares * (l2 / (2 * m))


def train_step(net: Model, optimizer: Optimizer, X_cols: Array, Y_cols: Array, /, *, l2: float = 0.0) -> Array:
    """One full training step on ``net``'s own parameters, with the state kept in
    ``optimizer.state`` (built on first use): :func:`make_step` applied once and its
    results stored back. Returns the 0-d batch cost before the update.

    ``X_cols`` (n^[0], m) and ``Y_cols`` (n^[L], m) are in the seeds' column layout
    (``X.T`` of a rows batch), on the network's device and dtype. No validation
    happens here: :meth:`Network.fit` checks the data once per fit.

    The step is built once per (network, optimizer, ``l2``) and kept on the optimizer
    (:func:`held_step`) with the network's parameter dict: while nothing was rebound
    since the previous call (:data:`ffnn.layers.BINDINGS`), a call costs the step alone.
    """
    held = optimizer.__dict__.get("_steps", _NONE).get("eager")
    if held is not None:
        runner: OwnParameters = held[1]
        if runner.net is net and runner.l2 == l2 and type(runner.l2) is type(l2):
            return runner.run(X_cols, Y_cols)

    def build() -> OwnParameters:
        return OwnParameters(net, optimizer, lambda: make_step(net, optimizer, l2=l2), l2)

    runner = held_step(optimizer, "eager", (net, l2), build)
    return runner.run(X_cols, Y_cols)


_NONE: dict[str, Any] = {}


class OwnParameters:
    """A training step applied to a network's own parameters call after call
    (:func:`train_step`, :func:`~ffnn.training.compile_step`): ``run(X_cols, Y_cols)
    -> cost`` runs ``step(params, optimizer.state, X_cols, Y_cols)`` and gives the
    network its new parameters.

    ``build()`` makes the step; it is made again when the network's passes change (its
    loss, fusion, backend or an activation). The parameter dict handed to the step is
    kept between calls and read from the network again only after a rebinding anywhere
    (:data:`ffnn.layers.BINDINGS`) or a change of its layers list; new arrays from the
    step are bound to the network (checked, or with ``checked_once`` checked on the
    first call only: a compiled step's outputs keep the shapes it was traced with).
    """

    __slots__ = (
        "build", "check", "check_always", "l2", "layers", "net", "optimizer", "params", "passes", "seen", "step",
    )

    def __init__(
        self, net: Model, optimizer: Optimizer, build: Callable[[], Step], l2: float, *, checked_once: bool = False
    ) -> None:
        self.net, self.optimizer, self.build, self.l2 = net, optimizer, build, l2
        self.passes = net.passes()
        self.step = build()
        self.check = True  # whether the next new arrays are checked
        self.check_always = not checked_once
        self.seen, self.layers = -1, list(net.layers)
        self.params: Params = {}

    def run(self, X_cols: Array, Y_cols: Array) -> Array:
        """One step on the network's own parameters; the 0-d batch cost before the update."""
        net, optimizer = self.net, self.optimizer
        if self.seen != BINDINGS.count or self.layers != net.layers:  # something was rebound since the last call
            passes = net.passes()
            if passes is not self.passes:
                self.passes, self.step, self.check = passes, self.build(), True
            self.params, self.layers = net.named_parameters(), list(net.layers)
        state = optimizer.state
        if state is None:
            state = optimizer.init(self.params, xp=net.xp)
        params, optimizer.state, cost, _ = self.step(self.params, state, X_cols, Y_cols)
        if len(params) != len(self.params) or not all(map(is_, params.values(), self.params.values())):
            net.set_parameters(params, check=self.check)  # new arrays (JAX; an optimizer that rebinds)
            self.check = self.check_always
        self.params, self.seen = params, BINDINGS.count
        return cost


def held_step(optimizer: Optimizer, kind: str, key: tuple[Any, ...], build: Callable[[], _Held], /) -> _Held:
    """The step of this ``kind`` kept on ``optimizer`` for ``key`` ("eager": the
    :class:`OwnParameters` of :func:`train_step`; "compiled": :func:`~ffnn.training.compiled_step`'s)
    (the network first, then what else the step was built from), or ``build()``, kept
    in its place: one step per optimizer and kind, the latest only. Copies and pickles
    of the optimizer leave the kept steps out (:meth:`Optimizer.__getstate__`), and
    nothing but the optimizer holds them, so a network is freed with its optimizer."""
    steps = optimizer.__dict__.get("_steps")
    if steps is None:
        steps = optimizer.__dict__["_steps"] = {}
    held = steps.get(kind)
    if held is not None and len(held[0]) == len(key):
        for a, b in zip(held[0], key):
            if a is not b and (type(a) is not type(b) or a != b):
                break
        else:
            return held[1]
    step = build()
    steps[kind] = (key, step)
    return step
