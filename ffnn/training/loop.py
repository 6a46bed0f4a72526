"""The epoch loop of one fit: batches in the sampler's order, the step, metrics read once
per epoch, the stopping rule, callbacks and checkpoints."""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from tqdm import tqdm

from backends import fast_calls

from .._types import Array, GradientHook, Namespace, OptState, Params, Sampler
from .._validation import (
    PREDICT_BATCH_SIZE,
    as_inputs,
    as_sample_weight,
    inputs_with_bound,
    max_abs,
    positive_int,
)
from ..dropout import EpochMasks
from ..losses import checked_targets
from ..metrics import hits_against, output_hits, target_classes
from ..optimizers import Optimizer
from ..sources import RowSource
from .callbacks import MONITORS, Callback, Checkpoint, EarlyStopping, FunctionCallback
from .compile import compiled_step, gathering_step
from .evaluation import regression_metrics, regression_sums, totals
from .history import History, TrainingState
from .step import Penalty, make_step

if TYPE_CHECKING:
    from ._model import Model


class EpochDriver(Protocol):
    """What the loop needs from a driver of the batches that is not the loop itself
    (:class:`ffnn.training.parallel.Parallel`: ranks, inputs read by rows); the loop
    never imports it."""

    @property
    def writes(self) -> bool: ...

    def train_batches(self, loop: Loop) -> tuple[Array, Array, float]: ...

    def epoch_values(self, loop: Loop, head: Array) -> list[float]: ...


@dataclass
class Data:
    """The validated arrays of one fit, on the device (rows = examples)."""

    x: Array
    y: Array
    val_x: Array
    val_y: Array
    batch_size: int
    shuffle: bool
    weights: np.ndarray | None = None
    """Host per-example weights of the training rows, or None."""
    mean_by_rows: bool = False
    """Report train_cost as the batch costs averaged by rows even with weights
    (scikit-learn's MLP: Σ_b J_b·|b| / m) instead of by the batches' weights."""
    classes: Array = None
    """A classifier's training targets decided once per fit (the class labels as
    given, else :func:`~ffnn.metrics.target_classes` of y: (m,) classes for
    multiclass, (n^[L], m) booleans otherwise), or None (regression, or not known)."""
    x_bound: float = math.inf
    """β_0 ≥ max |x| over the training inputs (over the whole X when a validation split
    was cut from it; inf when not known)."""


def training_data(
    net: Model,
    X: Any,
    y: Any,
    validation_data: Any,
    validation_split: Any,
    batch_size: Any,
    shuffle: bool,
    sample_weight: Any = None,
) -> Data:
    """Validate the data and move it to the device, once per fit."""
    backend, loss = net.backend, net.loss.name
    x, x_bound = inputs_with_bound(X, backend, net.dtype, net.n_in, feature_names=getattr(net, "feature_names", None))
    t, labels = checked_targets(y, backend, net.dtype, loss, net.n_out, x.shape[0])
    weights = None if sample_weight is None else as_sample_weight(sample_weight, x.shape[0])
    val_x = val_y = None
    if validation_data is not None and validation_split:
        msg = "pass either validation_data or validation_split, not both"
        raise ValueError(msg)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            msg = f"validation_data must be a pair (X_val, y_val), got {type(validation_data).__name__}"
            raise TypeError(msg)
        val_x = as_inputs(
            validation_data[0], net.backend, net.dtype, net.n_in, name="X_val",
            feature_names=getattr(net, "feature_names", None),
        )
        val_y, _ = checked_targets(
            validation_data[1], backend, net.dtype, loss, net.n_out, val_x.shape[0], name="y_val"
        )
    elif validation_split:
        m = x.shape[0]
        fraction = validation_split
        n_train = int(m * (1 - fraction)) if isinstance(fraction, float) and 0 < fraction < 1 else 0
        if not 0 < n_train < m:
            msg = (
                f"validation_split must be a fraction in (0, 1) that leaves examples on both sides; "
                f"got {validation_split!r} for {m} examples"
            )
            raise ValueError(msg)
        x, val_x, t, val_y = x[:n_train, :], x[n_train:, :], t[:n_train, :], t[n_train:, :]
        weights = None if weights is None else weights[:n_train]
        labels = None if labels is None else labels[:n_train]
    m = x.shape[0]
    size = m if batch_size is None else min(positive_int(batch_size, "batch_size"), m)
    shuffled = bool(shuffle) and size < m  # one batch: order is moot
    return Data(x, t, val_x, val_y, size, shuffled, weights, classes=_classes(net, t, labels), x_bound=x_bound)


def _classes(net: Model, t: Array, labels: Array | None) -> Array | None:
    """:attr:`Data.classes` of targets ``t`` (m, n^[L]) given as ``labels`` (or None)."""
    task, xp = net.task, net.xp
    if task == "regression":
        return None
    if labels is None:
        return target_classes(t.T, task=task, xp=xp)
    # the labels in the integer dtype argmax gives (what they are compared with): one row's worth
    return xp.astype(labels, xp.argmax(t[:1, :], axis=1).dtype)


