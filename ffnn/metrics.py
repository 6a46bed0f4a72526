"""Classification accuracy, counted on the device, the task a network's loss implies,
and host metrics of predictions (confusion matrix; R², MAE, RMSE for regression)."""

from __future__ import annotations

from typing import Any

import numpy as np

from backends import fast_calls

from ._types import Array, Namespace

__all__ = [
    "TASKS",
    "confusion_matrix",
    "correct_count",
    "hits_against",
    "hits_of",
    "labels_from_outputs",
    "mean_absolute_error",
    "output_hits",
    "predicted_columns",
    "r2_score",
    "regression_report",
    "root_mean_squared_error",
    "target_classes",
    "task_of",
]

TASKS = ("multiclass", "binary", "multilabel", "regression")


def task_of(loss_name: str, n_out: int) -> str:
    """The learning task of a loss/output pair.

    categorical_crossentropy → "multiclass"; binary_crossentropy → "binary" with
    one output, "multilabel" with several; mse → "regression".
    """
    if loss_name == "categorical_crossentropy":
        return "multiclass"
    if loss_name == "binary_crossentropy":
        return "binary" if n_out == 1 else "multilabel"
    return "regression"


def correct_count(A: Array, Y: Array, /, *, task: str, xp: Namespace) -> Array:
    """How many of the m examples are classified correctly, as a 0-d array of A's dtype.

    ``A`` (outputs) and ``Y`` (targets) have the seeds' layout (n^[L], m). Multiclass:
    argmax over axis 0 agrees (one-hot or probability targets). Binary and
    multi-label: A > 0.5 agrees with Y > 0.5, counted per label and divided by
    n^[L] (so an example scores the fraction of its labels that are right).
    No host synchronisation: the caller reads the total once per epoch.
    """
    return hits_of([predicted_columns(A, task=task, xp=xp)], Y, task=task, xp=xp)


def predicted_columns(A: Array, /, *, task: str, xp: Namespace) -> Array:
    """The decisions behind :func:`correct_count` for outputs A (n^[L], m): the argmax
    class per column, shape (m,) (multiclass), or A > 0.5, shape (n^[L], m)."""
    return fast_calls(xp).argmax(A, 0) if task == "multiclass" else A > 0.5


def target_classes(Y: Array, /, *, task: str, xp: Namespace) -> Array:
    """The targets Y (n^[L], m) decided as :func:`predicted_columns` decides outputs:
    the argmax class per column, shape (m,) (multiclass), or Y > 0.5, shape (n^[L], m)."""
    return xp.argmax(Y, axis=0) if task == "multiclass" else Y > 0.5


def hits_of(predictions: list[Array], Y: Array, /, *, task: str, xp: Namespace) -> Array:
    """:func:`correct_count` from :func:`predicted_columns` of consecutive batches
    (joined along the examples) and the targets Y (n^[L], m) of all of them; a 0-d
    array of Y's dtype."""
    return hits_against(predictions, target_classes(Y, task=task, xp=xp), task=task, xp=xp, dtype=Y.dtype)


def hits_against(predictions: list[Array], classes: Array, /, *, task: str, xp: Namespace, dtype: Any) -> Array:
    """:func:`hits_of` from targets already decided (:func:`target_classes`; for class
    labels, the labels themselves): the count of agreeing decisions, divided by n^[L]
    for several binary labels, as a 0-d array of ``dtype``."""
    if task == "multiclass":
        return xp.sum(xp.astype(xp.concat(predictions) == classes, dtype))
    hits = xp.sum(xp.astype(xp.concat(predictions, axis=1) == classes, dtype))
    return hits if classes.shape[0] == 1 else hits * (1 / classes.shape[0])


def output_hits(A: Array, classes: Array, /, *, task: str, xp: Namespace, dtype: Any) -> Array:
    """:func:`hits_against` of :func:`predicted_columns` of outputs A (n^[L], m): how many
    decisions agree with the targets already decided (``classes``, from
    :func:`target_classes` or the class labels), a 0-d array of ``dtype``. A multiclass
    count is one call of ``backends.fast_calls(xp).argmax_hits`` (on NumPy it spares
    the argmax's transposed copy; the same number). For the outputs of many batches
    joined (an epoch's): on one small batch NumPy's argmax makes fewer calls, so
    :func:`correct_count`, which runs per batch, keeps it."""
    if task == "multiclass":
        fast = fast_calls(xp)
        return fast.cast(fast.argmax_hits(A, classes), dtype)
    return hits_against([predicted_columns(A, task=task, xp=xp)], classes, task=task, xp=xp, dtype=dtype)


def labels_from_outputs(P: Array, /, *, task: str, xp: Namespace) -> Array:
    """Class labels from outputs P in ROW layout (m, n^[L]): argmax per row
    (multiclass, shape (m,)), P[:, 0] > 0.5 (binary, (m,)), P > 0.5 per label
    (multi-label, (m, n^[L])); integer arrays of the backend."""
    if task == "multiclass":
        return xp.argmax(P, axis=1)
    labels = xp.astype(P > 0.5, xp.int64)
    return labels[:, 0] if task == "binary" else labels


# ---------------------------------------------------------------------- host metrics of predictions
def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Counts C[i, j] of examples of true class i predicted as class j, shape (k, k), int64.

    Raises
    ------
    ValueError
        Different lengths, or a label outside 0 … n_classes − 1.
    """
    t, p = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        msg = f"y_true and y_pred must have the same length, got {t.size} and {p.size}"
        raise ValueError(msg)
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.size and (v.min() < 0 or v.max() >= n_classes):
            msg = f"{name} holds labels outside 0..{n_classes - 1}"
            raise ValueError(msg)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (t.astype(np.int64), p.astype(np.int64)), 1)
    return counts


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    t, p = t.reshape(t.shape[0], -1) if t.ndim else t, p.reshape(p.shape[0], -1) if p.ndim else p
    if t.shape != p.shape or t.ndim != 2 or t.shape[0] == 0:
        msg = f"y_true and y_pred must be non-empty and of one shape, got {np.shape(y_true)} and {np.shape(y_pred)}"
        raise ValueError(msg)
    return t, p


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """MAE = mean |y − ŷ| over examples and target columns, in the targets' units."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def root_mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """RMSE = sqrt(mean (y − ŷ)²) over examples and target columns, in the targets' units."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², averaged over
    target columns (uniformly). 1 is perfect, 0 is as good as predicting the mean.
    A constant target column scores 1 when predicted exactly, else 0."""
    t, p = _pair(y_true, y_pred)
    residual = np.sum((t - p) ** 2, axis=0)
    total = np.sum((t - np.mean(t, axis=0)) ** 2, axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(scores))


def regression_report(y_true: Any, y_pred: Any) -> dict[str, float]:
    """``{"r2": …, "mae": …, "rmse": …}`` of predictions in the targets' units."""
    return {
        "r2": r2_score(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred),
        "rmse": root_mean_squared_error(y_true, y_pred),
    }
