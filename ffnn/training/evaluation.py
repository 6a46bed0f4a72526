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

__all__ = ["evaluate", "predict_classes", "predict_proba", "regression_metrics", "regression_sums", "totals"]


def totals(net: Model, x: Array, y: Array, task: str, batch_size: int, *, regression: bool = False) -> list[Array]:
    """[Σ cost·m_batch, Σ hits] over batches of rows, as 0-d arrays on the device; with
    ``regression`` (and a regression task) a third entry, the vector of
    :func:`regression_sums` (nothing is read from the device here)."""
    xp = net.xp
    cost_sum = xp.zeros((), dtype=x.dtype, device=device_of(x))
    hits = xp.zeros((), dtype=x.dtype, device=device_of(x))
    absolute = xp.zeros((), dtype=x.dtype, device=device_of(x))
    squares = xp.zeros((y.shape[1],), dtype=x.dtype, device=device_of(x))
    for start in range(0, x.shape[0], batch_size):
        stop = min(start + batch_size, x.shape[0])  # array-api slices must stay in bounds
        xc, yc = x[start:stop, :].T, y[start:stop, :].T
        cache, Z_L = net.forward_columns(xc)
        cost_sum += net.cost_columns(cache, Z_L, yc) * xc.shape[1]
        if task != "regression":
            hits += correct_count(cache[-1], yc, task=task, xp=xp)
        elif regression:
            e = cache[-1] - yc
            absolute += xp.sum(xp.abs(e))
            squares += xp.sum(e * e, axis=1)
    if regression and task == "regression":
        return [cost_sum, hits, xp.concat([xp.reshape(absolute, (1,)), squares, _spread(y, xp)])]
    return [cost_sum, hits]


def _spread(y: Array, xp: Any) -> Array:
    """Σ_i (y_ij − ȳ_j)² per target column j of rows ``y`` (m, n), on the device."""
    mean = xp.mean(y, axis=0, keepdims=True)
    return xp.sum((y - mean) ** 2, axis=0)


def regression_sums(outputs: Array, targets: Array, /, *, xp: Any) -> Array:
    """The sums the regression metrics need, as one device vector: [Σ|e|, Σ_i e_ij² per
    column j, Σ_i (y_ij − ȳ_j)² per column j], e = ŷ − y, for ``outputs`` and
    ``targets`` in column layout (n, m). Read with the epoch's other scalars; see
    :func:`regression_metrics`."""
    e = outputs - targets
    return xp.concat([xp.reshape(xp.sum(xp.abs(e)), (1,)), xp.sum(e * e, axis=1), _spread(targets.T, xp)])


def regression_metrics(sums: Any, m: int) -> dict[str, float]:
    """R², MAE and RMSE (as :func:`ffnn.metrics.regression_report`, in the targets'
    units) from the host values of :func:`regression_sums` over m examples."""
    values = np.asarray(sums, dtype=np.float64)
    n = (values.shape[0] - 1) // 2
    absolute, residual, total = values[0], values[1 : 1 + n], values[1 + n :]
    safe = np.where(total > 0, total, 1.0)
    scores = np.where(total > 0, 1.0 - residual / safe, np.where(residual == 0, 1.0, 0.0))
    return {
        "r2": float(np.mean(scores)),
        "mae": float(absolute / (m * n)),
        "rmse": float(np.sqrt(np.sum(residual) / (m * n))),
    }


def _batch(batch_size: int | None) -> int:
    return PREDICT_BATCH_SIZE if batch_size is None else positive_int(batch_size, "batch_size")


def evaluate(net: Model, X: Any, y: Any, /, *, batch_size: int | None = None) -> dict[str, float | None]:
    """Cost and accuracy of ``net`` on in-memory (X, y); see :meth:`Network.evaluate`
    (:func:`ffnn.training.evaluate` also takes inputs read by rows)."""
    with net.backend.on_device():  # CuPy creates arrays on the current device: make it the network's
        x = net.inputs(X)
        t = net.targets(y, x.shape[0])
        task = net.task
        sums = totals(net, x, t, task, _batch(batch_size), regression=True)
        xp = net.xp
        values = net.backend.to_numpy(xp.concat([xp.reshape(v, (-1,)) for v in sums]))
    m = x.shape[0]
    cost, hits = float(values[0]), float(values[1])
    out: dict[str, float | None] = {"cost": cost / m, "accuracy": None if task == "regression" else hits / m}
    if task == "regression":
        out.update(regression_metrics(values[2:], m))
    return out


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
