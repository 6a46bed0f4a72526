"""Which rows of each global batch a rank computes: contiguous, near-equal shares."""

from __future__ import annotations

import numpy as np

from .._validation import Interval, positive_int

__all__ = ["batch_bounds", "batch_weight", "rank_rows", "share_bounds"]


def _check_rank(rank: int, size: int) -> tuple[int, int]:
    size = positive_int(size, "size (the number of ranks)")
    return Interval(0, size, closed="left", integer=True).check(rank, "rank"), size


def share_bounds(count: int, rank: int, size: int) -> tuple[int, int]:
    """The half-open range [lo, hi) of ``count`` items that ``rank`` of ``size`` takes.

    Items are split into ``size`` contiguous blocks whose lengths differ by at most
    one, the longer blocks first: with ``count = q·size + r`` ranks 0..r−1 take q + 1
    items and the others q. A rank's block may be empty (``count < size``).

    Raises
    ------
    ValueError
        Negative ``count``, non-positive ``size`` or ``rank`` outside [0, size).
    """
    rank, size = _check_rank(rank, size)
    count = Interval(0, None, integer=True).check(count, "count")
    q, r = divmod(count, size)
    lo = rank * q + min(rank, r)
    return lo, lo + q + (rank < r)


def rank_rows(batch_rows: np.ndarray, rank: int, size: int, *, sort: bool = False) -> np.ndarray:
    """The rows of one global batch that ``rank`` computes.

    Parameters
    ----------
    batch_rows : 1-D integer NumPy array
        The global batch: ``order[start:stop]`` of the epoch's permutation (the same
        host permutation on every rank, :func:`ffnn.training.shuffle_order`).
    rank, size : int
        This rank and the number of ranks.
    sort : bool, default False
        Return the rows in increasing order (what a memory-map gather wants)
        instead of the permutation's order. The gradient of a share does not
        depend on the order of its rows, except for rounding.

    Returns
    -------
    1-D NumPy array
        The block :func:`share_bounds` gives ``rank``; the blocks of all ranks
        concatenate to ``batch_rows``, so every example is computed exactly once.
    """
    rows = np.asarray(batch_rows)
    if rows.ndim != 1:
        msg = f"batch_rows must be 1-D, got shape {rows.shape}"
        raise ValueError(msg)
    lo, hi = share_bounds(rows.shape[0], rank, size)
    share = rows[lo:hi]
    return np.sort(share) if sort else share


def batch_bounds(m: int, batch_size: int) -> list[tuple[int, int]]:
    """[(start, stop)] of the global batches of an epoch of ``m`` examples; the last
    one is partial when ``batch_size`` does not divide ``m``."""
    batch_size = positive_int(batch_size, "batch_size")
    return [(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]


def batch_weight(local_rows: int, global_rows: int) -> float:
    """m_r / M: the factor that turns a gradient averaged over a rank's m_r rows into
    its part of the gradient averaged over the M rows of the global batch.

    Σ_r (m_r/M) · (1/m_r) Σ_{i∈r} g_i = (1/M) Σ_i g_i, the P1 (15)/(16) mean over the
    global batch. A rank with an empty share has weight 0.
    """
    if global_rows <= 0 or not 0 <= local_rows <= global_rows:
        msg = f"need 0 <= local_rows <= global_rows and global_rows > 0, got {local_rows} and {global_rows}"
        raise ValueError(msg)
    return local_rows / global_rows
