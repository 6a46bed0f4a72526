"""Training: one optimizer step, the mini-batch fit loop, early stopping, checkpoints, history and evaluation."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from ._validation import as_inputs, as_targets
from .metrics import correct_count, hits_of, labels_from_outputs, predicted_columns
from .network import PREDICT_BATCH_SIZE, _positive
from .optimizers import Optimizer, get_optimizer

if TYPE_CHECKING:
    from .network import Network

__all__ = [
    "PREDICT_BATCH_SIZE",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "TrainingState",
    "evaluate",
    "fit",
    "predict_classes",
    "predict_proba",
    "shuffle_order",
    "train_step",
]

MONITORS = ("val_cost", "train_cost")
_SHUFFLE_STREAM = 1


# ---------------------------------------------------------------------- one step
def train_step(net: Network, optimizer: Optimizer, X_cols: Any, Y_cols: Any, /, *, l2: float = 0.0) -> Any:
    """One full training step on a mini-batch: forward P1 (5)/(6), cost P1 (9),
    backward P1 (15)/(16)/(22), L2 penalty, optimizer update.

    Parameters
    ----------
    net : Network
    optimizer : Optimizer
        Its state is allocated on the first step.
    X_cols : array of the backend, shape (n^[0], m)
        Inputs in the seeds' column layout (``X.T`` of a rows batch), on the
        network's device and dtype.
    Y_cols : array of the backend, shape (n^[L], m)
        Targets in column layout (one-hot for categorical cross-entropy).
    l2 : float, default 0
        λ of the L2 penalty: J + (λ/2m) Σ_l ‖W^[l]‖² and dW^[l] + (λ/m) W^[l]
        (biases are not penalised). λ = 0 adds no work.

    Returns
    -------
    0-d array of the backend
        The batch cost J before the update (penalty included); reading it is the
        caller's choice (no host synchronisation happens here).

    Notes
    -----
    No validation happens here: this is the hot path. :meth:`Network.fit` checks
    the data once per fit.
    """
    return _step(net, optimizer, X_cols, Y_cols, l2)[0]


def _step(net: Network, optimizer: Optimizer, X_cols: Any, Y_cols: Any, l2: float) -> tuple[Any, Any]:
    """:func:`train_step` returning (cost, A^[L]) so that fit can count hits."""
    cache, Z_L = net.forward_columns(X_cols)
    cost = net.cost_columns(cache, Z_L, Y_cols)
    grads = net.backward_columns(cache, Y_cols, release_cache=True)  # hidden A^[l] freed as used
    if l2:
        cost = cost + _apply_l2(net, grads, l2, X_cols.shape[1])
    optimizer.step(net, grads)
    return cost, cache[-1]


def _apply_l2(net: Network, grads: list[tuple[Any, Any]], l2: float, m: int) -> Any:
    """Add (λ/m) W to each dW (in place where possible) and return (λ/2m) Σ ‖W‖²."""
    xp = net.xp
    squares = 0
    for l, (layer, (dW, db)) in enumerate(zip(net.layers, grads)):
        squares = squares + xp.sum(layer.W * layer.W)
        dW += (l2 / m) * layer.W
        grads[l] = (dW, db)
    return squares * (l2 / (2 * m))


# ---------------------------------------------------------------------- configuration objects
@dataclass(frozen=True)
class EarlyStopping:
    """Stop when the monitored cost has not improved for ``patience`` epochs.

    An epoch improves when its cost is below the best so far minus ``min_delta``.

    Parameters
    ----------
    patience : int ≥ 1, default 5
    min_delta : float ≥ 0, default 0
    restore_best : bool, default True
        When training ends (for any reason), put back the weights of the best epoch.
    monitor : {"val_cost", "train_cost"}, default "val_cost"
        "val_cost" needs ``validation_data`` or ``validation_split``.

    Raises
    ------
    ValueError
        Non-positive patience, negative min_delta, unknown monitor.
    """

    _: KW_ONLY
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "val_cost"

    def __post_init__(self) -> None:
        _check_watcher(self, "patience")
        if isinstance(self.min_delta, bool) or not isinstance(self.min_delta, (int, float)) or not self.min_delta >= 0:
            msg = f"min_delta must be a non-negative number, got {self.min_delta!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Checkpoint:
    """Save the network during fit, with the writer of :meth:`Network.save`
    (parameters, optimizer state, the training state needed to resume, and
    :attr:`Network.metadata`).

    Parameters
    ----------
    path : str or PathLike
        Target file, replaced atomically at each save; ``{epoch}`` in it is replaced
        by the number of epochs done in this fit (one file per save).
    every : int ≥ 1, default 1
        Save after every ``every``-th epoch.
    best_only : bool, default False
        Save instead after each epoch whose monitored cost is the lowest so far.
    monitor : {"val_cost", "train_cost"}, default "val_cost"
        Used with ``best_only``.

    Raises
    ------
    ValueError
        Non-positive ``every``, unknown monitor.
    """

    path: str | os.PathLike[str]
    _: KW_ONLY
    every: int = 1
    best_only: bool = False
    monitor: str = "val_cost"

    def __post_init__(self) -> None:
        _check_watcher(self, "every", " (save after every N epochs)")

    def due(self, history: History) -> bool:
        """Whether the epoch just recorded in ``history`` is to be saved."""
        if not self.best_only:
            return history.epochs % self.every == 0
        values = getattr(history, self.monitor)
        return all(values[-1] < earlier for earlier in values[:-1])

    def target(self, epoch: int) -> str:
        """The file to write after ``epoch`` epochs."""
        return os.fspath(self.path).replace("{epoch}", str(epoch))


def _check_watcher(option: EarlyStopping | Checkpoint, count: str, meaning: str = "") -> None:
    """Check the positive-integer field ``count`` and the ``monitor`` of early stopping or a checkpoint."""
    value = getattr(option, count)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{count} must be a positive integer{meaning}, got {value!r}"
        raise ValueError(msg)
    if option.monitor not in MONITORS:
        msg = f"monitor must be one of {', '.join(MONITORS)}, got {option.monitor!r}"
        raise ValueError(msg)


class Callback:
    """Base class of objects told about the progress of :meth:`Network.fit`.

    Override any of the hooks. ``fit`` also takes plain functions ``f(logs)``,
    called like :meth:`on_epoch_end`.
    """

    def on_train_begin(self, net: Network) -> None:
        """Before the first epoch (of this call)."""

    def on_epoch_end(self, net: Network, logs: dict[str, float]) -> bool | None:
        """After each epoch. ``logs`` holds "epoch" (epochs done), "train_cost" and,
        where they apply, "val_cost", "train_accuracy", "val_accuracy". Return True
        to stop training (stop reason "callback")."""
        return None

    def on_train_end(self, net: Network, history: History) -> None:
        """After training ended (the best weights already restored if asked)."""


class _FunctionCallback(Callback):
    def __init__(self, function: Callable[[dict[str, float]], Any]) -> None:
        self.function = function

    def on_epoch_end(self, net: Network, logs: dict[str, float]) -> bool | None:
        return bool(self.function(logs))


# ---------------------------------------------------------------------- history and state
class History:
    """What happened in :meth:`Network.fit`, one entry per epoch, as Python floats.

    Attributes
    ----------
    train_cost : list of float
        Mean cost over the epoch's mini-batches (weighted by batch size), each taken
        before its update, L2 penalty included.
    val_cost : list of float
        Cost on the validation data after the epoch (no penalty); empty without it.
    train_accuracy, val_accuracy : list of float
        Fraction classified correctly (see :func:`ffnn.metrics.correct_count`);
        empty for regression (and val_accuracy without validation data).
    stop_reason : str
        "completed" (all epochs ran), "early_stopping", "diverged" (a non-finite
        cost or weight; the weights were restored to the last finite epoch),
        "callback"; "" while training runs.
    """

    def __init__(self) -> None:
        self.train_cost: list[float] = []
        self.val_cost: list[float] = []
        self.train_accuracy: list[float] = []
        self.val_accuracy: list[float] = []
        self.stop_reason = ""

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self.train_cost)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (epochs, the four lists, stop_reason)."""
        return {
            "epochs": self.epochs,
            "train_cost": list(self.train_cost),
            "val_cost": list(self.val_cost),
            "train_accuracy": list(self.train_accuracy),
            "val_accuracy": list(self.val_accuracy),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`as_dict`."""
        history = cls()
        for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy"):
            setattr(history, key, [float(v) for v in data.get(key, [])])
        history.stop_reason = str(data.get("stop_reason", ""))
        return history

    def _record(self, logs: dict[str, float]) -> None:
        for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy"):
            if key in logs:
                getattr(self, key).append(logs[key])

    def __repr__(self) -> str:
        last = f", train_cost={self.train_cost[-1]:.6g}" if self.train_cost else ""
        return f"History(epochs={self.epochs}{last}, stop_reason={self.stop_reason!r})"


@dataclass
class TrainingState:
    """Everything a fit needs to continue exactly where it stopped (saved in
    checkpoints; see ``fit(..., resume=True)``).

    Attributes
    ----------
    epoch : int
        Epochs completed in this fit.
    shuffle_seed : int
        Seed of the per-epoch permutations (:func:`shuffle_order`).
    history : History
    settings : dict
        The fit's batch_size, l2, shuffle, epochs, data sizes and early stopping.
    best, best_epoch, wait
        Early-stopping bookkeeping: best monitored cost, its epoch, epochs since.
    best_weights : list of arrays or None
        Parameters of the best epoch (when early stopping restores them).
    previous_epochs : int
        Epochs the network trained in its earlier fits (0 in its first): epoch
        ``e`` of this fit is shuffled by ``shuffle_order(shuffle_seed,
        previous_epochs + e, m)``, so that a new fit draws new permutations.
    """

    epoch: int
    shuffle_seed: int
    history: History
    settings: dict[str, Any]
    best: float | None = None
    best_epoch: int = 0
    wait: int = 0
    best_weights: list[Any] | None = field(default=None, repr=False)
    previous_epochs: int = 0

    @property
    def epochs_trained(self) -> int:
        """Epochs trained in all of the network's fits up to now (earlier fits and this one)."""
        return self.previous_epochs + self.epoch

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``best_weights`` excluded: arrays are stored apart)."""
        return {
            "epoch": self.epoch,
            "shuffle_seed": self.shuffle_seed,
            "history": self.history.as_dict(),
            "settings": self.settings,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "previous_epochs": self.previous_epochs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], best_weights: list[Any] | None = None) -> TrainingState:
        """Rebuild the state from :meth:`as_dict` and the saved best weights."""
        return cls(
            epoch=int(data["epoch"]),
            shuffle_seed=int(data["shuffle_seed"]),
            history=History.from_dict(data["history"]),
            settings=dict(data["settings"]),
            best=None if data.get("best") is None else float(data["best"]),
            best_epoch=int(data.get("best_epoch", 0)),
            wait=int(data.get("wait", 0)),
            best_weights=best_weights,
            previous_epochs=int(data.get("previous_epochs", 0)),
        )


def shuffle_order(seed: int, epoch: int, m: int) -> np.ndarray:
    """The permutation of the m training examples used in ``epoch`` (0-based, counted
    over all of a network's fits: :attr:`TrainingState.epochs_trained`).

    Drawn on the host from ``SeedSequence(seed, spawn_key=(1, epoch))``, so it
    depends only on (seed, epoch): the same on every backend, and the same for a
    resumed fit as for an uninterrupted one.
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(_SHUFFLE_STREAM, epoch))
    return np.random.default_rng(sequence).permutation(m)


