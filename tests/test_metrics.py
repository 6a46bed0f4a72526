"""ffnn.metrics host metrics: confusion matrix, R², MAE, RMSE."""

from __future__ import annotations

import numpy as np
import pytest

from ffnn.metrics import (
    confusion_matrix,
    mean_absolute_error,
    r2_score,
    regression_report,
    root_mean_squared_error,
)


def test_confusion_matrix_counts() -> None:
    counts = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_confusion_matrix_refuses_labels_out_of_range() -> None:
    with pytest.raises(ValueError, match="y_pred holds labels outside 0..1"):
        confusion_matrix(np.array([0, 1]), np.array([0, 2]), 2)


def test_regression_metrics_by_definition() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 2.0, size=(40, 2))
    p = y + rng.normal(0.0, 0.5, size=y.shape)
    err = y - p
    assert mean_absolute_error(y, p) == pytest.approx(np.abs(err).mean(), rel=1e-14)
    assert root_mean_squared_error(y, p) == pytest.approx(np.sqrt((err**2).mean()), rel=1e-14)
    per_column = [1 - (err[:, j] ** 2).sum() / ((y[:, j] - y[:, j].mean()) ** 2).sum() for j in range(2)]
    assert r2_score(y, p) == pytest.approx(np.mean(per_column), rel=1e-14)
    assert regression_report(y[:, 0], p[:, 0])["r2"] == pytest.approx(per_column[0], rel=1e-14)


def test_r2_is_one_for_a_perfect_fit_and_zero_for_the_mean() -> None:
    y = np.array([1.0, 2.0, 4.0, 7.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, y.mean())) == pytest.approx(0.0, abs=1e-15)
    assert r2_score(np.ones(3), np.ones(3)) == 1.0
    assert r2_score(np.ones(3), np.zeros(3)) == 0.0


def test_regression_metrics_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="of one shape"):
        mean_absolute_error(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel"])
def test_output_hits_counts_as_the_decisions_do(backend, task: str) -> None:
    """``output_hits(A, classes)`` = ``hits_against`` of ``predicted_columns(A)``, on every
    backend and task, with ties in the multiclass outputs (its count is one
    ``argmax_hits`` call)."""
    from ffnn.metrics import hits_against, output_hits, predicted_columns, target_classes

    xp = backend.xp
    rng = np.random.default_rng(4)
    n = 1 if task == "binary" else 4
    A_host = rng.random((n, 40))
    if task == "multiclass":
        A_host[:, :5] = 0.25  # uniform columns: argmax takes row 0
    A = backend.asarray(A_host, dtype=backend.dtype("float64"))
    Y = backend.asarray((rng.random((n, 40)) > 0.5).astype(np.float64), dtype=backend.dtype("float64"))
    if task == "multiclass":
        Y = backend.asarray(np.eye(n)[rng.integers(0, n, 40)].T, dtype=backend.dtype("float64"))
    classes = target_classes(Y, task=task, xp=xp)
    got = output_hits(A, classes, task=task, xp=xp, dtype=A.dtype)
    expected = hits_against([predicted_columns(A, task=task, xp=xp)], classes, task=task, xp=xp, dtype=A.dtype)
    assert got.dtype == A.dtype
    assert float(backend.to_numpy(got)) == float(backend.to_numpy(expected))
