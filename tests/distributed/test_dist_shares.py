"""Shares of a global batch among ranks: each example exactly once, sizes within one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ffnn.distributed import batch_bounds, batch_weight, rank_rows, share_bounds


@pytest.mark.parametrize("count", [0, 1, 2, 5, 7, 64])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_shares_cover_each_item_once_with_sizes_within_one(count, size):
    bounds = [share_bounds(count, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(hi == lo for (_, hi), (lo, _) in itertools.pairwise(bounds))  # contiguous, in rank order
    lengths = [hi - lo for lo, hi in bounds]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)


def test_more_ranks_than_rows_leaves_empty_shares():
    order = np.array([4, 1])
    assert [rank_rows(order, r, 3).tolist() for r in range(3)] == [[4], [1], []]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_rank_rows_concatenate_to_the_global_batch(size):
    order = np.random.default_rng(0).permutation(50)
    for start, stop in batch_bounds(50, 16):
        parts = [rank_rows(order[start:stop], r, size) for r in range(size)]
        np.testing.assert_array_equal(np.concatenate(parts), order[start:stop])
        sorted_parts = [rank_rows(order[start:stop], r, size, sort=True) for r in range(size)]
        for part, ordered in zip(parts, sorted_parts):
            np.testing.assert_array_equal(np.sort(part), ordered)


def test_batch_bounds_end_with_the_partial_batch():
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(3, 8) == [(0, 3)]


def test_weights_of_the_shares_sum_to_one():
    sizes = [share_bounds(7, r, 3) for r in range(3)]
    assert sum(batch_weight(hi - lo, 7) for lo, hi in sizes) == pytest.approx(1.0)
    assert batch_weight(0, 7) == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: share_bounds(5, 3, 3), r"rank must be an integer in \[0, 3\), got 3"),
        (lambda: share_bounds(5, 0, 0), "size .* must be a positive integer, got 0"),
        (lambda: share_bounds(-1, 0, 2), "count must be a non-negative integer, got -1"),
        (lambda: rank_rows(np.zeros((2, 2), dtype=int), 0, 1), r"batch_rows must be 1-D, got shape \(2, 2\)"),
        (lambda: batch_bounds(10, 0), "batch_size must be a positive integer, got 0"),
        (lambda: batch_weight(3, 2), "need 0 <= local_rows <= global_rows"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