# ---------------------------------------------------------------------- fit
@dataclass
class _Data:
    x: Any
    y: Any
    val_x: Any
    val_y: Any
    batch_size: int
    shuffle: bool


def fit(
    net: Network,
    X: Any,
    y: Any,
    /,
    *,
    epochs: int = 10,
    batch_size: int | None = 32,
    optimizer: str | Optimizer = "adam",
    l2: float = 0.0,
    shuffle: bool = True,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    early_stopping: EarlyStopping | int | None = None,
    callbacks: Sequence[Callback | Callable[[dict[str, float]], Any]] = (),
    checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
    verbose: bool = False,
    resume: bool = False,
) -> History:
    """Train ``net`` by mini-batch gradient descent; see :meth:`Network.fit`."""
    epochs = _positive(epochs, "epochs")
    l2 = _l2(l2)
    stopper = EarlyStopping(patience=early_stopping) if isinstance(early_stopping, int) else early_stopping
    saver = Checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    _check_options(stopper, saver, callbacks)
    hooks = [c if isinstance(c, Callback) else _FunctionCallback(c) for c in callbacks]
    data = _training_data(net, X, y, validation_data, validation_split, batch_size, shuffle)
    for monitor in {stopper.monitor if stopper else "", saver.monitor if saver and saver.best_only else ""}:
        if monitor == "val_cost" and data.val_x is None:
            msg = (
                "early stopping / best-only checkpoints monitor 'val_cost' but no validation data was given: "
                "pass validation_data=(X_val, y_val) or validation_split=0.2, or set monitor='train_cost'"
            )
            raise ValueError(msg)
    settings = {
        "epochs": epochs,
        "batch_size": data.batch_size,
        "l2": l2,
        "shuffle": data.shuffle,
        "n_train": int(data.x.shape[0]),
        "n_val": 0 if data.val_x is None else int(data.val_x.shape[0]),
        "early_stopping": None if stopper is None else asdict(stopper),
    }
    if resume:
        state, opt = _resumable(net, optimizer, settings)
        if state.history.stop_reason:
            return state.history
    else:
        opt = get_optimizer(optimizer)
        state = _new_state(net.training_state, net.seed, settings)
    opt.bind(net)
    net.optimizer = opt
    net.training_state = state
    _Loop(net, opt, state, data, stopper, saver, hooks, l2).run(epochs, verbose)
    return state.history


