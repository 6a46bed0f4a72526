"""Evaluation and class predictions of a trained network, in batches of rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from backends import device_of

from .._types import Array
from .._validation import PREDICT_BATCH_SIZE, positive_int
from ..metrics import correct_count, labels_from_outputs

if TYPE_CHECKING:
    from ._model import Model

__all__ = ["evaluate", "predict_classes", "predict_proba", "totals"]


def totals(net: Model, x: Array, y: Array, task: str, batch_size: int) -> list[Array]:
    """[Σ cost·m_batch, Σ hits] over batches of rows, as 0-d arrays on the device."""
    xp = net.xp
    cost_sum = xp.zeros((), dtype=x.dtype, device=device_of(x))
    hits = xp.zeros((), dtype=x.dtype, device=device_of(x))
    for start in range(0, x.shape[0], batch_size):
        stop = min(start + batch_size, x.shape[0])  # array-api slices must stay in bounds
        xc, yc = x[start:stop, :].T, y[start:stop, :].T
        cache, Z_L = net.forward_columns(xc)
        cost_sum += net.cost_columns(cache, Z_L, yc) * xc.shape[1]
        if task != "regression":
            hits += correct_count(cache[-1], yc, task=task, xp=xp)
    return [cost_sum, hits]


def _batch(batch_size: int | None) -> int:
    return PREDICT_BATCH_SIZE if batch_size is None else positive_int(batch_size, "batch_size")


def evaluate(net: Model, X: Any, y: Any, /, *, batch_size: int | None = None) -> dict[str, float | None]:
    """Cost and accuracy of ``net`` on (X, y); see :meth:`Network.evaluate`."""
    with net.backend.on_device():  # CuPy creates arrays on the current device: make it the network's
        x = net.inputs(X)
        t = net.targets(y, x.shape[0])
        task = net.task
        sums = totals(net, x, t, task, _batch(batch_size))
        cost, hits = (float(v) for v in net.backend.to_numpy(net.xp.stack(sums)))
    m = x.shape[0]
    return {"cost": cost / m, "accuracy": None if task == "regression" else hits / m}


def _classifier_task(net: Model, method: str) -> str:
    task = net.task
    if task == "regression":
        msg = (
            f"{method} needs a classifier (loss binary_crossentropy or categorical_crossentropy); "
            f"this network's loss is {net.loss.name}: use predict"
        )
        raise ValueError(msg)
    return task


def predict_proba(net: Model, X: Any, /, *, batch_size: int | None = None) -> Array:
    """Class probabilities of a classifier; see :meth:`Network.predict_proba`."""
    _classifier_task(net, "predict_proba")
    return net.predict(X, batch_size=_batch(batch_size))


def predict_classes(net: Model, X: Any, /, *, batch_size: int | None = None) -> np.ndarray:
    """Class labels of a classifier as a NumPy array; see :meth:`Network.predict_classes`."""
    task = _classifier_task(net, "predict_classes")
    labels = labels_from_outputs(net.predict(X, batch_size=_batch(batch_size)), task=task, xp=net.xp)
    return np.array(net.backend.to_numpy(labels))  # a writable copy on every backend (JAX's view is read-only)
