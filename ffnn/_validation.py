"""Validation in one place: option values (one policy for bool/int/NumPy scalars, one
wording) and user data (samples as rows) moved onto a network's backend.

Policy: a number is any ``numbers.Real`` (Python int/float, NumPy scalars such as
``np.float32(0.3)`` or ``np.int64(3)``) except ``bool``; an integer is any
``numbers.Integral`` except ``bool``. Messages read "<name> must be <constraint>, got <value>".
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends import Backend, fast_calls

from ._types import Array

__all__ = [
    "PREDICT_BATCH_SIZE",
    "Interval",
    "Options",
    "as_inputs",
    "as_sample_weight",
    "as_targets",
    "check_bool",
    "frame_columns",
    "inputs_with_bound",
    "is_data_frame",
    "is_integer",
    "is_number",
    "max_abs",
    "positive_int",
    "targets_with_labels",
]

PREDICT_BATCH_SIZE = 4096
"""Rows per forward pass in prediction and evaluation (bounds memory)."""


# ---------------------------------------------------------------------- option values
def is_number(value: object) -> bool:
    """A real number that is not a bool (NumPy scalars included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: object) -> bool:
    """An integer that is not a bool (NumPy integer scalars included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Interval:
    """A declarative numeric constraint: ``Interval(0, 1, closed="left")`` is [0, 1).

    Parameters
    ----------
    low, high : float or None
        Bounds (None: unbounded on that side).
    closed : {"both", "left", "right", "neither"}, default "both"
    integer : bool, default False
        Require an integer (then the value is returned as a Python int).
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"
    integer: bool = False

    def __contains__(self, value: object) -> bool:
        if not (is_integer(value) if self.integer else is_number(value)):
            return False
        v = float(value)  # type: ignore[arg-type]
        if not math.isfinite(v):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and not (v >= self.low if left else v > self.low):
            return False
        return self.high is None or (v <= self.high if right else v < self.high)

    def describe(self) -> str:
        """Words for the constraint, used in error messages."""
        kind = "an integer" if self.integer else "a finite number"
        if self.low is None and self.high is None:
            return kind
        if self.high is None:
            op = "≥" if self.closed in ("both", "left") else ">"
            if self.low == 0 and op == ">":
                return "a positive integer" if self.integer else "a positive finite number"
            if self.low == 0:
                return "a non-negative integer" if self.integer else "a non-negative finite number"
            if self.low == 1 and self.integer and op == "≥":
                return "a positive integer"
            return f"{kind} {op} {self.low:g}"
        lo = "[" if self.closed in ("both", "left") else "("
        hi = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        return f"{kind} in {lo}{low}, {self.high:g}{hi}"

    def check(self, value: Any, name: str, hint: str = "") -> Any:
        """``value`` as a Python int/float when it satisfies the constraint.

        Raises
        ------
        ValueError
            It does not (bools are never numbers); the message names ``name`` and the value.
        """
        if value not in self:
            msg = f"{name} must be {self.describe()}{hint}, got {value!r}"
            raise ValueError(msg)
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Options:
    """A declarative choice among strings: ``Options("min", "max").check(mode, "mode")``."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", tuple(names))

    def check(self, value: Any, name: str) -> str:
        """``value`` when it is one of the names.

        Raises
        ------
        ValueError
            Another value; the message lists the names.
        """
        if not isinstance(value, str) or value not in self.names:
            msg = f"{name} must be one of {', '.join(repr(n) for n in self.names)}, got {value!r}"
            raise ValueError(msg)
        return value


def positive_int(value: Any, name: str, hint: str = "") -> int:
    """``value`` as an int ≥ 1 (NumPy integers accepted, bools refused).

    Raises
    ------
    ValueError
        Anything else.
    """
    if type(value) is int and value >= 1:  # the common case, without the interval's checks
        return value
    return int(_POSITIVE_INT.check(value, name, hint))


_POSITIVE_INT = Interval(1, None, integer=True)


def check_bool(value: Any, name: str) -> bool:
    """``value`` when it is a bool (NumPy bools accepted).

    Raises
    ------
    TypeError
        Anything else (1, "yes", None).
    """
    if not isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be True or False, got {value!r}"
        raise TypeError(msg)
    return bool(value)


# ---------------------------------------------------------------------- data
def _host_if_sequence(obj: Any, name: str, *, dtype: Any = np.float64) -> Any:
    """Nested lists/tuples become a NumPy array (``dtype``, or NumPy's choice when None:
    lists of integer labels stay integers); arrays pass through."""
    if isinstance(obj, (list, tuple)):
        try:
            host = np.asarray(obj, dtype=dtype)
        except (ValueError, TypeError) as exc:
            msg = f"{name} could not be read as a rectangular array of numbers: {exc}"
            raise ValueError(msg) from exc
        if host.dtype.kind not in "biuf":
            msg = f"{name} could not be read as a rectangular array of numbers (NumPy made dtype {host.dtype})"
            raise ValueError(msg)
        return host
    if not hasattr(obj, "shape") or not hasattr(obj, "dtype"):
        msg = f"{name} must be an array or nested lists of numbers, got {type(obj).__name__}"
        raise TypeError(msg)
    return obj


def _dtype_name(dtype: Any) -> str:
    """'int64' for numpy.int64, torch.int64, array_api_strict.int64, ..."""
    return str(dtype).rsplit(".", 1)[-1]


def _check_finite(x: Any, name: str, xp: Any) -> None:
    if not bool(xp.all(xp.isfinite(x))):
        _raise_not_finite(name)


def _raise_not_finite(name: str) -> None:
    msg = f"{name} contains NaN or infinite values; remove or impute them before training"
    raise ValueError(msg)


def is_data_frame(X: Any) -> bool:
    """A pandas-like data frame (duck-typed: ``columns`` and ``to_numpy``; pandas is
    never imported here)."""
    return hasattr(X, "columns") and hasattr(X, "to_numpy") and not hasattr(X, "__array_namespace__")


def frame_columns(X: Any, feature_names: Any, n_in: int, *, name: str = "X") -> np.ndarray:
    """The values of data frame ``X`` as a host array with the network's input columns.

    With ``feature_names`` (the names a network recorded, ``metadata["feature_names"]``)
    the columns are matched by name: any order is fine, extra columns are dropped with
    a warning naming them, missing ones are an error naming them. Without names the
    columns are taken by position.

    Raises
    ------
    ValueError
        A recorded feature is missing from the frame, or names are repeated.
    """
    columns = [str(c) for c in X.columns]
    if feature_names is None or len(feature_names) != n_in:
        return np.array(X.to_numpy())  # a writable copy (pandas may hand out a read-only view)
    wanted = [str(n) for n in feature_names]
    missing = [n for n in wanted if n not in columns]
    if missing:
        msg = (
            f"{name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} that the network "
            f"was trained on (its features, in order: {', '.join(wanted)}); got columns {', '.join(columns)}"
        )
        raise ValueError(msg)
    repeated = sorted({c for c in columns if columns.count(c) > 1 and c in wanted})
    if repeated:
        msg = f"{name} has the column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} more than once"
        raise ValueError(msg)
    extra = [c for c in columns if c not in wanted]
    if extra:
        warnings.warn(
            f"{name}: ignoring column{'s' if len(extra) > 1 else ''} {', '.join(extra)} (not features of the network)",
            UserWarning,
            stacklevel=4,
        )
    values = np.asarray(X.to_numpy())
    return values[:, [columns.index(n) for n in wanted]]


def as_inputs(
    X: Any, backend: Backend, dtype: str, n_in: int, *, name: str = "X", feature_names: Any = None
) -> Array:
    """Validate inputs X (m, n_in) and return them on ``backend`` in ``dtype``
    (:func:`inputs_with_bound` without the bound)."""
    return inputs_with_bound(X, backend, dtype, n_in, name=name, feature_names=feature_names)[0]


def inputs_with_bound(
    X: Any, backend: Backend, dtype: str, n_in: int, *, name: str = "X", feature_names: Any = None
) -> tuple[Array, float]:
    """Validate inputs X (m, n_in): they on ``backend`` in ``dtype``, and β_0 = max |x|
    over every entry (a host float; the finiteness check reads min x and max x, which
    NaN and ±inf propagate to, so the bound costs no extra device read).

    A pandas-like data frame is read by :func:`frame_columns`: by column name when
    ``feature_names`` are given, else by position.

    Raises
    ------
    TypeError
        X is not array-like, has a non-floating dtype, or is an array on another
        device than the backend's (move it with ``backends.to_device``).
    ValueError
        Wrong rank, wrong feature count, no rows, NaN or inf values, missing named columns.
    """
    if is_data_frame(X):
        X = frame_columns(X, feature_names, n_in, name=name)
    backend.check_array(X, name)
    host = _host_if_sequence(X, name)
    floating = isinstance(host, np.ndarray) and host.dtype.kind == "f"  # cast early: on the host, before the transfer
    x = backend.asarray(host, dtype=backend.dtype(dtype) if floating else None)
    xp = backend.xp
    if x.ndim != 2:
        hint = " (one example: X.reshape(1, -1); one feature: X.reshape(-1, 1))" if x.ndim == 1 else ""
        msg = f"{name} must be 2-D with shape (m, {n_in}), samples as rows; got shape {tuple(x.shape)}{hint}"
        raise ValueError(msg)
    if not is_kind(xp, x.dtype, "real floating"):
        msg = (
            f"{name} has dtype {_dtype_name(x.dtype)}; ffnn needs floating-point inputs: "
            f"convert with X.astype('{dtype}')"
        )
        raise TypeError(msg)
    if x.shape[1] != n_in:
        msg = f"{name} has {x.shape[1]} features but the network expects {n_in}"
        raise ValueError(msg)
    if x.shape[0] == 0:
        msg = f"{name} has no rows (shape {tuple(x.shape)}); pass at least one example"
        raise ValueError(msg)
    x = xp.astype(x, backend.dtype(dtype), copy=False)
    bound = max_abs(x, backend)
    if not math.isfinite(bound):  # min and max are NaN or ±inf iff an entry is
        _raise_not_finite(name)
    return x, bound


def max_abs(x: Array, backend: Backend) -> float:
    """max |x| over every entry of ``x`` as max(−min x, max x): one device read of two
    numbers. NaN and ±inf propagate to it (the standard's min and max propagate NaN)."""
    xp = backend.xp
    low, high = (float(v) for v in backend.to_numpy(fast_calls(xp).extrema(x)))
    if math.isnan(low) or math.isnan(high):
        return math.nan
    return max(-low, high)


def _one_hot(labels: Any, n_out: int, dtype: Any, backend: Backend) -> Any:
    """(m, n_out) rows e_{y_i}ᵀ of the identity for labels (m,) in [0, n_out): one gather
    of the identity's rows (a broadcast comparison costs NumPy several times more)."""
    xp = backend.xp
    if labels.dtype != xp.int64 and labels.dtype != xp.int32:  # the index dtypes every library takes
        labels = xp.astype(labels, xp.int64)
    return xp.take(xp.eye(n_out, dtype=dtype, device=backend.device), labels, axis=0)


_KINDS: dict[tuple[Any, Any, str], bool] = {}


def is_kind(xp: Any, dtype: Any, kind: str) -> bool:
    """``xp.isdtype(dtype, kind)``, kept per (namespace, dtype, kind): the compatibility
    layer's isdtype is a Python function of some length, and data validation asks the
    same few questions at every fit."""
    key = (xp, dtype, kind)
    try:
        return _KINDS[key]
    except KeyError:
        found = _KINDS[key] = bool(xp.isdtype(dtype, kind))
        return found
    except TypeError:  # an unhashable namespace or dtype: asked every time
        return bool(xp.isdtype(dtype, kind))


def as_targets(Y: Any, backend: Backend, dtype: str, loss_name: str, n_out: int, m: int, *, name: str = "Y") -> Array:
    """Validate targets and return them as (m, n_out) on ``backend`` in ``dtype``
    (:func:`targets_with_labels` without the labels)."""
    return targets_with_labels(Y, backend, dtype, loss_name, n_out, m, name=name)[0]


def targets_with_labels(
    Y: Any, backend: Backend, dtype: str, loss_name: str, n_out: int, m: int, *, name: str = "Y"
) -> tuple[Array, Array | None]:
    """Validate targets: they as (m, n_out) on ``backend`` in ``dtype``, and the integer
    class labels (m,) they were one-hot encoded from (None unless given as labels).

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
    if is_data_frame(Y) or (hasattr(Y, "to_numpy") and hasattr(Y, "name") and hasattr(Y, "index")):
        Y = np.array(Y.to_numpy())  # a pandas frame or series of targets (a writable copy)
    backend.check_array(Y, name)
    y = backend.asarray(_host_if_sequence(Y, name, dtype=None))
    xp = backend.xp
    target = backend.dtype(dtype)
    if y.ndim == 0 or y.ndim > 2:
        msg = f"{name} must have shape ({m}, {n_out}) or ({m},); got {tuple(y.shape)}"
        raise ValueError(msg)
    if y.shape[0] != m:
        msg = f"{name} has {y.shape[0]} rows but X has {m}; give one target row per example"
        raise ValueError(msg)
    numeric = is_kind(xp, y.dtype, "numeric") or is_kind(xp, y.dtype, "bool")
    if not numeric or is_kind(xp, y.dtype, "complex floating"):
        msg = f"{name} has dtype {_dtype_name(y.dtype)}; targets must be real numbers or integer class labels"
        raise TypeError(msg)
    is_labels = is_kind(xp, y.dtype, "integral") and (y.ndim == 1 or y.shape[1] == 1) and n_out > 1
    if loss_name == "categorical_crossentropy" and is_labels:
        labels = xp.reshape(y, (-1,))
        lo, hi = (int(v) for v in backend.to_numpy(fast_calls(xp).extrema(labels)))  # one read
        if lo < 0 or hi >= n_out:
            msg = (
                f"{name} holds class labels in [{lo}, {hi}] but the network has {n_out} outputs (labels 0..{n_out - 1})"
            )
            raise ValueError(msg)
        return _one_hot(labels, n_out, target, backend), labels
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
    probabilities = loss_name in ("binary_crossentropy", "categorical_crossentropy")
    if probabilities and not bool(xp.all((y >= 0) & (y <= 1))):
        msg = f"{name} must lie in [0, 1] for {loss_name} (0/1 labels or probabilities); got values outside"
        raise ValueError(msg)
    return y, None


def as_sample_weight(sample_weight: Any, m: int, *, name: str = "sample_weight") -> np.ndarray:
    """Per-example weights s_i as a float64 host array of shape (m,).

    Raises
    ------
    ValueError
        Wrong shape, negative or non-finite values, or all zero.
    TypeError
        Not numbers.
    """
    host = np.asarray(_host_if_sequence(sample_weight, name, dtype=None))
    if host.dtype.kind not in "iuf":
        msg = f"{name} must hold real numbers, got dtype {host.dtype}"
        raise TypeError(msg)
    host = host.astype(np.float64)
    if host.shape != (m,):
        msg = f"{name} must have shape ({m},), one weight per training example; got {host.shape}"
        raise ValueError(msg)
    if not (np.all(np.isfinite(host)) and np.all(host >= 0) and np.any(host > 0)):
        msg = f"{name} must hold finite non-negative weights, not all zero"
        raise ValueError(msg)
    return host