def _l2(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        msg = f"l2 must be a non-negative finite number (the λ of (λ/2m) Σ ‖W‖²), got {value!r}"
        raise ValueError(msg)
    return float(value)


def _check_options(stopper: Any, saver: Any, callbacks: Any) -> None:
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


def _training_data(
    net: Network, X: Any, y: Any, validation_data: Any, validation_split: Any, batch_size: Any, shuffle: bool
) -> _Data:
    """Validate the data and move it to the device, once per fit."""
    x = net.inputs(X)
    t = net.targets(y, x.shape[0])
    val_x = val_y = None
    if validation_data is not None and validation_split:
        msg = "pass either validation_data or validation_split, not both"
        raise ValueError(msg)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            msg = f"validation_data must be a pair (X_val, y_val), got {type(validation_data).__name__}"
            raise TypeError(msg)
        val_x = as_inputs(validation_data[0], net.backend, net.dtype, net.n_in, name="X_val")
        val_y = as_targets(
            validation_data[1], net.backend, net.dtype, net.loss.name, net.n_out, val_x.shape[0], name="y_val"
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
    m = x.shape[0]
    size = m if batch_size is None else min(_positive(batch_size, "batch_size"), m)
    return _Data(x, t, val_x, val_y, size, bool(shuffle) and size < m)  # one batch: order is moot


def _new_state(last: TrainingState | None, seed: int | None, settings: dict[str, Any]) -> TrainingState:
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


def _resumable(net: Network, optimizer: Any, settings: dict[str, Any]) -> tuple[TrainingState, Optimizer]:
    """The saved state and optimizer, after checking that this call repeats the interrupted one."""
    state, opt = net.training_state, net.optimizer
    if state is None or opt is None:
        missing = "training state" if state is None else "optimizer state"
        msg = (
            f"resume=True, but this network has no {missing}: load a checkpoint written by "
            "fit(checkpoint=...) (or a file saved with include_optimizer=True), or fit without resume"
        )
        raise ValueError(msg)
    other = optimizer is not opt if isinstance(optimizer, Optimizer) else str(optimizer).strip().lower() != opt.name
    if other:
        msg = f"resume=True continues with the saved optimizer {opt!r}; pass optimizer={opt.name!r} (or that object)"
        raise ValueError(msg)
    for key in ("batch_size", "l2", "shuffle", "n_train", "n_val", "early_stopping"):
        if state.settings.get(key) != settings[key]:
            msg = (
                f"resume=True must repeat the interrupted fit: its {key} was {state.settings.get(key)!r}, "
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


def _copies(xp: Any, arrays: Sequence[Any]) -> list[Any]:
    return [xp.asarray(a, copy=True) for a in arrays]


class _Loop:
    """The epoch loop of one fit call."""

    def __init__(
        self,
        net: Network,
        opt: Optimizer,
        state: TrainingState,
        data: _Data,
        stopper: EarlyStopping | None,
        saver: Checkpoint | None,
        hooks: list[Callback],
        l2: float,
    ) -> None:
        self.net, self.opt, self.state, self.data = net, opt, state, data
        self.stopper, self.saver, self.hooks, self.l2 = stopper, saver, hooks, l2
        self.task = net.task

    def run(self, epochs: int, verbose: bool) -> None:
        from .serialization import save  # serialization imports this module

        state = self.state
        for hook in self.hooks:
            hook.on_train_begin(self.net)
        bar = tqdm(total=epochs, initial=state.epoch, desc="fit", unit="epoch", disable=None if verbose else True)
        reason = ""
        # Non-finite values are detected once per epoch and handled (stop reason
        # "diverged"), so NumPy's own floating-point warnings would only repeat it.
        with bar, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while not reason and state.epoch < epochs:
                logs = self._epoch()
                reason = "diverged" if logs is None else self._after_epoch(logs, epochs)
                if reason:
                    self._finish(reason)
                if logs is not None and self.saver is not None and self.saver.due(state.history):
                    save(self.net, self.saver.target(state.epoch), overwrite=True)
                bar.update(0 if logs is None else 1)
                bar.set_postfix_str(reason if reason == "diverged" else _postfix(logs))
            if not reason:
                self._finish("completed")
        for hook in self.hooks:
            hook.on_train_end(self.net, state.history)

    def _epoch(self) -> dict[str, float] | None:
        """Train one epoch; its metrics, or None when something became non-finite
        (the network and optimizer are then back at the start of the epoch)."""
        net, opt, data, xp = self.net, self.opt, self.data, self.net.xp
        slots = {name: _copies(xp, arrays) for name, arrays in (opt.slots or {}).items()}
        snapshot = (_copies(xp, net.parameters()), slots, opt.iterations)
        try:
            cost, hits = self._train_batches()
        except BaseException:
            self._restore(snapshot)
            raise
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in net.parameters()]))
        parts = [cost, hits, xp.astype(finite, cost.dtype)]
        if data.val_x is not None:
            parts += _totals(net, data.val_x, data.val_y, self.task, PREDICT_BATCH_SIZE)
        values = [float(v) for v in net.backend.to_numpy(xp.stack(parts))]
        if not all(math.isfinite(v) for v in values) or values[2] != 1:
            self._restore(snapshot)
            return None
        m, classifier = data.x.shape[0], self.task != "regression"
        logs = {"epoch": self.state.epoch + 1, "train_cost": values[0] / m}
        if classifier:
            logs["train_accuracy"] = values[1] / m
        if data.val_x is not None:
            logs["val_cost"] = values[3] / data.val_x.shape[0]
            if classifier:
                logs["val_accuracy"] = values[4] / data.val_x.shape[0]
        return logs

    def _train_batches(self) -> tuple[Any, Any]:
        """The mini-batch loop; returns the summed cost·m_batch and hits, on the device.

        Per batch it only keeps the 0-d cost and the predicted labels; the sums and
        the comparison with the targets happen once per epoch, on the device.
        """
        net, opt, data, xp, l2 = self.net, self.opt, self.data, self.net.xp, self.l2
        x, y, size = data.x, data.y, data.batch_size
        m = x.shape[0]
        order = None
        if data.shuffle:  # one host-to-device copy of the permutation per epoch
            order = net.backend.asarray(shuffle_order(self.state.shuffle_seed, self.state.epochs_trained, m))
        costs, predictions = [], []
        count = self.task != "regression"
        for start in range(0, m, size):
            stop = min(start + size, m)  # array-api slices must stay in bounds
            if order is None:
                xb, yb = x[start:stop, :], y[start:stop, :]
            else:
                rows = order[start:stop]
                xb, yb = xp.take(x, rows, axis=0), xp.take(y, rows, axis=0)
            cost, A = _step(net, opt, xb.T, yb.T, l2)
            costs.append(cost)
            if count:
                predictions.append(predicted_columns(A, task=self.task, xp=xp))
        sizes = np.full(len(costs), size, dtype=net.dtype)
        sizes[-1] = m - size * (len(costs) - 1)
        cost_sum = xp.sum(xp.stack(costs) * net.backend.asarray(sizes))
        if not count:
            return cost_sum, xp.zeros((), dtype=x.dtype, device=x.device)
        targets = y if order is None else xp.take(y, order, axis=0)
        return cost_sum, hits_of(predictions, targets.T, task=self.task, xp=xp)

    def _restore(self, snapshot: tuple[list[Any], dict[str, list[Any]], int]) -> None:
        params, slots, iterations = snapshot
        self.net.set_weights(params)
        self.opt.slots = slots
        self.opt.iterations = iterations

    def _after_epoch(self, logs: dict[str, float], epochs: int) -> str:
        """Record the epoch, update early stopping, call the callbacks; the stop reason or ""."""
        state, stopper = self.state, self.stopper
        state.history._record(logs)
        state.epoch += 1
        reason = ""
        if stopper is not None:
            value = logs[stopper.monitor]
            if state.best is None or value < state.best - stopper.min_delta:
                state.best, state.best_epoch, state.wait = value, state.epoch, 0
                if stopper.restore_best:
                    state.best_weights = _copies(self.net.xp, self.net.parameters())
            else:
                state.wait += 1
                if state.wait >= stopper.patience:
                    reason = "early_stopping"
        stop = [hook.on_epoch_end(self.net, dict(logs)) for hook in self.hooks]
        if not reason and any(stop):
            reason = "callback"
        if not reason and state.epoch >= epochs:
            reason = "completed"
        return reason

    def _finish(self, reason: str) -> None:
        """Record the reason and restore the best weights when early stopping asks for them."""
        state, net = self.state, self.net
        state.history.stop_reason = reason
        if state.best_weights is not None:
            state.best_weights = [np.array(net.backend.to_numpy(a)) for a in state.best_weights]
            if self.stopper is not None and self.stopper.restore_best:
                net.set_weights([np.array(w) for w in state.best_weights])


