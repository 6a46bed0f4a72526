"""MLP's stopping rule: no improvement by ``tol`` for more than ``n_iter_no_change`` epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["MLPStopping"]


@dataclass
class MLPStopping:
    """The per-epoch bookkeeping of MLPClassifier's ``tol`` / ``n_iter_no_change``.

    Without early stopping it watches the training loss: an epoch counts as no
    improvement when loss > best_loss − tol. With early stopping it watches the
    validation score: no improvement when score < best_score + tol, and a score
    above the best asks the caller to keep the weights. ``n_iter_no_change`` may be
    ``math.inf`` (never stop on a plateau).

    Attributes
    ----------
    best_loss : float or None
        Lowest training loss (None with early stopping).
    best_score : float or None
        Best validation score (None without early stopping).
    scores : list of float or None
        Validation score of each epoch (None without early stopping).
    count : int
        Consecutive epochs without improvement.
    """

    tol: float
    n_iter_no_change: float
    early_stopping: bool
    best_loss: float | None = None
    best_score: float | None = None
    scores: list[float] | None = None
    count: int = 0
    _new_best: bool = field(default=False, repr=False)

    @classmethod
    def fresh(cls, tol: float, n_iter_no_change: float, early_stopping: bool) -> MLPStopping:
        if early_stopping:
            return cls(tol, n_iter_no_change, True, best_loss=None, best_score=-math.inf, scores=[])
        return cls(tol, n_iter_no_change, False, best_loss=math.inf, best_score=None, scores=None)

    def update(self, loss: float, score: float | None = None) -> bool:
        """Record an epoch (its training loss, and validation score with early stopping).

        Returns
        -------
        bool
            True when the validation score is a new best (keep these weights).
        """
        if not self.early_stopping:
            self.count = self.count + 1 if loss > self.best_loss - self.tol else 0
            self.best_loss = min(self.best_loss, loss)
            return False
        self.scores.append(score)
        self.count = self.count + 1 if score < self.best_score + self.tol else 0
        if score > self.best_score:
            self.best_score = score
            return True
        return False

    @property
    def plateau(self) -> bool:
        """More than ``n_iter_no_change`` epochs without improvement."""
        return self.count > self.n_iter_no_change
