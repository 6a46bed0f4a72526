"""Classification accuracy, counted on the device, and the task a network's loss implies."""

from __future__ import annotations

from typing import Any

__all__ = ["TASKS", "correct_count", "hits_of", "labels_from_outputs", "predicted_columns", "task_of"]

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


def correct_count(A: Any, Y: Any, /, *, task: str, xp: Any) -> Any:
    """How many of the m examples are classified correctly, as a 0-d array of A's dtype.

    ``A`` (outputs) and ``Y`` (targets) have the seeds' layout (n^[L], m). Multiclass:
    argmax over axis 0 agrees (one-hot or probability targets). Binary and
    multi-label: A > 0.5 agrees with Y > 0.5, counted per label and divided by
    n^[L] (so an example scores the fraction of its labels that are right).
    No host synchronisation: the caller reads the total once per epoch.
    """
    return hits_of([predicted_columns(A, task=task, xp=xp)], Y, task=task, xp=xp)


def predicted_columns(A: Any, /, *, task: str, xp: Any) -> Any:
    """The decisions behind :func:`correct_count` for outputs A (n^[L], m): the argmax
    class per column, shape (m,) (multiclass), or A > 0.5, shape (n^[L], m)."""
    return xp.argmax(A, axis=0) if task == "multiclass" else A > 0.5


def hits_of(predictions: list[Any], Y: Any, /, *, task: str, xp: Any) -> Any:
    """:func:`correct_count` from :func:`predicted_columns` of consecutive batches
    (joined along the examples) and the targets Y (n^[L], m) of all of them; a 0-d
    array of Y's dtype."""
    if task == "multiclass":
        return xp.sum(xp.astype(xp.concat(predictions) == xp.argmax(Y, axis=0), Y.dtype))
    hits = xp.sum(xp.astype(xp.concat(predictions, axis=1) == (Y > 0.5), Y.dtype))
    return hits if Y.shape[0] == 1 else hits * (1 / Y.shape[0])


def labels_from_outputs(P: Any, /, *, task: str, xp: Any) -> Any:
    """Class labels from outputs P in ROW layout (m, n^[L]): argmax per row
    (multiclass, shape (m,)), P[:, 0] > 0.5 (binary, (m,)), P > 0.5 per label
    (multi-label, (m, n^[L])); integer arrays of the backend."""
    if task == "multiclass":
        return xp.argmax(P, axis=1)
    labels = xp.astype(P > 0.5, xp.int64)
    return labels[:, 0] if task == "binary" else labels