def _postfix(logs: dict[str, float] | None) -> str:
    names = {"train_cost": "cost", "train_accuracy": "acc", "val_cost": "val_cost", "val_accuracy": "val_acc"}
    return ", ".join(f"{short}={logs[key]:.4g}" for key, short in names.items() if logs and key in logs)


# ---------------------------------------------------------------------- evaluation and prediction
def _totals(net: Network, x: Any, y: Any, task: str, batch_size: int) -> list[Any]:
    """[Σ cost·m_batch, Σ hits] over batches of rows, as 0-d arrays on the device."""
    xp = net.xp
    cost_sum = xp.zeros((), dtype=x.dtype, device=x.device)
    hits = xp.zeros((), dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        stop = min(start + batch_size, x.shape[0])  # array-api slices must stay in bounds
        xc, yc = x[start:stop, :].T, y[start:stop, :].T
        cache, Z_L = net.forward_columns(xc)
        cost_sum += net.cost_columns(cache, Z_L, yc) * xc.shape[1]
        if task != "regression":
            hits += correct_count(cache[-1], yc, task=task, xp=xp)
    return [cost_sum, hits]


def _batch(batch_size: int | None) -> int:
    return PREDICT_BATCH_SIZE if batch_size is None else _positive(batch_size, "batch_size")


def evaluate(net: Network, X: Any, y: Any, /, *, batch_size: int | None = None) -> dict[str, float | None]:
    """Cost and accuracy of ``net`` on (X, y); see :meth:`Network.evaluate`."""
    x = net.inputs(X)
    t = net.targets(y, x.shape[0])
    task = net.task
    totals = _totals(net, x, t, task, _batch(batch_size))
    cost, hits = (float(v) for v in net.backend.to_numpy(net.xp.stack(totals)))
    m = x.shape[0]
    return {"cost": cost / m, "accuracy": None if task == "regression" else hits / m}


def _classifier_task(net: Network, method: str) -> str:
    task = net.task
    if task == "regression":
        msg = (
            f"{method} needs a classifier (loss binary_crossentropy or categorical_crossentropy); "
            f"this network's loss is {net.loss.name}: use predict"
        )
        raise ValueError(msg)
    return task


def predict_proba(net: Network, X: Any, /, *, batch_size: int | None = None) -> Any:
    """Class probabilities of a classifier; see :meth:`Network.predict_proba`."""
    _classifier_task(net, "predict_proba")
    return net.predict(X, batch_size=_batch(batch_size))


def predict_classes(net: Network, X: Any, /, *, batch_size: int | None = None) -> np.ndarray:
    """Class labels of a classifier as a NumPy array; see :meth:`Network.predict_classes`."""
    task = _classifier_task(net, "predict_classes")
    labels = labels_from_outputs(net.predict(X, batch_size=_batch(batch_size)), task=task, xp=net.xp)
    return np.array(net.backend.to_numpy(labels))  # a writable copy on every backend (JAX's view is read-only)
