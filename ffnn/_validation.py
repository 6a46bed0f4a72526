"""Checks and conversions of user inputs (samples as rows) onto a network's backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from backends import Backend

__all__ = ["as_inputs", "as_targets"]


def _host_if_sequence(obj: Any, name: str) -> Any:
    """Nested lists/tuples become a float64 NumPy array; arrays pass through."""
    if isinstance(obj, (list, tuple)):
        try:
            return np.asarray(obj, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            msg = f"{name} could not be read as a rectangular array of numbers: {exc}"
            raise ValueError(msg) from exc
    if not hasattr(obj, "shape") or not hasattr(obj, "dtype"):
        msg = f"{name} must be an array or nested lists of numbers, got {type(obj).__name__}"
        raise TypeError(msg)
    return obj


def _dtype_name(dtype: Any) -> str:
    """'int64' for numpy.int64, torch.int64, array_api_strict.int64, ..."""
    return str(dtype).rsplit(".", 1)[-1]


def _check_finite(x: Any, name: str, xp: Any) -> None:
    if not bool(xp.all(xp.isfinite(x))):
        msg = f"{name} contains NaN or infinite values; remove or impute them before training"
        raise ValueError(msg)


def as_inputs(X: Any, backend: Backend, dtype: str, n_in: int, *, name: str = "X") -> Any:
    """Validate inputs X (m, n_in) and return them on ``backend`` in ``dtype``.

    Raises
    ------
    TypeError
        X is not array-like, has a non-floating dtype, or is another library's
        array that cannot be shared on this device.
    ValueError
        Wrong rank, wrong feature count, no rows, NaN or inf values.
    """
    host = _host_if_sequence(X, name)
    floating = isinstance(host, np.ndarray) and host.dtype.kind == "f"  # cast early: on the host, before the transfer
    x = backend.asarray(host, dtype=backend.dtype(dtype) if floating else None)
    xp = backend.xp
    if x.ndim != 2:
        hint = " (one example: X.reshape(1, -1); one feature: X.reshape(-1, 1))" if x.ndim == 1 else ""
        msg = f"{name} must be 2-D with shape (m, {n_in}), samples as rows; got shape {tuple(x.shape)}{hint}"
        raise ValueError(msg)
    if not xp.isdtype(x.dtype, "real floating"):
        msg = f"{name} has dtype {_dtype_name(x.dtype)}; ffnn needs floating-point inputs: convert with X.astype('{dtype}')"
        raise TypeError(msg)
    if x.shape[1] != n_in:
        msg = f"{name} has {x.shape[1]} features but the network expects {n_in}"
        raise ValueError(msg)
    if x.shape[0] == 0:
        msg = f"{name} has no rows (shape {tuple(x.shape)}); pass at least one example"
        raise ValueError(msg)
    x = xp.astype(x, backend.dtype(dtype), copy=False)
    _check_finite(x, name, xp)
    return x


def _one_hot(labels: Any, n_out: int, dtype: Any, backend: Backend) -> Any:
    xp = backend.xp
    classes = xp.arange(n_out, dtype=labels.dtype, device=backend.device)
    return xp.astype(xp.reshape(labels, (-1, 1)) == xp.reshape(classes, (1, n_out)), dtype)


def as_targets(Y: Any, backend: Backend, dtype: str, loss_name: str, n_out: int, m: int, *, name: str = "Y") -> Any:
    """Validate targets and return them as (m, n_out) on ``backend`` in ``dtype``.

    Accepted forms:
    - categorical_crossentropy: integer class labels (m,) in [0, n_out) (one-hot
      encoded here), or probabilities (m, n_out) in [0, 1];
    - binary_crossentropy: values in [0, 1], shape (m, n_out), or (m,) when n_out == 1;
    - mse: finite reals, shape (m, n_out), or (m,) when n_out == 1.

    Raises
    ------
    TypeError
        Non-numeric targets.
    ValueError
        Wrong shape or row count, labels out of range, NaN/inf.
    """
    y = backend.asarray(_host_if_sequence(Y, name))
    xp = backend.xp
    target = backend.dtype(dtype)
    if y.ndim == 0 or y.ndim > 2:
        msg = f"{name} must have shape ({m}, {n_out}) or ({m},); got {tuple(y.shape)}"
        raise ValueError(msg)
    if y.shape[0] != m:
        msg = f"{name} has {y.shape[0]} rows but X has {m}; give one target row per example"
        raise ValueError(msg)
    if not (xp.isdtype(y.dtype, "numeric") or xp.isdtype(y.dtype, "bool")) or xp.isdtype(y.dtype, "complex floating"):
        msg = f"{name} has dtype {_dtype_name(y.dtype)}; targets must be real numbers or integer class labels"
        raise TypeError(msg)
    is_labels = xp.isdtype(y.dtype, "integral") and (y.ndim == 1 or y.shape[1] == 1) and n_out > 1
    if loss_name == "categorical_crossentropy" and is_labels:
        labels = xp.reshape(y, (-1,))
        if not bool(xp.all((labels >= 0) & (labels < n_out))):
            lo, hi = int(xp.min(labels)), int(xp.max(labels))
            msg = f"{name} holds class labels in [{lo}, {hi}] but the network has {n_out} outputs (labels 0..{n_out - 1})"
            raise ValueError(msg)
        return _one_hot(labels, n_out, target, backend)
    y = xp.astype(y, target)
    if y.ndim == 1:
        y = xp.reshape(y, (-1, 1))
    if y.shape[1] != n_out:
        if n_out == 1:
            extra = " (integer class labels need a softmax output with categorical_crossentropy)"
        elif loss_name == "categorical_crossentropy" and y.shape[1] == 1:
            extra = "; class labels must be integers: pass y.astype(int)"
        else:
            extra = ""
        msg = f"{name} has {y.shape[1]} columns but the network has {n_out} outputs{extra}"
        raise ValueError(msg)
    _check_finite(y, name, xp)
    if loss_name in ("binary_crossentropy", "categorical_crossentropy"):
        if not bool(xp.all((y >= 0) & (y <= 1))):
            msg = f"{name} must lie in [0, 1] for {loss_name} (0/1 labels or probabilities); got values outside"
            raise ValueError(msg)
    return y
