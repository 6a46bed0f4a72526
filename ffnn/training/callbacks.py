"""Objects that watch a fit: the stopping rule (EarlyStopping), checkpoints and callbacks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import KW_ONLY, asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .._validation import Interval, Options, check_bool, positive_int

if TYPE_CHECKING:
    from ._model import Model
    from .history import History

__all__ = ["MONITORS", "SCORE_MONITOR", "Callback", "Checkpoint", "EarlyStopping", "StopCheck"]

MONITORS = ("val_cost", "train_cost", "val_accuracy", "train_accuracy")
"""The quantities a stopping rule or a best-only checkpoint can watch (the History's lists)."""

SCORE_MONITOR = "val_score"
"""What a stopping rule may also watch: a validation score, higher is better, that an
epoch metrics hook of :class:`~ffnn.training.Loop` adds to the logs (the scikit-learn
estimators' accuracy or R²); ``fit`` itself records none."""


def direction_of(monitor: str, mode: str = "auto") -> str:
    """ "min" or "max": ``mode``, or for "auto" "max" for accuracies and "min" for costs."""
    if mode != "auto":
        return mode
    return "max" if monitor.endswith(("accuracy", "score")) else "min"


class StopCheck(NamedTuple):
    """What :meth:`EarlyStopping.observe` decides after one epoch."""

    best: float
    wait: int
    new_best: bool
    stop: bool


@dataclass(frozen=True)
class EarlyStopping:
    """The stopping rule: stop when the monitored value has not improved for ``patience`` epochs.

    An epoch improves when its value beats the reference by more than ``min_delta``
    (below it for mode "min", above for "max"); the count of epochs without
    improvement restarts at each improvement, and training stops when it reaches
    ``patience``.

    Parameters
    ----------
    patience : int ≥ 1, default 5
    min_delta : float ≥ 0, default 0
    restore_best : bool, default True
        When training ends (for any reason), put back the weights of the best epoch.
    monitor : {"val_cost", "train_cost", "val_accuracy", "train_accuracy"}, default "val_cost"
        "val_*" needs ``validation_data`` or ``validation_split``; accuracies need a
        classifier. "val_score" (:data:`SCORE_MONITOR`) watches what a loop's metrics hook adds.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; "auto": higher for accuracies.
    reference : {"improvement", "best"}, default "improvement"
        What an epoch must beat by ``min_delta``: the value of the last epoch that
        improved (Keras' rule), or the best value seen, even one that improved by
        less than ``min_delta`` (scikit-learn's MLP, whose ``n_iter_no_change = n``
        is ``patience = n + 1``). The best epoch (for ``restore_best``) is the one
        with the best value in both cases.
    inclusive : bool, default False
        An improvement by exactly ``min_delta`` counts (scikit-learn's MLP: no
        improvement is loss > best − tol, or score < best + tol).

    Raises
    ------
    ValueError
        Non-positive patience, negative min_delta, unknown monitor, mode or reference.
    """

    _: KW_ONLY
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "val_cost"
    mode: str = "auto"
    reference: str = "improvement"
    inclusive: bool = False

    def __post_init__(self) -> None:
        positive_int(self.patience, "patience")
        Interval(0.0, None).check(self.min_delta, "min_delta")
        check_bool(self.restore_best, "restore_best")
        if self.monitor != SCORE_MONITOR:
            Options(*MONITORS).check(self.monitor, "monitor")
        Options("auto", "min", "max").check(self.mode, "mode")
        Options("improvement", "best").check(self.reference, "reference")
        check_bool(self.inclusive, "inclusive")

    @property
    def direction(self) -> str:
        """ "min" or "max"."""
        return direction_of(self.monitor, self.mode)

    def observe(self, value: float, best: float | None, wait: int) -> StopCheck:
        """The rule after one epoch whose monitored value is ``value``, given the
        reference ``best`` (None before the first epoch) and the epochs ``wait``
        already without improvement."""
        sign = 1.0 if self.direction == "min" else -1.0
        if best is None:
            return StopCheck(value, 0, True, False)
        target = sign * best - self.min_delta
        improved = sign * value <= target if self.inclusive else sign * value < target
        new_best = improved if self.reference == "improvement" else sign * value < sign * best
        wait = 0 if improved else wait + 1
        return StopCheck(value if new_best else best, wait, new_best, wait >= self.patience)

    def get_config(self) -> dict[str, Any]:
        """The settings as a dict (recorded with the training state); ``inclusive`` only
        when True (files written before it existed read the same)."""
        config = asdict(self)
        if not self.inclusive:
            del config["inclusive"]
        return config


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
        Save instead after each epoch whose monitored value is the best so far.
    monitor : str, default "val_cost"
        Used with ``best_only`` (one of :data:`MONITORS`; higher is better for accuracies).

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
        positive_int(self.every, "every", " (save after every N epochs)")
        Options(*MONITORS).check(self.monitor, "monitor")

    def due(self, history: History) -> bool:
        """Whether the epoch just recorded in ``history`` is to be saved."""
        if not self.best_only:
            return history.epochs % self.every == 0
        values = getattr(history, self.monitor)
        sign = 1.0 if direction_of(self.monitor) == "min" else -1.0
        return all(sign * values[-1] < sign * earlier for earlier in values[:-1])

    def target(self, epoch: int) -> str:
        """The file to write after ``epoch`` epochs."""
        return os.fspath(self.path).replace("{epoch}", str(epoch))


class Callback:
    """Base class of objects told about the progress of :meth:`Network.fit`.

    Override any of the hooks. ``fit`` also takes plain functions ``f(logs)``,
    called like :meth:`on_epoch_end`.
    """

    def on_train_begin(self, net: Model) -> None:
        """Before the first epoch (of this call)."""

    def on_epoch_end(self, net: Model, logs: dict[str, float]) -> bool | None:
        """After each epoch. ``logs`` holds "epoch" (epochs done), "train_cost" and,
        where they apply, "val_cost", "train_accuracy", "val_accuracy". Return True
        to stop training (stop reason "callback")."""
        return None

    def on_train_end(self, net: Model, history: History) -> None:
        """After training ended (the best weights already restored if asked)."""


class FunctionCallback(Callback):
    """A plain function ``f(logs)`` as a callback (its truth stops training)."""

    def __init__(self, function: Callable[[dict[str, float]], Any]) -> None:
        self.function = function

    def on_epoch_end(self, net: Model, logs: dict[str, float]) -> bool | None:
        return bool(self.function(logs))
