"""The registry of array libraries: one :class:`LibrarySpec` per library, loaded lazily.

Everything that differs between libraries lives in a spec (see ``_libraries.py``);
the rest of the package only reads specs, so supporting a library means adding one.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["LIBRARIES", "BackendUnavailableError", "LibrarySpec", "load_module", "register"]

Restore = Callable[[], None]


class BackendUnavailableError(RuntimeError):
    """A known backend cannot be used here (library missing, or no usable device)."""


def _cpu_only(module: ModuleType) -> list[str]:
    return ["cpu"]


def _no_context(device: Any) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


def _no_sync(device: Any, module: ModuleType, arrays: Sequence[Any]) -> None:
    return None


def _nothing_to_switch() -> tuple[list[str], Restore]:
    return [], lambda: None


def _no_label(module: ModuleType, device: str) -> tuple[str, int] | None:
    return None


def _usable(module: ModuleType, device: str) -> str:
    return ""


def _no_setup(module: ModuleType) -> None:
    return None


def _asarray_from_host(module: ModuleType, xp: ModuleType, host: np.ndarray, dtype: Any, device: Any, copy: Any) -> Any:
    return xp.asarray(host, dtype=dtype, device=device, copy=copy)


@dataclass(frozen=True)
class LibrarySpec:
    """Everything ffnn needs to know about one array library.

    Attributes
    ----------
    name : str
        The backend name users pass to ``get_backend``.
    module : str
        The importable module of the array library.
    install : str
        What to install when the module is missing.
    namespace : callable
        ``namespace(module) -> xp``: the Array API namespace.
    is_namespace : callable
        ``is_namespace(xp) -> bool``: whether a namespace module is this library's
        (array-api-compat's ``is_*_namespace``).
    is_array : callable
        ``is_array(x) -> bool``: whether ``x`` is an array of this library
        (array-api-compat's ``is_*_array``).
    native_device : callable
        ``native_device(module, "cpu" | "cuda:N" | name) -> device object`` for
        ``device=`` arguments.
    device_name : callable
        ``device_name(device_object) -> str``: the inverse, applied to
        ``array_api_compat.device(x)``.
    to_numpy : callable
        ``to_numpy(x) -> numpy.ndarray`` on the host.
    list_devices : callable
        ``list_devices(module) -> list[str]``: devices present now, as strings.
    probe : callable
        ``probe(module, device) -> str``: ``""`` when real work succeeds on the
        device (GPU libraries run a small kernel and a BLAS product), else the reason.
    device_context : callable
        ``device_context(device_object)``: context manager under which creations
        and transfers land on that device (CuPy ignores ``device=``).
    synchronize : callable
        ``synchronize(device_object, module, arrays)``: wait for queued work.
    describe : callable
        ``describe(module, "cuda:N") -> (label, memory_bytes) | None``.
    precision : callable
        ``precision() -> (messages, restore)``: switch reduced-precision modes off.
    setup : callable
        ``setup(module)``: process-wide settings applied when a backend is selected.
    from_host : callable
        ``from_host(module, xp, numpy_array, dtype, device, copy) -> array``: an explicit
        host-to-device transfer (JAX: ``jax.device_put``, which its transfer guard allows).
    gpu : bool
        Whether the library can place arrays on GPUs (``cuda:N`` devices).
    scalar_arrays : bool
        Whether mixing a Python number with an array costs a host-to-device transfer
        on every use (JAX), so that constants should be 0-d device arrays made once
        (:func:`backends.constant`).
    typed_constants : bool
        Whether operations run faster when their numbers are 0-d arrays of the operand's
        dtype than when they are Python numbers (NumPy 2: a Python number goes through
        weak-scalar promotion at every call, about 1 µs, as long as a small array's
        whole product). :func:`backends.constant` then returns such arrays, made once
        per value; the results are the same, bit for bit (the Python number is rounded
        to the operand's dtype either way).
    compile : callable or None
        ``compile(module, fn) -> compiled fn``: the library's whole-function compiler
        (``jax.jit``, ``torch.compile``), or None when it has none.
    immutable : bool
        Whether arrays can never be written in place (JAX): a snapshot may then hold
        the arrays themselves instead of copies, and small bookkeeping functions are
        worth compiling (every eager operation is a separate dispatch).
    """

    name: str
    module: str
    install: str
    namespace: Callable[[ModuleType], ModuleType]
    is_namespace: Callable[[ModuleType], bool]
    is_array: Callable[[Any], bool]
    native_device: Callable[[ModuleType, str], Any]
    device_name: Callable[[Any], str]
    to_numpy: Callable[[Any], np.ndarray]
    list_devices: Callable[[ModuleType], list[str]] = _cpu_only
    probe: Callable[[ModuleType, str], str] = _usable
    device_context: Callable[[Any], contextlib.AbstractContextManager[Any]] = _no_context
    synchronize: Callable[[Any, ModuleType, Sequence[Any]], None] = _no_sync
    describe: Callable[[ModuleType, str], tuple[str, int] | None] = _no_label
    precision: Callable[[], tuple[list[str], Restore]] = _nothing_to_switch
    setup: Callable[[ModuleType], None] = _no_setup
    from_host: Callable[..., Any] = _asarray_from_host
    gpu: bool = False
    scalar_arrays: bool = False
    typed_constants: bool = False
    compile: Callable[[ModuleType, Callable[..., Any]], Callable[..., Any]] | None = None
    immutable: bool = False


LIBRARIES: dict[str, LibrarySpec] = {}

SPEC_OF_TYPE: dict[type, LibrarySpec] = {}
"""The library found for each array type so far (emptied whenever a library is added)."""


def register(spec: LibrarySpec) -> LibrarySpec:
    """Add (or replace) a library in the registry; returns the spec."""
    LIBRARIES[spec.name] = spec
    SPEC_OF_TYPE.clear()  # the new library may own a type seen before
    return spec


def load_module(name: str) -> ModuleType:
    """Import the array library of backend ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known backend (the message lists the known ones).
    BackendUnavailableError
        If the library is not installed (the message says what to install).
    """
    spec = LIBRARIES.get(name)
    if spec is None:
        known = ", ".join(["auto", *LIBRARIES])
        msg = f"unknown backend {name!r}; known backends: {known} (or pass an Array API namespace module or an array)"
        raise ValueError(msg)
    try:
        return importlib.import_module(spec.module)
    except ImportError as exc:
        msg = f"backend {name!r} needs the {spec.module!r} package, which is not installed: {spec.install}"
        raise BackendUnavailableError(msg) from exc
    except Exception as exc:
        msg = f"backend {name!r}: importing {spec.module!r} failed ({exc}); check its installation"
        raise BackendUnavailableError(msg) from exc


def usable_devices(name: str) -> list[str]:
    """Devices backend ``name`` has now (empty if its library is missing)."""
    try:
        module = load_module(name)
    except BackendUnavailableError:
        return []
    return LIBRARIES[name].list_devices(module)


def installed(name: str) -> bool:
    """Whether the library of backend ``name`` can be found without importing it."""
    return importlib.util.find_spec(LIBRARIES[name].module) is not None