def require_weighted_loss(net: Model) -> None:
    """The one place that refuses ``sample_weight`` while the losses lack ``weights=``.

    Raises
    ------
    NotImplementedError
        The network's loss does not take per-example weights yet.
    """
    if "weights" not in inspect.signature(net.loss.cost).parameters:
        msg = (
            f"sample_weight needs a loss that takes per-example weights (weights=); {net.loss.name} does not yet. "
            "Repeat or drop rows to weight them meanwhile"
        )
        raise NotImplementedError(msg)


def check_monitors(stopper: EarlyStopping | None, saver: Checkpoint | None, data: Data, task: str) -> None:
    """Refuse watching a quantity this fit will not record."""
    for monitor in {stopper.monitor if stopper else "", saver.monitor if saver and saver.best_only else ""}:
        if monitor == "val_score":
            msg = (
                "monitor 'val_score' is recorded by an epoch metrics hook (Loop(metrics=...), used by the "
                "scikit-learn estimators), which fit does not take: monitor val_cost or val_accuracy"
            )
            raise ValueError(msg)
        if monitor.startswith("val_") and data.val_x is None:
            msg = (
                f"early stopping / best-only checkpoints monitor {monitor!r} but no validation data was given: "
                "pass validation_data=(X_val, y_val) or validation_split=0.2, or set monitor='train_cost'"
            )
            raise ValueError(msg)
        if monitor.endswith("accuracy") and task == "regression":
            msg = f"monitor {monitor!r} needs a classifier; this network is a regression: monitor a cost"
            raise ValueError(msg)


def check_options(stopper: Any, saver: Any, callbacks: Any, sampler: Any, reduce_gradients: Any) -> list[Callback]:
    """Check the kinds of the fit's option objects; returns the callbacks as Callback objects."""
    if stopper is not None and not isinstance(stopper, EarlyStopping):
        msg = f"early_stopping must be an EarlyStopping, a patience (int) or None, got {stopper!r}"
        raise TypeError(msg)
    if saver is not None and not isinstance(saver, Checkpoint):
        msg = f"checkpoint must be a Checkpoint, a file path or None, got {saver!r}"
        raise TypeError(msg)
    bad = [c for c in callbacks if not (isinstance(c, Callback) or callable(c))]
    if isinstance(callbacks, (str, bytes)) or bad:
        msg = f"callbacks must be a sequence of Callback objects or functions f(logs), got {callbacks!r}"
        raise TypeError(msg)
    for name, value in (("sampler", sampler), ("reduce_gradients", reduce_gradients)):
        if value is not None and not callable(value):
            msg = f"{name} must be a callable or None, got {value!r}"
            raise TypeError(msg)
    return [c if isinstance(c, Callback) else FunctionCallback(c) for c in callbacks]


def settings_of(epochs: int, l2: float, data: Data, stopper: EarlyStopping | None) -> dict[str, Any]:
    """What a resumed fit must repeat (saved with the training state)."""
    return {
        "epochs": epochs,
        "batch_size": data.batch_size,
        "l2": l2,
        "shuffle": data.shuffle,
        "n_train": int(data.x.shape[0]),
        "n_val": 0 if data.val_x is None else int(data.val_x.shape[0]),
        "early_stopping": None if stopper is None else stopper.get_config(),
    }


def new_state(last: TrainingState | None, seed: int | None, settings: dict[str, Any]) -> TrainingState:
    """The state of a new fit: its shuffles continue the network's epoch count (and, for a
    network without a seed, the shuffle seed of its last fit)."""
    if seed is None and last is not None:
        seed = last.shuffle_seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    previous = 0 if last is None else last.epochs_trained
    return TrainingState(
        epoch=0, shuffle_seed=int(seed), history=History(), settings=settings, previous_epochs=previous
    )


def _same_stopping(saved: Any, given: Any) -> bool:
    """Early-stopping settings compared with defaults filled in (older files lack mode/reference)."""
    if saved is None or given is None:
        return saved == given
    return EarlyStopping(**saved).get_config() == given


def resumable(net: Model, optimizer: Any, settings: dict[str, Any]) -> tuple[TrainingState, Optimizer]:
    """The saved state and optimizer, after checking that this call repeats the interrupted one.

    An optimizer given by name, or an object equal to the saved one (same class and
    configuration), continues with the saved optimizer and its state.
    """
    state, opt = net.training_state, net.optimizer
    if state is None or opt is None:
        missing = "training state" if state is None else "optimizer state"
        msg = (
            f"resume=True, but this network has no {missing}: load a checkpoint written by "
            "fit(checkpoint=...) (or a file saved with include_optimizer=True), or fit without resume"
        )
        raise ValueError(msg)
    same = optimizer == opt if isinstance(optimizer, Optimizer) else str(optimizer).strip().lower() == opt.name
    if not same:
        msg = (
            f"resume=True continues with the saved optimizer {opt!r}; pass optimizer={opt.name!r} "
            "or an equal optimizer object"
        )
        raise ValueError(msg)
    for key in ("batch_size", "l2", "shuffle", "n_train", "n_val", "early_stopping"):
        saved = state.settings.get(key)
        equal = _same_stopping(saved, settings[key]) if key == "early_stopping" else saved == settings[key]
        if not equal:
            msg = (
                f"resume=True must repeat the interrupted fit: its {key} was {saved!r}, "
                f"this call gives {settings[key]!r}"
            )
            raise ValueError(msg)
    done = state.epoch
    if state.history.stop_reason == "completed" and settings["epochs"] > done:
        msg = (
            f"the saved fit completed all its {done} epochs; resume=True continues an interrupted fit only: "
            "call fit without resume to train further"
        )
        raise ValueError(msg)
    if not state.history.stop_reason and settings["epochs"] < done:
        msg = f"epochs={settings['epochs']}, but the interrupted fit already ran {done} epochs"
        raise ValueError(msg)
    state.settings["epochs"] = settings["epochs"]
    return state, opt


