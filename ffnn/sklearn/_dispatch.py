"""scikit-learn's array API dispatch for the estimators: where X lives, training happens."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import get_config

from backends import Backend, get_backend, to_numpy

__all__ = ["as_dispatchable", "backend_of", "dispatch_enabled", "float_dtypes", "host", "is_host"]

_LIBRARIES = {"torch": "torch", "cupy": "cupy", "jax": "jax", "jaxlib": "jax", "array_api_strict": "array_api_strict"}


def dispatch_enabled() -> bool:
    """Whether ``sklearn.set_config(array_api_dispatch=True)`` is in effect."""
    return bool(get_config()["array_api_dispatch"])


def is_host(x: Any) -> bool:
    """NumPy arrays, sparse matrices, lists, data frames: anything that is not a device library's array."""
    return type(x).__module__.split(".")[0] not in _LIBRARIES


def backend_of(x: Any) -> Backend:
    """The ffnn Backend (library and device) that holds array ``x``.

    Raises
    ------
    TypeError
        ``x`` is not an array of a library ffnn knows.
    """
    library = _LIBRARIES.get(type(x).__module__.split(".")[0])
    if library is None:
        msg = (
            f"array API dispatch got a {type(x).__name__}; "
            "ffnn trains on numpy, cupy, torch, jax or array_api_strict arrays"
        )
        raise TypeError(msg)
    probe = get_backend(library)
    return get_backend(library, probe.array_device_name(x))


def host(x: Any) -> np.ndarray:
    """A NumPy copy or view of any array or array-like (device arrays are copied to the host once)."""
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x) if is_host(x) else to_numpy(x)


def float_dtypes(X: Any) -> tuple[Any, Any]:
    """(float64, float32) of X's namespace under dispatch, else NumPy's: what validate_data accepts."""
    if dispatch_enabled() and not is_host(X):
        from sklearn.utils._array_api import get_namespace

        xp, _ = get_namespace(X)
        return (xp.float64, xp.float32)
    return (np.float64, np.float32)


def as_dispatchable(a: Any) -> Any:
    """``a`` unchanged, or as a NumPy array when dispatch is on and ``a`` is an array-like
    no array API namespace claims (an object with only ``__array__``), as MLP reads it."""
    if a is None or not dispatch_enabled():
        return a
    from sklearn.utils._array_api import get_namespace

    try:
        get_namespace(a)
    except TypeError:
        return np.asarray(a)
    return a
