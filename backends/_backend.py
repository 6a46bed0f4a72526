"""The `Backend` object: one array library on one device, and the selector that builds it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from ._registry import LIBRARIES, BackendUnavailableError, load_module

__all__ = [
    "Backend",
    "BackendStatus",
    "get_backend",
    "available_backends",
    "backend_status",
    "gpu_available",
    "to_device",
    "to_numpy",
]

_FLOAT_DTYPES = ("float32", "float64")
_CUDA = re.compile(r"^(?:cuda|gpu)(?::(\d+))?$")


def _parse_device(device: Any) -> str:
    """Normalise a device request to ``"cpu"``, ``"cuda:N"`` or a library-native name."""
    if device is None:
        return ""
    text = str(device).strip().lower()
    match = _CUDA.match(text)
    if match:
        return f"cuda:{match.group(1) or 0}"
    if text.startswith("<cuda device "):  # cupy.cuda.Device
        return f"cuda:{text.split()[-1].rstrip('>')}"
    return str(device).strip() if text not in ("cpu",) else "cpu"


def _refuse_device(name: str, device: str, usable: list[str]) -> BackendUnavailableError:
    if device.startswith("cuda") and name in ("numpy", "array_api_strict"):
        msg = (
            f"backend {name!r} cannot use device {device!r}: no usable CUDA device was found for it "
            "(it runs on the CPU only); use device='cpu', or backend='cupy' / 'torch' on a machine with a GPU"
        )
    elif device.startswith("cuda") and not any(d.startswith("cuda") for d in usable):
        msg = (
            f"backend {name!r} cannot use device {device!r}: no usable CUDA device was found; "
            "use device='cpu', or backend='numpy' / 'auto'"
        )
    else:
        msg = f"backend {name!r} has no device {device!r}; usable devices: {', '.join(usable) or 'none'}"
    return BackendUnavailableError(msg)


def _native_device(name: str, module: ModuleType, device: str) -> Any:
    """The library's own device object for a normalised device string."""
    if name == "torch":
        return module.device(device)
    if name == "cupy":
        return module.cuda.Device(int(device.split(":")[1]))
    if name == "jax":
        platform, _, index = device.partition(":")
        devices = module.devices("cpu" if platform == "cpu" else "gpu")
        return devices[int(index or 0)]
    if name == "array_api_strict":
        return module.Device("CPU_DEVICE" if device == "cpu" else device)
    return "cpu"


def _resolve_device(name: str, module: ModuleType, device: str) -> str:
    usable = LIBRARIES[name].list_devices(module)
    if name == "cupy" and not usable:
        msg = (
            "backend 'cupy' is installed but no usable CUDA device was found "
            "(no GPU, or the driver does not match this CuPy build); "
            "use backend='numpy' or backend='auto'"
        )
        raise BackendUnavailableError(msg)
    if not device:
        return usable[0]
    if name == "array_api_strict" and device not in usable:
        names = [str(d.__repr__()).split("'")[1] for d in module.__array_namespace_info__().devices()]
        if device in names:
            return device
        usable = usable + names
    if device not in usable:
        raise _refuse_device(name, device, usable)
    return device


