"""Test-only comparison helpers (namespace, shape, dtype and device before values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from backends import Backend, to_numpy

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-6)}


def dtype_name(x: Any) -> str:
    """'float32' / 'float64' for an array of any library."""
    return str(to_numpy(x).dtype)


def assert_on_backend(x: Any, backend: Backend, shape: tuple[int, ...], dtype: str) -> None:
    """x belongs to ``backend``'s library and device, with ``shape`` and ``dtype``."""
    assert backend.owns(x), f"expected a {backend.name} array, got {type(x)}"
    assert backend.array_device_name(x) == backend.device_name
    assert tuple(x.shape) == shape, f"shape {tuple(x.shape)} != {shape}"
    assert dtype_name(x) == dtype


def assert_allclose(actual: Any, desired: Any, dtype: str = "float64", **kw: float) -> None:
    """Values of two arrays of any libraries agree within dtype-aware tolerances."""
    tol = {**TOL[dtype], **kw}
    a, d = to_numpy(actual), to_numpy(desired)
    assert a.shape == d.shape, f"shape {a.shape} != {d.shape}"
    np.testing.assert_allclose(a, d, **tol)


def perturb_off_numpy(monkeypatch: Any, factor: float) -> None:
    """Make every non-NumPy backend's pre-activations Z^[l] off by ``factor``: a fault
    for the parity checks to detect. Patches the affine map the network's passes call."""
    import ffnn.network

    original = ffnn.network.affine

    def affine(W: Any, A_prev: Any, b: Any, /) -> Any:
        Z = original(W, A_prev, b)
        return Z if isinstance(W, np.ndarray) else Z * factor

    monkeypatch.setattr(ffnn.network, "affine", affine)