def _copies(net: Model, params: Params) -> Params:
    """Copies of ``params`` to roll back to; the arrays themselves where the library never
    writes in place (``immutable`` in its backend spec: JAX)."""
    if getattr(net.backend.spec, "immutable", False):
        return dict(params)
    copy = fast_calls(net.xp).copy
    return {k: copy(a) for k, a in params.items()}


def _copy_state(net: Model, state: OptState) -> OptState:
    return {k: (_copies(net, v) if isinstance(v, dict) else v) for k, v in state.items()}


@dataclass(frozen=True)
class _SavedState:
    """What :func:`_copy_training` keeps of a training state to roll back to."""

    values: dict[str, Any]
    lengths: dict[str, int]
    stop_reason: str
    history: History


def _copy_training(state: TrainingState, previous: _SavedState | None = None) -> _SavedState:
    """The training state to roll back to. The History is kept by its lists' lengths
    (an epoch only appends to them), so a snapshot costs O(1), not O(epochs);
    best_weights is rebound, never written into, so it is shared. The settings are
    copied deeply, or shared with the ``previous`` snapshot's copy when they are equal
    (a held copy is never written into: a restore copies it again)."""
    values = {f.name: getattr(state, f.name) for f in _TRAINING_FIELDS}
    held = None if previous is None else previous.values["settings"]
    values["settings"] = held if held is not None and held == state.settings else copy.deepcopy(state.settings)
    lengths = {k: len(v) for k, v in vars(state.history).items() if isinstance(v, list)}
    return _SavedState(values, lengths, state.history.stop_reason, state.history)


_TRAINING_FIELDS = tuple(f for f in fields(TrainingState) if f.name != "history")


def _restore_training(state: TrainingState, saved: _SavedState) -> None:
    """Put ``state`` back as :func:`_copy_training` saw it."""
    for key, length in saved.lengths.items():
        del getattr(saved.history, key)[length:]
    saved.history.stop_reason = saved.stop_reason
    for name, value in saved.values.items():
        setattr(state, name, copy.deepcopy(value) if name == "settings" else value)
    state.history = saved.history


def _all_finite(xp: Namespace, arrays: list[Array]) -> Array:
    """0-d bool on the device: every entry of every array is finite (no read)."""
    return fast_calls(xp).all_finite(arrays)


_COMPILED: dict[tuple[int, Any], tuple[Any, Callable[..., Any]]] = {}


