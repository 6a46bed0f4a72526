"""Compare arrays of any backends within a norm-wise tolerance: :func:`assert_close`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from backends import to_numpy

from .._validation import Interval

__all__ = ["RTOL", "TRAINING_RTOL", "assert_close", "check_tolerance", "difference"]

#: Default relative tolerance of :func:`assert_close`: ONE evaluation (a forward
#: pass, a cost, a backward pass) computed by two libraries. About 4500 float64
#: and 80 float32 machine epsilons: room for sums of a few thousand terms added in
#: different orders (BLAS blocking, GPU reductions), with rounding far below it.
RTOL: dict[str, float] = {"float64": 1e-12, "float32": 1e-5, "float16": 1e-3}

#: Default relative tolerance of :func:`compare_backends`: after TRAINING, where
#: each step's rounding differences feed the next step's inputs and grow slowly.
TRAINING_RTOL: dict[str, float] = {"float64": 1e-10, "float32": 1e-4}

_TINY = float(np.finfo(np.float64).tiny)
_EPS_NAMES = {float(np.finfo(np.dtype(name)).eps): name for name in RTOL}


# ---------------------------------------------------------------------------- array comparison
@dataclass(frozen=True)
class _Difference:
    """How far ``actual`` is from ``desired``, both host arrays of one shape."""

    abs: float
    scale: float
    index: tuple[int, ...]
    actual: Any
    desired: Any
    elem_rel: float
    elem_index: tuple[int, ...]
    nonfinite_mismatches: int
    size: int

    @property
    def rel(self) -> float:
        """max|a − d| / max(max|d|, tiny): the norm-wise relative difference."""
        return 0.0 if self.abs == 0 else self.abs / max(self.scale, _TINY)

    def within(self, rtol: float, atol: float) -> bool:
        return self.nonfinite_mismatches == 0 and self.abs <= atol + rtol * self.scale


def difference(a: np.ndarray, d: np.ndarray) -> _Difference:
    """The largest absolute and relative (per array: max|a − d| / max|d|) difference of two host
    arrays, and where it is."""
    work = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(d) else np.float64
    a64, d64 = a.astype(work), d.astype(work)
    both = np.isfinite(a64) & np.isfinite(d64)
    same_nonfinite = (a64 == d64) | (np.isnan(a64) & np.isnan(d64))
    bad = ~both & ~same_nonfinite
    err = np.abs(np.where(both, a64, 0) - np.where(both, d64, 0))
    err = np.where(bad, np.inf, err)
    mag = np.where(both, np.abs(d64), 0.0)
    elem = np.where(err > 0, err / np.maximum(mag, _TINY), 0.0)
    where = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
    elem_where = np.unravel_index(int(np.argmax(elem)), elem.shape) if elem.size else ()
    return _Difference(
        abs=float(err.max(initial=0.0)),
        scale=float(mag.max(initial=0.0)),
        index=tuple(int(i) for i in where),
        actual=a[where].tolist() if err.size else None,
        desired=d[where].tolist() if err.size else None,
        elem_rel=float(elem.max(initial=0.0)),
        elem_index=tuple(int(i) for i in elem_where),
        nonfinite_mismatches=int(bad.sum()),
        size=int(err.size),
    )


def _default_rtol(*dtypes: np.dtype) -> float:
    """The tolerance of the least precise floating dtype; 0 (exact) for integers and booleans."""
    eps = [float(np.finfo(dt).eps) for dt in dtypes if np.issubdtype(dt, np.inexact)]
    if not eps:
        return 0.0
    return RTOL.get(_EPS_NAMES.get(max(eps), ""), 100 * max(eps))


def check_tolerance(value: float | None, name: str) -> None:
    """Refuse a tolerance that is not a non-negative finite number (None means the dtype's default)."""
    if value is not None:
        Interval(0, None).check(value, name)


def assert_close(actual: Any, desired: Any, *, rtol: float | None = None, atol: float | None = None) -> None:
    """Assert that two arrays of any backends hold the same values within a tolerance.

    Both are copied to the host (:func:`backends.to_numpy`), so a torch tensor on a
    GPU can be compared with a NumPy array; the library, device and dtype are not
    compared, only shapes and values (differences are taken in float64).

    The criterion is norm-wise, per array::

        max|a − d| ≤ atol + rtol · max|d|

    i.e. the relative difference ``max|a − d| / max(max|d|, tiny)`` is at most
    ``rtol`` (``tiny`` is the smallest normal float64, for all-zero ``d``). It
    measures each entry's error against the array's scale rather than the entry
    itself: two libraries sum a matrix product's terms in different orders, which
    changes each entry by a few ulps *of the terms' magnitudes*, so an entry that
    cancels to near zero has a large element-wise relative error that is no sign of
    disagreement. NaN and ±inf must sit at the same places in both arrays.

    Parameters
    ----------
    actual, desired : array_like
        Arrays of NumPy, CuPy, PyTorch, JAX or array-api-strict, or Python numbers
        and nested lists; same shape.
    rtol : float, optional
        Default by the less precise of the two dtypes, :data:`RTOL`: float64 1e-12,
        float32 1e-5, float16 1e-3; 0 (exact equality) for integers and booleans.
    atol : float, optional
        Absolute floor, default 0 (needed only when ``desired`` is all zeros).

    Raises
    ------
    AssertionError
        Shapes differ, or the criterion fails; the message gives the largest
        absolute difference and its index (with both values there), the norm-wise
        relative difference, the largest element-wise relative difference and its
        index, and how many entries exceed ``atol + rtol·max|d|``.
    ValueError
        ``rtol`` or ``atol`` negative or not a number.
    """
    check_tolerance(rtol, "rtol")
    check_tolerance(atol, "atol")
    a, d = to_numpy(actual), to_numpy(desired)
    if a.shape != d.shape:
        msg = f"shapes differ: actual {a.shape}, desired {d.shape}"
        raise AssertionError(msg)
    rtol = _default_rtol(a.dtype, d.dtype) if rtol is None else float(rtol)
    atol = 0.0 if atol is None else float(atol)
    diff = difference(a, d)
    if not diff.within(rtol, atol):
        raise AssertionError(_describe(diff, rtol, atol, a.dtype, d.dtype))


def _describe(diff: _Difference, rtol: float, atol: float, a_dtype: np.dtype, d_dtype: np.dtype) -> str:
    bound = atol + rtol * diff.scale
    criterion = f"max|a - d| <= atol + rtol * max|d| with rtol={rtol:g}, atol={atol:g}, bound={bound:.3g}"
    where = f"at index {diff.index} (actual {diff.actual!r}, desired {diff.desired!r})"
    lines = [
        f"arrays are not close (actual {a_dtype}, desired {d_dtype}; criterion {criterion})",
        f"  max abs difference: {diff.abs:.6g} {where}",
        f"  max rel difference: {diff.rel:.6g} (max abs difference / max|desired| = {diff.scale:.6g})",
        f"  max element-wise rel difference: {diff.elem_rel:.6g} at index {diff.elem_index}",
    ]
    if diff.nonfinite_mismatches:
        lines.append(f"  NaN/inf at different places: {diff.nonfinite_mismatches} of {diff.size} entries")
    return "\n".join(lines)
