"""MLP's epoch order: cumulative shuffles drawn from the estimator's RandomState, as a
sampler of ffnn's training loop (``sampler(epoch, m)``, :mod:`ffnn.training.sampling`)."""

from __future__ import annotations

import numpy as np

__all__ = ["MLPSampler", "batch_slices"]


class MLPSampler:
    """The order in which MLPClassifier visits n samples, epoch after epoch.

    Each epoch (with ``shuffle``) permutes the previous epoch's order by a permutation
    of ``range(n)`` that ``random_state.shuffle`` draws, so the draws and the orders
    equal scikit-learn's for the same RandomState. Without ``shuffle`` the order is
    ``range(n)`` and nothing is drawn.

    Parameters
    ----------
    random_state : numpy.random.RandomState
    n : int
    shuffle : bool
    """

    def __init__(self, random_state: np.random.RandomState, n: int, *, shuffle: bool) -> None:
        self.random_state = random_state
        self.shuffle = shuffle
        self.order = np.arange(n)

    def next_epoch(self) -> np.ndarray | None:
        """Host int64 indices of the next epoch, or None for the natural order."""
        if not self.shuffle:
            return None
        permutation = np.arange(self.order.shape[0])
        self.random_state.shuffle(permutation)
        self.order = self.order[permutation]
        return self.order

    def __call__(self, epoch: int, m: int) -> np.ndarray | None:
        """The training loop's sampler protocol: the next epoch's order (``epoch`` is
        not needed: each call draws the next cumulative shuffle)."""
        return self.next_epoch()


def batch_slices(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) of ``batch_size`` rows; the last batch holds the rest."""
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
