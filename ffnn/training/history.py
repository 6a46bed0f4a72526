"""What a fit produced (History) and where it stands (TrainingState, saved to resume)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._types import Array

__all__ = ["REGRESSION", "History", "TrainingState"]

REGRESSION = ("train_r2", "train_mae", "train_rmse", "val_r2", "val_mae", "val_rmse")
"""The History lists of a regression (saved only when not empty)."""


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
    train_r2, train_mae, train_rmse, val_r2, val_mae, val_rmse : list of float
        Regression only: R², mean absolute error and root mean squared error in the
        targets' units (:func:`ffnn.metrics.regression_report`); the train ones from
        each batch's outputs before its update, as ``train_cost``.
    val_score : list of float
        A validation score recorded by a metrics hook (scikit-learn's estimators:
        accuracy or R²); usually empty.
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
        self.train_r2: list[float] = []
        self.train_mae: list[float] = []
        self.train_rmse: list[float] = []
        self.val_r2: list[float] = []
        self.val_mae: list[float] = []
        self.val_rmse: list[float] = []
        self.val_score: list[float] = []
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
            **{key: list(getattr(self, key)) for key in REGRESSION if getattr(self, key)},
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`as_dict`."""
        history = cls()
        for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy", *REGRESSION):
            setattr(history, key, [float(v) for v in data.get(key, [])])
        history.stop_reason = str(data.get("stop_reason", ""))
        return history

    def _record(self, logs: dict[str, float]) -> None:
        for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy", "val_score", *REGRESSION):
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
    best_weights: list[Array] | None = field(default=None, repr=False)
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
    def from_dict(cls, data: dict[str, Any], best_weights: list[Array] | None = None) -> TrainingState:
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
