"""Portability layer: array libraries, devices and transfers; knows nothing of networks.

This is the only package of the distribution that imports array-api-compat, CuPy,
PyTorch or JAX, and it imports each one only when it is asked for. Each library is
one :class:`LibrarySpec` in the registry (``_libraries.py``); any other Array API
namespace can be passed to :func:`get_backend` as a module or an array.
"""

from ._backend import (
    MIN_ARRAY_API_VERSION,
    Backend,
    BackendStatus,
    FastCalls,
    available_backends,
    backend_status,
    caster,
    constant,
    device_of,
    fast_calls,
    get_backend,
    gpu_available,
    namespace_spec,
    reductions,
    to_device,
    to_numpy,
    total,
)
from ._precision import disable_reduced_precision, reduced_precision_disabled
from ._registry import LIBRARIES, BackendUnavailableError, LibrarySpec, register
from ._threads import set_threads, thread_pools

KNOWN_BACKENDS: tuple[str, ...] = ("auto", *LIBRARIES)

__all__ = [
    "KNOWN_BACKENDS",
    "LIBRARIES",
    "MIN_ARRAY_API_VERSION",
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "LibrarySpec",
    "available_backends",
    "backend_status",
    "FastCalls",
    "caster",
    "constant",
    "device_of",
    "disable_reduced_precision",
    "get_backend",
    "gpu_available",
    "namespace_spec",
    "reduced_precision_disabled",
    "fast_calls",
    "reductions",
    "total",
    "register",
    "set_threads",
    "thread_pools",
    "to_device",
    "to_numpy",
]
