"""Compiled training steps: ffnn's own step (:func:`~ffnn.training.make_step`, the
equations of P1/P2/P3 and the optimizer's update) compiled whole by the backend's
compiler, ``jax.jit`` for jax and ``torch.compile`` for torch, so that XLA/Inductor fuse
the element-wise work (bias add, activation, the update) the Array API cannot express.

Nothing here writes an equation: the compiled function calls the same
:meth:`Network.forward_cost_columns`, :meth:`Network.backward`
and optimizer rules as the eager step. What changes is only how the update's per-step
numbers (Adam's bias corrections, a scheduled learning rate) enter: as 0-d device
arrays, inputs of the compiled function, so that it is traced once per batch shape and
never recompiled as they change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._types import Array, GradientHook, Namespace, OptState, Params
from ..metrics import predicted_columns
from ..optimizers import Optimizer
from .step import DeviceScalarUpdate, OwnParameters, Step, held_step, make_step

if TYPE_CHECKING:
    from ._model import Model

__all__ = ["compile_step", "compiled_step"]

class _UpdateWithScalars:
    """The optimizer's update with the per-step numbers read from ``state["scalars"]``
    (inputs of the compiled function) instead of computed from the host step count."""

    def __init__(self, optimizer: Optimizer, static_lr: float | None) -> None:
        self.optimizer, self.static_lr = optimizer, static_lr

    def update(
        self, params: Params, grads: Params, state: OptState, /, *, xp: Namespace = None
    ) -> tuple[Params, OptState]:
        scalars: dict[str, Any] = dict(state["scalars"])
        if self.static_lr is not None:
            scalars["lr"] = self.static_lr
        if self.optimizer.needs_namespace:
            scalars["xp"] = xp
        return self.optimizer.apply(params, grads, state, scalars)


def compiled_step(
    net: Model, optimizer: Optimizer, /, *, l2: float = 0.0, reduce_gradients: GradientHook | None = None
) -> Step:
    """:func:`~ffnn.training.make_step`'s step of ``net`` and ``optimizer``, compiled whole
    by the network's backend (:meth:`backends.Backend.compile`: ``jax.jit``, ``torch.compile``).

    Same call and results as the eager step: ``step(params, opt_state, xb, yb,
    weights=None) -> (params, opt_state, cost, A_L)`` (the batch in the column layout,
    on the device). The optimizer state's host step count advances outside the
    compiled function; the per-step scalars of the update (learning rate, Adam's bias
    corrections) enter it as 0-d device arrays, so the function compiles once per
    batch shape (the last, smaller batch of an epoch compiles once more). Optimizers
    with decoupled weight decay (AdamW) take the learning rate as a constant: a
    schedule then compiles once per distinct rate.

    The first call compiles (seconds for jax, tens of seconds for torch on CPU).

    Raises
    ------
    ValueError
        The backend has no compiler (numpy, cupy, array_api_strict): the message
        names those that have one; or a ``reduce_gradients`` hook is given (it
        communicates between processes, which a compiled function cannot).
    """
    if reduce_gradients is not None:
        msg = (
            "a compiled step cannot call reduce_gradients (it talks to other processes between backward and "
            "update); train without compile=True when reducing gradients"
        )
        raise ValueError(msg)
    backend = net.backend
    if not backend.can_compile:
        backend.compile(None)  # raises the backend's explanation
    # One compiled step per (network, its passes, optimizer object, settings): repeated fit
    # calls reuse it instead of compiling again (jax.jit caches by function object); a
    # changed loss, fusion, output activation or backend gives new passes, hence a new step.
    key = (net, net.passes(), float(l2), json.dumps(optimizer.get_config(), sort_keys=True, default=str))
    return held_step(optimizer, "compiled", key, lambda: _compile(net, optimizer, l2))


class _Compiled:
    """A compiled training step: called as :func:`make_step`'s step; :meth:`with_rows`
    also gathers the batch from the whole training arrays and returns the decisions
    for hit counting (compiled on first use, a second function).

    The compiled functions take and return the parameters and the optimizer's slots as
    tuples in the order of the parameter names (a dict is flattened by sorting its keys
    at every call); the dicts of the step's interface are built around them.
    """

    def __init__(self, net: Model, optimizer: Optimizer, l2: float) -> None:
        self.net, self.optimizer, self.l2 = net, optimizer, l2
        self.numbers = DeviceScalarUpdate(optimizer, net.backend, net.dtype)
        self.names = tuple(net.named_parameters())
        self.compiled: dict[tuple[str, float | None], Callable[..., Any]] = {}

    def _function(self, kind: str, static_lr: float | None) -> Callable[..., Any]:
        fn = self.compiled.get((kind, static_lr))
        if fn is not None:
            return fn
        net, xp = self.net, self.net.xp
        names, slot_names = self.names, self.optimizer.slot_names
        inner = make_step(net, _UpdateWithScalars(self.optimizer, static_lr), l2=self.l2)  # type: ignore[arg-type]

        def flat_step(values: tuple[Array, ...], slots: tuple[tuple[Array, ...], ...], scalars: dict[str, Any],
                      xb: Array, yb: Array, weights: Array) -> Any:
            state: OptState = {slot: dict(zip(names, held)) for slot, held in zip(slot_names, slots)}
            state["scalars"] = scalars
            new_params, new_state, cost, A_L = inner(dict(zip(names, values)), state, xb, yb, weights)
            new_slots = tuple(tuple(new_state[slot][k] for k in names) for slot in slot_names)
            return tuple(new_params[k] for k in names), new_slots, cost, A_L

        if kind == "step":
            pure = flat_step
        else:
            task = kind

            def pure(  # type: ignore[misc]
                values: tuple[Array, ...], slots: tuple[tuple[Array, ...], ...], scalars: dict[str, Any],
                x: Array, y: Array, rows: Array, weights: Array,
            ) -> Any:
                xb, yb = xp.take(x, rows, axis=0), xp.take(y, rows, axis=0)
                wb = None if weights is None else xp.take(weights, rows, axis=1)
                new_values, new_slots, cost, A_L = flat_step(values, slots, scalars, xb.T, yb.T, wb)
                decided = None if task == "regression" else predicted_columns(A_L, task=task, xp=xp)
                return new_values, new_slots, cost, decided

        fn = self.compiled[(kind, static_lr)] = net.backend.compile(pure)
        return fn

    def _call(self, kind: str, params: Params, opt_state: OptState, *arrays: Array) -> Any:
        names, slot_names = self.names, self.optimizer.slot_names
        t = int(opt_state["step"])
        static_lr, scalars = self.numbers.compiled_numbers(t)
        fn = self._function(kind, static_lr)
        values = tuple(map(params.__getitem__, names))
        slots = tuple(tuple(map(opt_state[slot].__getitem__, names)) for slot in slot_names)
        new_values, new_slots, cost, extra = fn(values, slots, scalars, *arrays)
        out: OptState = {"step": t + 1}
        for slot, held in zip(slot_names, new_slots):
            out[slot] = dict(zip(names, held))
        return dict(zip(names, new_values)), out, cost, extra

    def __call__(
        self, params: Params, opt_state: OptState, xb: Array, yb: Array, weights: Array = None
    ) -> tuple[Params, OptState, Array, Array]:
        return self._call("step", params, opt_state, xb, yb, weights)

    def with_rows(
        self, params: Params, opt_state: OptState, x: Array, y: Array, rows: Array, weights: Array, task: str
    ) -> tuple[Params, OptState, Array, Array]:
        """The step on the batch ``x[rows]``, ``y[rows]`` (rows layout, the whole training
        arrays; ``weights`` a (1, m) row or None), gathered inside the compiled function;
        returns the decisions of :func:`~ffnn.metrics.predicted_columns` in place of A^[L]
        (None for regression)."""
        return self._call(task, params, opt_state, x, y, rows, weights)


def _compile(net: Model, optimizer: Optimizer, l2: float) -> Step:
    return _Compiled(net, optimizer, l2)


def gathering_step(step: Any, net: Model, task: str) -> Callable[..., Any] | None:
    """For the loop: ``f(params, opt_state, x, y, rows, weights)`` of a compiled ``step``
    (:meth:`_Compiled.with_rows` for the network's task), or None for other steps."""
    if not isinstance(step, _Compiled):
        return None

    def gathered(params: Params, opt_state: OptState, x: Array, y: Array, rows: Array, weights: Array) -> Any:
        return step.with_rows(params, opt_state, x, y, rows, weights, task)

    return gathered


def compile_step(net: Model, optimizer: Optimizer, /, *, l2: float = 0.0) -> Callable[[Array, Array], Array]:
    """:func:`~ffnn.training.train_step` compiled: ``step(X_cols, Y_cols) -> cost``.

    Each call trains ``net``'s own parameters one step, with the state kept in
    ``optimizer.state`` (built on first use), through :func:`compiled_step`, and
    returns the 0-d batch cost before the update. A change of the network's loss,
    fusion, backend or an activation compiles the step again; parameters rebound
    between calls (``set_weights``) are read again (:class:`~ffnn.training.step.OwnParameters`).
    ``X_cols`` (n^[0], m) and ``Y_cols`` (n^[L], m) are in the column layout, on the
    network's device and dtype.

    Raises
    ------
    ValueError
        The backend has no compiler.
    """
    runner = OwnParameters(net, optimizer, lambda: compiled_step(net, optimizer, l2=l2), l2, checked_once=True)
    return runner.run