@dataclass(eq=False)
class Backend:
    """One array library on one device: everything ``ffnn`` needs to place arrays.

    Build it with :func:`get_backend`; the network code uses ``xp`` (an Array API
    namespace) and never the library itself.

    Attributes
    ----------
    name : str
        Registry name: ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"`` or
        ``"array_api_strict"``.
    xp : module
        The Array API namespace (through array-api-compat where needed).
    device : object
        The library's native device object, for ``device=`` arguments.
    device_name : str
        ``"cpu"``, ``"cuda:N"`` or, for array_api_strict, the device's own name.
    is_gpu : bool
        Whether arrays live in GPU memory.
    """

    name: str
    xp: ModuleType
    device: Any
    device_name: str
    module: ModuleType = field(repr=False)

    @property
    def is_gpu(self) -> bool:
        """Whether the arrays live in GPU memory (device ``cuda:N``)."""
        return self.device_name.startswith("cuda")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Backend):
            return NotImplemented
        return (self.name, self.device_name) == (other.name, other.device_name)

    def __hash__(self) -> int:
        return hash((self.name, self.device_name))

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device_name!r})"

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        """Copies and pickles rebuild the backend by name and device (modules don't pickle)."""
        return (get_backend, (self.name, self.device_name))

    def dtype(self, name: str) -> Any:
        """The namespace's dtype object for ``"float32"`` or ``"float64"``.

        Raises
        ------
        ValueError
            For any other name.
        """
        if name not in _FLOAT_DTYPES:
            msg = f"dtype must be one of {', '.join(_FLOAT_DTYPES)}, got {name!r}"
            raise ValueError(msg)
        return getattr(self.xp, name)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's library (on any device)."""
        return _library_of(x) == self.name

    def array_device_name(self, x: Any) -> str:
        """The normalised device string of an array of this library."""
        return _parse_device(_array_device(self.name, x))

    def asarray(self, obj: Any, *, dtype: Any = None, copy: bool | None = None) -> Any:
        """``obj`` as an array of this backend, on its device.

        Parameters
        ----------
        obj : array_like
            A NumPy array, nested lists or scalars (read with NumPy's dtype rules,
            so ``[1.0]`` is float64 everywhere, then copied to the device), an array
            of this backend's library on the same device (no copy when ``dtype``
            matches), or another library's array that DLPack can share on the same
            device.
        dtype : dtype, optional
            Target dtype of this namespace (see :meth:`dtype`).
        copy : bool, optional
            ``True`` always copies (the result never shares memory with ``obj``, which
            some libraries, e.g. PyTorch with NumPy input, would otherwise do);
            ``None`` copies only when needed.

        Raises
        ------
        TypeError
            If ``obj`` is another library's array that cannot be shared without a
            transfer, or this library's array on another device; the message points
            at :func:`backends.to_device`.
        """
        source = _library_of(obj)
        if source is None or source == "numpy" and self.name != "numpy":
            if source is None:  # lists and scalars: NumPy's dtype rules on every backend
                obj = np.asarray(obj)
            host_dtype = _host_float_dtype(dtype)
            if host_dtype is not None and obj.dtype.kind == "f" and obj.dtype != host_dtype:
                obj = obj.astype(host_dtype)  # cast before the transfer: float64 → float32 moves half the bytes
                copy = None if copy else copy  # the cast made a private array: sharing it is safe
            if self.name == "cupy":
                with self.device:
                    return self.xp.asarray(obj, dtype=dtype, copy=copy)
            return self.xp.asarray(obj, dtype=dtype, device=self.device, copy=copy)
        if source == self.name:
            here = self.array_device_name(obj)
            if here != self.device_name:
                raise TypeError(_transfer_hint(source, here, self))
            if copy:
                return self.xp.asarray(obj, dtype=dtype, copy=True)
            return obj if dtype is None or obj.dtype == dtype else self.xp.astype(obj, dtype)
        try:
            shared = self.xp.from_dlpack(obj)
        except Exception as exc:  # noqa: BLE001 - each library raises its own type
            raise TypeError(_transfer_hint(source, _foreign_device(source, obj), self)) from exc
        if self.array_device_name(shared) != self.device_name:
            raise TypeError(_transfer_hint(source, _foreign_device(source, obj), self))
        if copy:
            return self.xp.asarray(shared, dtype=dtype, copy=True)
        return shared if dtype is None else self.xp.astype(shared, dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        """The host (NumPy) version of an array of this backend; see :func:`backends.to_numpy`."""
        return to_numpy(x)

    def synchronize(self, *arrays: Any) -> None:
        """Wait until queued work on the device (and on ``arrays``, for JAX) is done."""
        if self.name == "cupy":
            self.device.synchronize()
        elif self.name == "torch" and self.is_gpu:
            self.module.cuda.synchronize(self.device)
        elif self.name == "jax":
            for a in arrays:
                a.block_until_ready()


def _host_float_dtype(dtype: Any) -> np.dtype | None:
    """NumPy's float32/float64 for a float dtype of any namespace, else None."""
    if dtype is None:
        return None
    name = getattr(dtype, "__name__", None) or str(dtype).rsplit(".", 1)[-1]
    return np.dtype(name) if name in ("float32", "float64") else None


def _transfer_hint(source: str, where: str, target: Backend) -> str:
    return (
        f"got a {source} array on {where}, but this network uses {target.name} on "
        f"{target.device_name}; move it first with "
        f"backends.to_device(x, {target.name!r}, device={target.device_name!r})"
    )


def _library_of(x: Any) -> str | None:
    """Registry name of the library that owns array ``x``, or None for non-arrays."""
    if isinstance(x, np.ndarray):
        return "numpy"
    module = type(x).__module__.split(".")[0]
    names = {"cupy": "cupy", "torch": "torch", "jax": "jax", "jaxlib": "jax", "array_api_strict": "array_api_strict"}
    return names.get(module)


def _array_device(library: str, x: Any) -> Any:
    if library == "cupy":
        return f"cuda:{x.device.id}"
    if library == "jax":
        (dev,) = x.devices()
        return "cpu" if dev.platform == "cpu" else f"cuda:{dev.id}"
    if library == "array_api_strict":
        name = repr(x.device).split("'")[1]
        return "cpu" if name == "CPU_DEVICE" else name
    if library == "torch":
        return str(x.device)
    return "cpu"


def _foreign_device(library: str, x: Any) -> str:
    return _parse_device(_array_device(library, x))


def _namespace(name: str, module: ModuleType) -> ModuleType:
    if name in ("numpy", "cupy", "torch"):
        import importlib

        return importlib.import_module(f"array_api_compat.{name}")
    if name == "jax":
        return module.numpy
    return module


def get_backend(name: str | Backend = "auto", device: Any = None) -> Backend:
    """Select an array library and device.

    Parameters
    ----------
    name : str or Backend
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"`` or
        ``"auto"`` (CuPy when a CUDA device is usable, else NumPy; ``device="cpu"``
        forces NumPy). A ``Backend`` is returned as is (moved to ``device`` if given).
    device : str, optional
        PyTorch-style device: ``"cpu"``, ``"gpu"`` / ``"cuda"`` (device 0),
        ``"cuda:N"``; array_api_strict also takes its own names (``"device1"``).
        ``None`` picks the library's default (GPU 0 for CuPy, CPU otherwise).

    Notes
    -----
    Selecting ``"jax"`` switches on JAX's ``jax_enable_x64`` (a process-wide
    setting) so that float64 networks hold float64 arrays.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown backend name (the message lists the known ones).
    BackendUnavailableError
        The library is not installed (the message names the extra to install), CuPy
        has no usable GPU, or the backend lacks the requested device.
    """
    if isinstance(name, Backend):
        return name if device is None else get_backend(name.name, device)
    if isinstance(name, str):
        name = name.strip().lower()
    wanted = _parse_device(device)
    if name == "auto":
        name = "cupy" if wanted != "cpu" and gpu_available("cupy") else "numpy"
        if name == "numpy" and wanted.startswith("cuda"):
            raise _refuse_device("auto", wanted, ["cpu"])
    module = load_module(name)
    if name == "jax":  # float64 networks need 64-bit JAX arrays (off by default in JAX)
        module.config.update("jax_enable_x64", True)
    resolved = _resolve_device(name, module, wanted)
    return Backend(
        name=name,
        xp=_namespace(name, module),
        device=_native_device(name, module, resolved),
        device_name=resolved,
        module=module,
    )


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def describe_device(name: str, module: ModuleType, device: str) -> str:
    """A person-readable label: ``"cpu"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB)"``.

    Falls back to the bare device string when the library cannot say more.
    """
    if not device.startswith("cuda"):
        return device
    index = int(device.split(":")[1])
    try:
        if name == "cupy":
            props = module.cuda.runtime.getDeviceProperties(index)
            label, memory = props["name"], props["totalGlobalMem"]
            label = label.decode() if isinstance(label, bytes) else label
        elif name == "torch":
            props = module.cuda.get_device_properties(index)
            label, memory = props.name, props.total_memory
        elif name == "jax":
            dev = _native_device(name, module, device)
            label, memory = dev.device_kind, (dev.memory_stats() or {}).get("bytes_limit", 0)
        else:
            return device
    except Exception:  # noqa: BLE001 - a label is a courtesy; never fail on it
        return device
    return f"{device} ({label}, {_gib(memory)})" if memory else f"{device} ({label})"


@dataclass(frozen=True)
class BackendStatus:
    """What is known about one backend on this machine (see :func:`backend_status`)."""

    name: str
    installed: bool
    usable: bool
    version: str | None
    devices: tuple[str, ...]
    reason: str
    install: str
    device_labels: tuple[str, ...] = ()


def backend_status(name: str) -> BackendStatus:
    """Installed / usable status, version, devices (with GPU name and memory in
    ``device_labels``) and the reason if unusable.

    Importing the library is attempted (this is the one function that does so for
    every backend it is asked about).
    """
    spec = LIBRARIES.get(name)
    if spec is None:
        load_module(name)  # raises the ValueError listing the known names
    try:
        module = load_module(name)
    except BackendUnavailableError as exc:
        return BackendStatus(name, False, False, None, (), str(exc), spec.install)
    devices = tuple(spec.list_devices(module))
    reason = "" if devices else "installed, but no usable CUDA device was found"
    version = getattr(module, "__version__", None)
    labels = tuple(describe_device(name, module, d) for d in devices)
    return BackendStatus(name, True, bool(devices), version, devices, reason, spec.install, labels)


def available_backends() -> list[str]:
    """Names of the backends that are installed and have a usable device."""
    return [name for name in LIBRARIES if backend_status(name).usable]


def gpu_available(name: str | None = None) -> bool:
    """Whether a CUDA device is usable, through backend ``name`` or any GPU library.

    Never raises: a missing library or a broken driver means ``False``.
    """
    names = [name] if name else ["cupy", "torch", "jax"]
    for lib in names:
        try:
            module = load_module(lib)
        except BackendUnavailableError:
            continue
        if any(d.startswith("cuda") for d in LIBRARIES[lib].list_devices(module)):
            return True
    return False


def to_numpy(x: Any) -> np.ndarray:
    """An array of any supported library on the host, as a NumPy array.

    Device arrays (CuPy, PyTorch on CUDA) are copied; NumPy arrays are returned as
    they are, and CPU arrays of PyTorch and JAX may come back as views sharing
    memory (JAX's read-only): use ``np.array(to_numpy(x))`` for a private,
    writable copy. Nested lists are converted.
    """
    library = _library_of(x)
    if library == "cupy":
        return x.get()
    if library == "torch":
        return x.detach().cpu().resolve_conj().numpy()
    if library == "array_api_strict":
        import array_api_strict

        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.asarray(x)


def to_device(x: Any, backend: str | Backend, device: Any = None) -> Any:
    """Move an array of any library onto ``backend`` (name or Backend) and device.

    Uses DLPack when the two share a device, else a copy through host memory.
    The dtype is kept.
    """
    target = get_backend(backend, device)
    if _library_of(x) == target.name and target.array_device_name(x) == target.device_name:
        return x
    try:
        return target.asarray(x)
    except TypeError:
        return target.asarray(to_numpy(x))
