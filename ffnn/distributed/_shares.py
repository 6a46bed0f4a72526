"""Which rows of each global batch a rank computes: contiguous, near-equal shares."""

from __future__ import annotations

import numpy as np

__all__ = ["batch_bounds", "batch_weight", "rank_rows", "share_bounds"]


def _check_rank(rank: int, size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        msg = f"size (the number of ranks) must be a positive integer, got {size!r}"
        raise ValueError(msg)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < size:
        msg = f"rank must be an integer in [0, {size}), got {rank!r}"
        raise ValueError(msg)


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
    _check_rank(rank, size)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        msg = f"count must be a non-negative integer, got {count!r}"
        raise ValueError(msg)
    q, r = divmod(int(count), size)
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
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be a positive integer, got {batch_size!r}"
        raise ValueError(msg)
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
