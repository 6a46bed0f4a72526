"""Portability layer: array libraries, devices and transfers; knows nothing of networks.

This is the only package of the distribution that imports array-api-compat, CuPy,
PyTorch or JAX, and it imports each one only when it is asked for.
"""

from ._backend import (
    Backend,
    BackendStatus,
    available_backends,
    backend_status,
    get_backend,
    gpu_available,
    to_device,
    to_numpy,
)
from ._precision import disable_reduced_precision, reduced_precision_disabled
from ._registry import LIBRARIES, BackendUnavailableError

KNOWN_BACKENDS: tuple[str, ...] = ("auto", *LIBRARIES)

__all__ = [
    "KNOWN_BACKENDS",
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "available_backends",
    "backend_status",
    "disable_reduced_precision",
    "get_backend",
    "gpu_available",
    "reduced_precision_disabled",
    "to_device",
    "to_numpy",
]