def _compiled_where_worth_it(net: Model, key: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a function of ``net.xp``'s arrays), compiled once per namespace and ``key``
    where every eager operation is a separate dispatch and the library has a compiler
    (``immutable`` in its backend spec: JAX); ``fn`` itself elsewhere. The epoch's
    bookkeeping then costs one dispatch instead of tens."""
    xp, spec = net.xp, net.backend.spec
    if not (getattr(spec, "immutable", False) and getattr(spec, "compile", None) is not None):
        return fn
    held = _COMPILED.get((id(xp), key))
    if held is None or held[0] is not xp:
        held = _COMPILED[(id(xp), key)] = (xp, net.backend.compile(fn))
    return held[1]


def _finite_check(net: Model) -> Callable[[list[Array]], Array]:
    """:func:`_all_finite` for ``net``'s namespace (compiled where that is worth it)."""
    xp = net.xp
    return _compiled_where_worth_it(net, "finite", lambda arrays: _all_finite(xp, arrays))


def _epoch_sums(net: Model, task: str, decided: bool = True) -> Callable[..., tuple[Array, Array]]:
    """``sums(costs, batch_weights, outputs, targets, order) -> (Σ_b w_b J_b, measures)``:
    the epoch's weighted cost sum and, from the batches' decisions (``decided``;
    otherwise their outputs A^[L], decided here at once: one argmax per epoch instead
    of one per batch) against the targets taken in ``order`` (None: as stored), the
    hit count. A classifier's ``targets`` are :attr:`Data.classes` (decided once per
    fit); a regression's are y (m, n^[L]), and its measures the vector of
    :func:`regression_sums` from the outputs. Compiled like :func:`_finite_check`."""
    xp = net.xp
    fast = fast_calls(xp)
    stack, total, take = fast.stack, fast.total, fast.take  # NumPy: one asarray of the 0-d costs, ufunc reduce

    def sums(
        costs: list[Array], weights: Array, outputs: list[Array], targets: Array, order: Array
    ) -> tuple[Array, Array]:
        cost_sum = total(stack(costs) * weights)
        if task == "regression":  # the sums of R², MAE and RMSE over the batches' outputs
            targets = targets if order is None else take(targets, order, 0)
            return cost_sum, regression_sums(xp.concat(outputs, axis=1), targets.T, xp=xp)
        if order is not None:  # the examples along the last axis
            targets = take(targets, order, targets.ndim - 1)
        if decided:
            return cost_sum, hits_against(outputs, targets, task=task, xp=xp, dtype=cost_sum.dtype)
        return cost_sum, output_hits(xp.concat(outputs, axis=1), targets, task=task, xp=xp, dtype=cost_sum.dtype)

    return _compiled_where_worth_it(net, ("epoch_sums", task, decided), sums)


def _epoch_vector(net: Model) -> Callable[[list[Array], list[Array], list[Array]], Array]:
    """``vector(head, arrays, tail)``: the 1-D concatenation of ``head`` = [cost, hits or
    None (a 0)], 1 if every entry of ``arrays`` is finite (else 0), and the entries of
    ``tail``, in the cost's dtype. Compiled like :func:`_finite_check`."""
    xp = net.xp

    cast = fast_calls(xp).cast

    def vector(head: list[Array], arrays: list[Array], tail: list[Array]) -> Array:
        cost, hits = head
        dtype = cost.dtype
        parts = [cost, xp.zeros_like(cost) if hits is None else hits, _all_finite(xp, arrays), *tail]
        return xp.concat([xp.reshape(v if v.dtype == dtype else cast(v, dtype), (-1,)) for v in parts])

    return _compiled_where_worth_it(net, "epoch_vector", vector)


def _bounded_outputs(net: Model, x_bound: float, arrays: list[Array]) -> bool:
    """Whether the network's outputs on inputs with max |x| ≤ ``x_bound`` are provably
    finite, from one device read of a few numbers: every parameter and optimizer array
    (``arrays``) is finite, and the bounds of :func:`_bounds_hold` hold.

    False when a bound is not met or an activation states none: the caller then runs
    the network on the data (an exact check), so this only ever saves work.
    """
    if not x_bound < math.inf:
        return False
    xp = net.xp
    cast = fast_calls(xp).cast

    def measures(params: list[Array], arrays: list[Array]) -> Array:
        """[all finite, then the norms of :func:`_weight_norms`], in W^[1]'s dtype."""
        dtype = params[0].dtype
        return xp.concat([xp.reshape(cast(_all_finite(xp, arrays), dtype), (1,)), _weight_norms(xp, params)])

    found = _compiled_where_worth_it(net, "bounds", measures)(net.parameters(), arrays)
    values = [float(v) for v in net.backend.to_numpy(found)]
    return values[0] == 1 and _bounds_hold(net, x_bound, values[1:])


def _weight_norms(xp: Namespace, params: list[Array]) -> Array:
    """[‖W^[l]‖_∞, max |b^[l]| for each layer l] as one 1-D array in W^[1]'s dtype
    (‖·‖_∞ the largest row sum of |W|): what :func:`_bounds_hold` reads."""
    fast = fast_calls(xp)
    sum_along, max_along = fast.reductions
    dtype = params[0].dtype
    parts = []
    for W, b in zip(params[0::2], params[1::2]):
        parts += [max_along(sum_along(xp.abs(W), 1), 0), max_along(xp.abs(b), 0)]
    return xp.concat([xp.reshape(v if v.dtype == dtype else fast.cast(v, dtype), (-1,)) for v in parts])


def _weight_norms_of(net: Model) -> Callable[[list[Array]], Array]:
    """:func:`_weight_norms` for ``net``'s namespace (compiled like :func:`_finite_check`)."""
    xp = net.xp
    return _compiled_where_worth_it(net, "norms", lambda params: _weight_norms(xp, params))


def _bounds_hold(net: Model, x_bound: float, norms: list[float]) -> bool:
    """Whether outputs on inputs with max |x| ≤ ``x_bound`` are provably finite, given the
    finite network's :func:`_weight_norms` (host floats): β_0 = ``x_bound``,
    |Z^[l]| ≤ ‖W^[l]‖_∞ β_{l-1} + max |b^[l]| and β_l = g^[l]'s
    :meth:`~ffnn.activations.Activation.output_bound` stay a safe distance (a quarter of
    the dtype's range, and a relative n^[l-1]·ε for the rounding of each sum) below
    overflow. False when one does not, or an activation states no bound."""
    info = np.finfo(str(net.dtype))
    limit, eps = float(info.max) / 4, float(info.eps)
    bound = x_bound
    for l, layer in enumerate(net.layers):
        w, b = norms[2 * l], norms[2 * l + 1]
        z = (w * bound + b) * (1 + 2 * layer.n_in * eps)
        if not z <= limit:  # also False for inf and NaN
            return False
        out = layer.activation.output_bound(z)
        if out is None or not out <= limit:
            return False
        bound = out
    return True


class DivergedError(ValueError, ArithmeticError):
    """A fit could not hand back a finite network: its parameters, optimizer state or
    predictions on the training inputs became NaN or infinite and no earlier epoch of
    the fit was safe. The network is left as it was before the fit."""


class Loop:
    """The epoch loop of one fit call.

    Parameters
    ----------
    net, opt, state, data
        The network, its optimizer (whose ``state`` holds the update state between
        epochs), the training state and the validated data.
    stopper, saver, hooks
        The stopping rule, checkpoint and callbacks.
    l2 : float
    sampler : callable (epoch, m) → permutation or None
        The per-epoch order of the rows (used when ``data.shuffle``).
    reduce_gradients : callable, optional
        The gradient hook of :func:`make_step`.
    metrics : callable (net, logs) → dict, optional
        Called after each finite epoch; its entries join the epoch's logs before the
        stopping rule reads them (e.g. "val_score", scikit-learn's validation score).

    Notes
    -----
    Optional optimizer hooks: ``opt.epoch_end(state, m) -> state`` after each
    recorded epoch of m rows (per-epoch schedules), and ``opt.on_plateau(state) ->
    bool`` when the stopping rule asks to stop: False continues (the rule's count of
    epochs without improvement restarts), e.g. a learning rate divided on a plateau.
    ``l2`` may be a :data:`~ffnn.training.step.Penalty` object.
    compile : bool, default False
        Use :func:`~ffnn.training.compiled_step` (the step compiled by the backend).
    """

    def __init__(
        self,
        net: Model,
        opt: Optimizer,
        state: TrainingState,
        data: Data,
        *,
        stopper: EarlyStopping | None,
        saver: Checkpoint | None,
        hooks: list[Callback],
        l2: float | Penalty,
        sampler: Sampler,
        reduce_gradients: GradientHook | None = None,
        parallel: EpochDriver | None = None,
        metrics: Callable[[Model, dict[str, float]], dict[str, float]] | None = None,
        compile: bool = False,
    ) -> None:
        self.net, self.opt, self.state, self.data = net, opt, state, data
        self.parallel = parallel  # distributed / read-by-rows fits: ffnn.training.parallel
        self.stopper, self.saver, self.hooks = stopper, saver, hooks
        self.sampler = sampler
        self.metrics = metrics
        self.task = net.task
        self._snapshot: tuple[Params, OptState, _SavedState] | None = None
        # the final parameters' norms, read with the last epoch (_last_read_proves), for verify
        self._final_norms: list[float] | None = None
        self._saved: _SavedState | None = None  # the training state of the latest snapshot
        self._batch_rows: Array = None  # the rows of each batch, as a device vector (made at the first epoch)
        self._sums: dict[bool, Callable[..., tuple[Array, Array]]] = {}  # _epoch_sums by `decided`, made once
        self.gathered = None  # the compiled step that also gathers the batch (compile=True)
        if compile:
            if not isinstance(l2, float):
                msg = "compile=True takes a number for l2 (the λ of D (4)), not a penalty object"
                raise TypeError(msg)
            self.step = compiled_step(net, opt, l2=l2, reduce_gradients=reduce_gradients)
            if self.task != "regression":  # a regression keeps the outputs for R², MAE, RMSE
                self.gathered = gathering_step(self.step, net, self.task)
        else:
            self.step = make_step(net, opt, l2=l2, reduce_gradients=reduce_gradients)
        # D (1)–(8): the keep probabilities by layer; masks drawn per epoch
        self.masks = EpochMasks(net.dropout, net.sizes, net.backend, net.dtype) if net.dropout else None
        xp = net.xp
        self.weights = (
            None
            if data.weights is None or parallel is not None  # ffnn.training.parallel reads its own weights
            else xp.reshape(net.backend.asarray(data.weights, dtype=data.x.dtype), (1, -1))
        )
        # what the epoch's outputs are compared with: a classifier's classes, decided once per fit
        self.targets = data.y
        if parallel is None and self.task != "regression":
            self.targets = data.classes if data.classes is not None else _classes(net, data.y, None)

    def run(self, epochs: int, verbose: bool) -> None:
        state = self.state
        self._final_norms = None
        self.check_start()
        for hook in self.hooks:
            hook.on_train_begin(self.net)
        bar = (
            tqdm(total=epochs, initial=state.epoch, desc="fit", unit="epoch", disable=None, ncols=80,
                 bar_format=BAR_FORMAT)
            if verbose else None
        )
        reason = ""
        start = self.snapshot()
        snapshot: tuple[Params, OptState, _SavedState] | None = start  # the first epoch's too: nothing changes between
        # Non-finite values are detected once per epoch and handled (stop reason
        # "diverged"), so NumPy's own floating-point warnings would only repeat it.
        with bar or contextlib.nullcontext(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while not reason and state.epoch < epochs:
                # One epoch is one transaction: everything it changes (parameters,
                # optimizer state, training state, checkpoint) is committed at its end;
                # an exception anywhere before (KeyboardInterrupt included) rolls the
                # network back to the last completed epoch, so resume=True is exact.
                self._snapshot = snapshot or self.snapshot()
                snapshot = None
                try:
                    logs = self.epoch(last=state.epoch + 1 >= epochs)
                    reason = "diverged" if logs is None else self.after_epoch(logs, epochs)
                    if reason:
                        self.finish(reason)
                    writes = self.parallel is None or self.parallel.writes  # rank 0 only
                    if logs is not None and writes and self.saver is not None and self.saver.due(state.history):
                        self.net.save(self.saver.target(state.epoch), overwrite=True)
                except BaseException:
                    self.rollback(self._snapshot)
                    raise
                if bar is not None:
                    bar.update(0 if logs is None else 1)
                    bar.set_postfix_str(reason if reason == "diverged" else _postfix(logs))
            if not reason:
                self.finish("completed")
            self.verify(start)
        for hook in self.hooks:
            hook.on_train_end(self.net, state.history)

    def check_start(self) -> None:
        """Refuse to train a network whose parameters or optimizer state are not finite
        (one device read per fit): training would only spread the NaN.

        Raises
        ------
        ValueError
            Naming the first non-finite array and the way out.
        """
        xp = self.net.xp
        arrays = self._arrays()
        if bool(self.net.backend.to_numpy(_all_finite(xp, arrays))):
            return
        flags = self.net.backend.to_numpy(xp.stack([xp.all(xp.isfinite(a)) for a in arrays]))
        names = list(self.net.named_parameters())
        slots = [(k, v) for k, v in (self.opt.state or {}).items() if isinstance(v, dict)]
        names += [f"optimizer state {slot}[{key!r}]" for slot, arrays_ in slots for key in arrays_]
        bad = names[int(np.argmin(flags))]
        msg = (
            f"cannot fit: {bad} holds NaN or infinite values. Set finite weights (set_weights), or fit "
            "without resume so the optimizer starts afresh"
        )
        raise ValueError(msg)

    def snapshot(self) -> tuple[Params, OptState, _SavedState]:
        """Copies of everything an epoch changes: parameters, optimizer state, training state."""
        net, opt = self.net, self.opt
        assert opt.state is not None
        saved = self._saved = _copy_training(self.state, self._saved)  # settings shared while equal
        return _copies(net, net.named_parameters()), _copy_state(net, opt.state), saved

    def rollback(self, snapshot: tuple[Params, OptState, _SavedState]) -> None:
        """Put the network, optimizer and training state back as ``snapshot`` holds them."""
        params, opt_state, saved = snapshot
        self.restore((params, opt_state))
        _restore_training(self.state, saved)

    def verify(self, start: tuple[Params, OptState, _SavedState]) -> None:
        """The fit's guarantee: parameters, optimizer state and the predictions on the
        training inputs are finite, or the network goes back to where the fit started
        and :class:`DivergedError` is raised. The bound proof of :func:`_bounds_hold`
        costs one device read per fit, or none when the last epoch's read carried its
        norms (:meth:`_last_read_proves`); where it cannot prove, the network runs on
        the training inputs."""
        net, xp = self.net, self.net.xp
        x = self.data.x
        rows = isinstance(x, RowSource)  # inputs read by rows: check them chunk by chunk as well
        if not rows:
            x_bound = self.data.x_bound if self.data.x_bound < math.inf else max_abs(x, net.backend)
            norms, self._final_norms = self._final_norms, None
            if norms is not None and _bounds_hold(net, x_bound, norms):
                return
            if norms is None and _bounded_outputs(net, x_bound, self._arrays()):
                return
        checks = [_all_finite(xp, self._arrays())]
        for begin in range(0, x.shape[0], PREDICT_BATCH_SIZE):
            stop = min(begin + PREDICT_BATCH_SIZE, x.shape[0])
            chunk = net.inputs(x.take(np.arange(begin, stop))) if rows else x[begin:stop, :]
            outputs = net.forward_columns(chunk.T)[0][-1]
            checks.append(xp.all(xp.isfinite(outputs)))
        if bool(net.backend.to_numpy(xp.all(xp.stack(checks)))):
            return
        reached = self.state.history.epochs
        self.rollback(start)
        msg = (
            f"training diverged: after {reached} epoch(s) the network's predictions on the training inputs "
            "are not finite (NaN or inf), and no earlier epoch of this fit is known to be safe; the network is "
            "back at its weights from before this fit. Lower the learning rate, standardize the inputs or "
            "targets, or use float64"
        )
        raise DivergedError(msg)

    def _last_read_proves(self, last: bool) -> bool:
        """Whether this epoch's read can carry the norms of :meth:`verify`'s bound proof:
        it is the fit's ``last`` epoch by count, and nothing that could change the
        parameters or the optimizer state runs between it and :meth:`verify` (no
        callbacks, no stopping rule with its best weights or plateaus, no per-epoch
        optimizer hook) on in-memory inputs of known bound. The proof then costs no
        read of its own; otherwise :meth:`verify` measures afresh."""
        return (
            last
            and not self.hooks
            and self.stopper is None
            and getattr(self.opt, "epoch_end", None) is None
            and self.data.x_bound < math.inf
            and not isinstance(self.data.x, RowSource)
        )

    def _arrays(self) -> list[Array]:
        """Parameters and every array of the optimizer state."""
        assert self.opt.state is not None
        slots = [v for v in self.opt.state.values() if isinstance(v, dict)]
        return list(self.net.parameters()) + [a for slot in slots for a in slot.values()]

    def epoch(self, last: bool = False) -> dict[str, float] | None:
        """Train one epoch; its metrics, or None when something became non-finite
        (the network and optimizer are then back at the start of the epoch). ``last``:
        the fit's last epoch by count (its read may carry :meth:`verify`'s norms)."""
        net, data = self.net, self.data
        snapshot = self._snapshot[:2] if self._snapshot is not None else self.snapshot()[:2]
        try:
            cost, hits, total_weight = self.train_batches()
        except BaseException:
            self.restore(snapshot)
            raise
        # [cost, hits (0 for a regression), 1 if the parameters and optimizer state (Adam's
        # v can overflow) are all finite, …]: one device function, one read per epoch
        head = [cost, hits if self.task != "regression" else None]
        fold = False
        if self.parallel is not None:  # per-rank shares, all-reduced: ffnn.training.parallel
            values = self.parallel.epoch_values(self, _epoch_vector(net)(head, self._arrays(), []))
        else:
            # for a regression, hits is the vector of regression_sums (R², MAE, RMSE), at the end
            tail = []
            if data.val_x is not None:
                val = totals(net, data.val_x, data.val_y, self.task, PREDICT_BATCH_SIZE, regression=True)
                tail += val[:2] if self.task != "regression" else [*val[:2], hits, *val[2:]]
            elif self.task == "regression":
                tail.append(hits)
            fold = self._last_read_proves(last)
            if fold:  # the norms that verify reads, with this read (see _last_read_proves)
                tail.append(_weight_norms_of(net)(net.parameters()))
            values = [float(v) for v in net.backend.to_numpy(_epoch_vector(net)(head, self._arrays(), tail))]
            if fold:
                values, norms = values[: -2 * len(net.layers)], values[-2 * len(net.layers) :]
        if not all(math.isfinite(v) for v in values) or values[2] != 1:
            self.restore(snapshot)
            return None
        if fold:
            self._final_norms = norms  # the epoch stands: these are the final parameters' norms
        m, classifier = data.x.shape[0], self.task != "regression"
        logs = {"epoch": self.state.epoch + 1, "train_cost": values[0] / total_weight}
        if classifier:
            logs["train_accuracy"] = values[1] / m
        if data.val_x is not None:
            logs["val_cost"] = values[3] / data.val_x.shape[0]
            if classifier:
                logs["val_accuracy"] = values[4] / data.val_x.shape[0]
        if not classifier and self.parallel is None:  # R², MAE, RMSE: one process only, for now
            width = 1 + 2 * int(data.y.shape[1])
            rest = values[3 if data.val_x is None else 5 :]
            logs.update({f"train_{k}": v for k, v in regression_metrics(rest[:width], m).items()})
            if data.val_x is not None:
                val_m = data.val_x.shape[0]
                logs.update({f"val_{k}": v for k, v in regression_metrics(rest[width:], val_m).items()})
        if self.metrics is not None:
            logs.update(self.metrics(net, logs))
        return logs

    def order(self) -> np.ndarray | None:
        """This epoch's host permutation of the rows, or None (in order)."""
        if not self.data.shuffle:
            return None
        order = self.sampler(self.state.epochs_trained, self.data.x.shape[0])
        return None if order is None else np.asarray(order)

    def train_batches(self) -> tuple[Array, Array, float]:
        """The mini-batch loop; returns the summed cost·(batch weight), the hits (on the
        device) and the total weight (a host float: m without sample weights).

        Per batch it only keeps the 0-d cost and the predicted labels; the sums and
        the comparison with the targets happen once per epoch, on the device.
        """
        if self.parallel is not None:
            return self.parallel.train_batches(self)
        net, opt, data, xp = self.net, self.opt, self.data, self.net.xp
        x, y, size = data.x, data.y, data.batch_size
        m = x.shape[0]
        host_order = self.order()
        order = None if host_order is None else net.backend.asarray(host_order)  # one copy per epoch
        if self.masks is not None:  # the epoch's dropout masks: one host draw, one copy
            self.masks.start_epoch(self.state.shuffle_seed, self.state.epochs_trained, m)
        rows_of = _device_rows(net.backend, host_order, m, size)
        costs: list[Array] = []
        outputs: list[Array] = []  # A^[L] per batch (decided once per epoch), or the compiled step's decisions
        count = self.task != "regression"
        take = fast_calls(xp).take  # NumPy: the array method, without numpy.take's Python frames
        step, gathered, weights, masks = self.step, self.gathered, self.weights, self.masks
        in_order = order is None and rows_of is None
        params, opt_state = net.named_parameters(), opt.state
        wb = None
        try:
            for start in range(0, m, size):
                stop = start + size if start + size < m else m  # array-api slices must stay in bounds
                if in_order:
                    xb, yb = x[start:stop, :], y[start:stop, :]
                    if weights is not None:
                        wb = weights[:, start:stop]
                else:
                    rows = rows_of[start] if rows_of is not None else order[start:stop]  # type: ignore[index]
                    if gathered is not None:  # compiled: gather, step and decisions in one call
                        params, opt_state, cost, decided = gathered(params, opt_state, x, y, rows, weights)
                        costs.append(cost)
                        if count:
                            outputs.append(decided)
                        continue
                    xb, yb = take(x, rows, 0), take(y, rows, 0)
                    if weights is not None:
                        wb = take(weights, rows, 1)
                if masks is None:
                    params, opt_state, cost, A = step(params, opt_state, xb.T, yb.T, wb)
                else:
                    batch_masks = masks.batch(start, stop, xp=xp)
                    params, opt_state, cost, A = step(params, opt_state, xb.T, yb.T, wb, batch_masks)
                costs.append(cost)
                outputs.append(A)
        finally:
            net.set_parameters(params)
            opt.state = opt_state
        if data.weights is None or data.mean_by_rows:  # the batches' row counts, the same every epoch
            if self._batch_rows is None:
                starts = np.arange(0, m, size)
                self._batch_rows = net.backend.asarray((np.minimum(starts + size, m) - starts).astype(net.dtype))
            batch_weights, total = self._batch_rows, float(m)
        else:
            ordered = data.weights if host_order is None else data.weights[host_order]
            batch_weights = net.backend.asarray(np.add.reduceat(ordered, np.arange(0, m, size)).astype(net.dtype))
            total = float(np.sum(ordered))
        decided = gathered is not None and not in_order
        sums = self._sums.get(decided)
        if sums is None:
            sums = self._sums[decided] = _epoch_sums(net, self.task, decided=decided)
        cost_sum, measures = sums(costs, batch_weights, outputs, self.targets, order)
        return cost_sum, measures, total

    def restore(self, snapshot: tuple[Params, OptState]) -> None:
        params, opt_state = snapshot
        self.net.set_weights(params)
        self.opt.state = opt_state

    def after_epoch(self, logs: dict[str, float], epochs: int) -> str:
        """Record the epoch, apply the stopping rule, call the callbacks; the stop reason or ""."""
        state, stopper = self.state, self.stopper
        state.history._record(logs)
        state.epoch += 1
        reason = ""
        epoch_end = getattr(self.opt, "epoch_end", None)
        if epoch_end is not None:
            self.opt.state = epoch_end(self.opt.state, int(self.data.x.shape[0]))
        if stopper is not None:
            check = stopper.observe(logs[stopper.monitor], state.best, state.wait)
            state.best, state.wait = check.best, check.wait
            if check.new_best:
                state.best_epoch = state.epoch
                if stopper.restore_best:
                    state.best_weights = list(_copies(self.net, self.net.named_parameters()).values())
            on_plateau = getattr(self.opt, "on_plateau", None)
            if check.stop and on_plateau is not None and not on_plateau(self.opt.state):
                state.wait = 0  # the optimizer took the plateau (e.g. a smaller learning rate)
            elif check.stop:
                reason = "early_stopping"
        stop = [hook.on_epoch_end(self.net, dict(logs)) for hook in self.hooks]
        if not reason and any(stop):
            reason = "callback"
        if not reason and state.epoch >= epochs:
            reason = "completed"
        return reason

    def finish(self, reason: str) -> None:
        """Record the reason and restore the best weights when the stopping rule asks for them."""
        state, net = self.state, self.net
        state.history.stop_reason = reason
        if state.best_weights is not None:
            state.best_weights = [np.array(net.backend.to_numpy(a)) for a in state.best_weights]
            if self.stopper is not None and self.stopper.restore_best:
                net.set_weights([np.array(w) for w in state.best_weights])


def _device_rows(backend: Any, host_order: np.ndarray | None, m: int, size: int) -> dict[int, Array] | None:
    """For libraries where slicing with Python numbers is a host-to-device transfer
    (JAX, ``scalar_arrays``): every batch's row indices, uploaded once per epoch by
    explicit transfers and keyed by the batch's first position; None for the others."""
    if not getattr(backend.spec, "scalar_arrays", False):
        return None
    rows = np.arange(m) if host_order is None else host_order
    full = m // size
    out: dict[int, Array] = {}
    if full:  # one transfer for the full batches, split on the device
        batches = backend.xp.unstack(backend.asarray(np.reshape(rows[: full * size], (full, size))), axis=0)
        out = {i * size: batch for i, batch in enumerate(batches)}
    if full * size < m:
        out[full * size] = backend.asarray(rows[full * size :])
    return out


def _postfix(logs: dict[str, float] | None) -> str:
    names = {
        "train_cost": "cost", "train_accuracy": "acc", "train_r2": "r2", "val_cost": "vcost",
        "val_accuracy": "vacc", "val_r2": "vr2",
    }
    return ", ".join(f"{short}={logs[key]:.4g}" for key, short in names.items() if logs and key in logs)


BAR_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} |{bar:6}|{postfix}"
"""The progress bar of fit(verbose=True): short enough for 80 columns with every metric."""

__all__ = [
    "BAR_FORMAT",
    "MONITORS",
    "Data",
    "DivergedError",
    "Loop",
    "check_monitors",
    "check_options",
    "new_state",
    "require_weighted_loss",
    "resumable",
    "settings_of",
    "training_data",
]
