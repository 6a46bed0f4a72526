"""The table of array libraries ffnn knows, and how to load each one lazily."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

__all__ = ["LibrarySpec", "LIBRARIES", "BackendUnavailableError", "load_module"]


class BackendUnavailableError(RuntimeError):
    """A known backend cannot be used here (library missing, or no usable device)."""


def _cupy_devices(cupy: ModuleType) -> list[str]:
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - any CUDA failure means "no usable device"
        return []
    return [f"cuda:{i}" for i in range(count)]


def _torch_devices(torch: ModuleType) -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return devices


def _jax_devices(jax: ModuleType) -> list[str]:
    devices = []
    for dev in jax.devices():
        kind = "cpu" if dev.platform == "cpu" else "cuda"
        devices.append(f"{kind}:{dev.id}" if kind != "cpu" else "cpu")
    return sorted(set(devices), key=devices.index)


def _no_extra_devices(module: ModuleType) -> list[str]:
    return ["cpu"]


@dataclass(frozen=True)
class LibrarySpec:
    """One row of the registry.

    Attributes
    ----------
    name : str
        The backend name users pass to ``get_backend``.
    module : str
        The importable module of the array library.
    install : str
        What to install when the module is missing.
    list_devices : callable
        ``list_devices(module) -> list[str]``: the devices usable now, as strings.
    """

    name: str
    module: str
    install: str
    list_devices: Callable[[ModuleType], list[str]]


LIBRARIES: dict[str, LibrarySpec] = {
    spec.name: spec
    for spec in (
        LibrarySpec("numpy", "numpy", "pip install numpy", _no_extra_devices),
        LibrarySpec(
            "cupy",
            "cupy",
            "pip install 'ffnn[cuda12]' (CUDA 12) or 'ffnn[cuda13]' (CUDA 13)",
            _cupy_devices,
        ),
        LibrarySpec("torch", "torch", "pip install 'ffnn[torch]'", _torch_devices),
        LibrarySpec("jax", "jax", "pip install jax", _jax_devices),
        LibrarySpec(
            "array_api_strict",
            "array_api_strict",
            "pip install array-api-strict",
            _no_extra_devices,
        ),
    )
}


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
        msg = f"unknown backend {name!r}; known backends: {known}"
        raise ValueError(msg)
    try:
        return importlib.import_module(spec.module)
    except ImportError as exc:
        msg = f"backend {name!r} needs the {spec.module!r} package, which is not installed: {spec.install}"
        raise BackendUnavailableError(msg) from exc
    except Exception as exc:  # noqa: BLE001 - e.g. cupy built for another CUDA
        msg = f"backend {name!r}: importing {spec.module!r} failed ({exc}); check its installation"
        raise BackendUnavailableError(msg) from exc


def usable_devices(name: str) -> list[str]:
    """Devices backend ``name`` can use now (empty if its library is missing)."""
    try:
        module = load_module(name)
    except BackendUnavailableError:
        return []
    return LIBRARIES[name].list_devices(module)


def installed(name: str) -> bool:
    """Whether the library of backend ``name`` can be found without importing it."""
    return importlib.util.find_spec(LIBRARIES[name].module) is not None


