"""The order of the training examples in each epoch: pluggable samplers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ShuffleSampler", "shuffle_order"]

_SHUFFLE_STREAM = 1


def shuffle_order(seed: int, epoch: int, m: int) -> np.ndarray:
    """The permutation of the m training examples used in ``epoch`` (0-based, counted
    over all of a network's fits: :attr:`TrainingState.epochs_trained`).

    Drawn on the host from ``SeedSequence(seed, spawn_key=(1, epoch))``, so it
    depends only on (seed, epoch): the same on every backend, and the same for a
    resumed fit as for an uninterrupted one.
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(_SHUFFLE_STREAM, epoch))
    return np.random.default_rng(sequence).permutation(m)


@dataclass(frozen=True)
class ShuffleSampler:
    """The default sampler: ``sampler(epoch, m)`` is :func:`shuffle_order` of ``seed``.

    Any callable ``(epoch, m) -> permutation of range(m) (host integers) or None``
    can replace it in ``fit(sampler=...)`` (None keeps the rows in order).
    """

    seed: int

    def __call__(self, epoch: int, m: int) -> np.ndarray:
        return shuffle_order(self.seed, epoch, m)
