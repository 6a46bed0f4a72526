"""The `Backend` object: one array library on one device, and the selector that builds it.

Nothing here names a library: what differs between libraries is in their
:class:`~backends._registry.LibrarySpec` (``_libraries.py``), and a namespace that
is not registered (dask, ndonnx, ...) gets a generic spec built from the Array API
itself (:func:`namespace_spec`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
from dataclasses import dataclass, field
from math import copysign
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from . import _libraries  # noqa: F401 - registers the known libraries
from ._registry import LIBRARIES, SPEC_OF_TYPE, BackendUnavailableError, LibrarySpec, _cpu_only, load_module

__all__ = [
    "MIN_ARRAY_API_VERSION",
    "Backend",
    "BackendStatus",
    "available_backends",
    "backend_status",
    "device_of",
    "get_backend",
    "gpu_available",
    "to_device",
    "to_numpy",
]

MIN_ARRAY_API_VERSION = "2024.12"
"""Oldest Array API standard ffnn runs on: 2024.12 is the first revision whose
element-wise functions take Python scalars (``xp.maximum(Z, 0.0)``)."""

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


def _refuse_device(
    spec_name: str, gpu: bool, device: str, usable: list[str], reasons: dict[str, str]
) -> BackendUnavailableError:
    why = "; ".join(f"{d}: {r}" for d, r in reasons.items())
    why = f" ({why})" if why else ""
    if device.startswith("cuda") and not gpu:
        msg = (
            f"backend {spec_name!r} cannot use device {device!r}: no usable CUDA device was found for it "
            "(it runs on the CPU only); use device='cpu', or backend='cupy' / 'torch' on a machine with a GPU"
        )
    elif device.startswith("cuda") and not any(d.startswith("cuda") for d in usable):
        msg = (
            f"backend {spec_name!r} cannot use device {device!r}: no usable CUDA device was found{why}; "
            "use device='cpu', or backend='numpy' / 'auto'"
        )
    else:
        msg = f"backend {spec_name!r} has no device {device!r}; usable devices: {', '.join(usable) or 'none'}{why}"
    return BackendUnavailableError(msg)


_PROBES: dict[tuple[str, int, str], str] = {}


def _usable_devices(spec: LibrarySpec, module: ModuleType) -> tuple[list[str], dict[str, str]]:
    """The devices on which real work succeeds, and the reason for each one that fails.

    GPU devices are probed once per process (a small kernel and a BLAS product)."""
    usable, reasons = [], {}
    for device in spec.list_devices(module):
        if device.startswith("cuda"):
            key = (spec.name, id(module), device)
            if key not in _PROBES:
                _PROBES[key] = spec.probe(module, device)
            if _PROBES[key]:
                reasons[device] = _PROBES[key]
                continue
        usable.append(device)
    return usable, reasons


def _resolve_device(spec: LibrarySpec, module: ModuleType, device: str) -> str:
    usable, reasons = _usable_devices(spec, module)
    if not usable:
        why = "; ".join(f"{d}: {r}" for d, r in reasons.items()) or "no GPU, or the driver does not match this build"
        msg = (
            f"backend {spec.name!r} is installed but no usable CUDA device was found ({why}); "
            "use backend='numpy' or backend='auto'"
        )
        raise BackendUnavailableError(msg)
    if not device:
        return usable[0]
    if device not in usable:
        raise _refuse_device(spec.name, spec.gpu, device, usable, reasons)
    return device


def _check_api_version(xp: ModuleType, label: str) -> None:
    """Refuse a namespace older than :data:`MIN_ARRAY_API_VERSION`, naming the way out."""
    version = getattr(xp, "__array_api_version__", None)
    if not isinstance(version, str) or version < MIN_ARRAY_API_VERSION:
        said = f"Array API standard {version}" if version else "no __array_api_version__"
        msg = (
            f"backend {label!r}: its namespace {getattr(xp, '__name__', xp)!r} declares {said}, but ffnn needs "
            f"{MIN_ARRAY_API_VERSION} or newer (element-wise functions with Python scalars, e.g. "
            "xp.maximum(Z, 0.0)); upgrade the library and array-api-compat, or select a newer standard "
            "where the library lets you (array_api_strict.set_array_api_strict_flags(api_version=...))"
        )
        raise BackendUnavailableError(msg)


@dataclass(eq=False)
class Backend:
    """One array library on one device: everything ``ffnn`` needs to place arrays.

    Build it with :func:`get_backend`; the network code uses ``xp`` (an Array API
    namespace) and never the library itself.

    Attributes
    ----------
    name : str
        Registry name (``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``,
        ``"array_api_strict"``) or, for a namespace passed as a module, its short
        name (``"dask"``).
    xp : module
        The Array API namespace (through array-api-compat where needed).
    device : object
        The library's native device object, for ``device=`` arguments.
    device_name : str
        ``"cpu"``, ``"cuda:N"`` or, for array_api_strict, the device's own name.
    module : module
        The library itself.
    spec : LibrarySpec
        What differs between libraries (see ``backends._registry.LibrarySpec``).
    """

    name: str
    xp: ModuleType
    device: Any
    device_name: str
    module: ModuleType = field(repr=False)
    spec: LibrarySpec = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = LIBRARIES[self.name]

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
        if self.name in LIBRARIES and LIBRARIES[self.name] is self.spec:
            return (get_backend, (self.name, self.device_name))
        return (_backend_of_namespace_name, (self.xp.__name__, self.device_name))

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
        return bool(self.spec.is_array(x))

    def array_device_name(self, x: Any) -> str:
        """The normalised device string (``"cpu"``, ``"cuda:N"``, a native name) of an array."""
        return _device_name_of(x, self.spec)

    def on_device(self) -> contextlib.AbstractContextManager[Any]:
        """Context manager under which every array creation lands on this backend's device.

        CuPy ignores ``device=`` in array-api-compat and creates arrays on the
        *current* device: run ffnn's computations for ``cuda:N`` inside
        ``with backend.on_device():``. A no-op for the other libraries.
        """
        return self.spec.device_context(self.device)

    def check_array(self, x: Any, name: str = "x") -> None:
        """Refuse an array that lives on another device than this backend's.

        Host data (NumPy arrays, lists, scalars) is always accepted (it is copied
        to the device). An array of this library must be on this device; another
        library's array must be on the same device (it is then shared through
        DLPack). Call it before any conversion, from input validation.

        Raises
        ------
        TypeError
            Naming the array, both devices and the fix,
            ``backends.to_device(x, backend)``.
        """
        source = _spec_of(x)
        if source is None or source.name == "numpy":
            return
        here = _device_name_of(x, source)
        if here != self.device_name:
            raise TypeError(_transfer_hint(source.name, here, self, name))

    def asarray(self, obj: Any, *, dtype: Any = None, copy: bool | None = None) -> Any:
        """``obj`` as an array of this backend, on its device.

        Parameters
        ----------
        obj : array_like
            A NumPy array, nested lists or scalars (read with NumPy's dtype rules,
            so ``[1.0]`` is float64 everywhere, then copied to the device), an array
            of this backend's library on the same device (no copy when ``dtype``
            matches), or another library's array on the same device (shared with
            DLPack).
        dtype : dtype, optional
            Target dtype of this namespace (see :meth:`dtype`).
        copy : bool, optional
            ``True`` always copies (the result never shares memory with ``obj``, which
            some libraries, e.g. PyTorch with NumPy input, would otherwise do);
            ``None`` copies only when needed.

        Raises
        ------
        TypeError
            If ``obj`` is an array on another device than this backend's (any
            library), or another library's array that DLPack cannot share; the
            message points at :func:`backends.to_device`.
        """
        source = _spec_of(obj)
        with self.on_device():
            if source is None or source.name == "numpy" and self.spec.name != "numpy":
                if source is None:  # lists and scalars: NumPy's dtype rules on every backend
                    obj = np.asarray(obj)
                host_dtype = _host_float_dtype(dtype)
                if host_dtype is not None and obj.dtype.kind == "f" and obj.dtype != host_dtype:
                    obj = obj.astype(host_dtype)  # cast before the transfer: float64 → float32 moves half the bytes
                    copy = None if copy else copy  # the cast made a private array: sharing it is safe
                return self.spec.from_host(self.module, self.xp, obj, dtype, self.device, copy)
            self.check_array(obj, "the array")
            if source is self.spec:
                if copy:
                    return self.xp.asarray(obj, dtype=dtype, copy=True)
                return obj if dtype is None or obj.dtype == dtype else self.xp.astype(obj, dtype)
            try:
                shared = self.xp.from_dlpack(obj)
            except Exception as exc:
                raise TypeError(_transfer_hint(source.name, _device_name_of(obj, source), self)) from exc
            if self.array_device_name(shared) != self.device_name:
                raise TypeError(_transfer_hint(source.name, _device_name_of(obj, source), self))
            if copy:
                return self.xp.asarray(shared, dtype=dtype, copy=True)
            return shared if dtype is None else self.xp.astype(shared, dtype)

    def scalar(self, value: Any, dtype: Any) -> Any:
        """A 0-d array holding ``value`` on this device, made by one explicit transfer.

        Make the Python numbers of a loop (learning rates, 1/m, ...) into device
        scalars once, outside the loop: mixing Python scalars with JAX arrays is an
        implicit host-to-device transfer on every use (refused under
        ``jax.transfer_guard("disallow")``).

        Parameters
        ----------
        value : float or int or bool
        dtype : dtype
            A dtype of this namespace (see :meth:`dtype`).
        """
        host = np.asarray(value, dtype=_host_float_dtype(dtype) or _host_dtype_of(dtype))
        with self.on_device():
            return self.spec.from_host(self.module, self.xp, host, dtype, self.device, None)

    @property
    def can_compile(self) -> bool:
        """Whether the library has a whole-function compiler (:meth:`compile`)."""
        return self.spec.compile is not None

    def compile(self, fn: Any) -> Any:
        """``fn`` compiled whole by the library's compiler: ``jax.jit`` for jax,
        ``torch.compile`` for torch. ``fn`` must be a function of arrays (and dicts
        and tuples of them) that returns arrays; under jax it must also be pure.

        Raises
        ------
        ValueError
            The library has no compiler (numpy, cupy, array_api_strict, ...); the
            message names the backends that have one.
        """
        if self.spec.compile is None:
            able = [name for name, spec in LIBRARIES.items() if spec.compile is not None]
            msg = (
                f"backend {self.name!r} has no compiler; compiled training steps need one of "
                f"{', '.join(able)} (e.g. Network(..., backend='jax')), or train without compile"
            )
            raise ValueError(msg)
        return self.spec.compile(self.module, fn)

    def to_numpy(self, x: Any) -> np.ndarray:
        """The host (NumPy) version of an array of this backend; see :func:`backends.to_numpy`."""
        return to_numpy(x)

    def synchronize(self, *arrays: Any) -> None:
        """Wait until queued work on the device (and on ``arrays``, for JAX) is done."""
        self.spec.synchronize(self.device, self.module, arrays)

    def describe(self) -> str:
        """``"cpu"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB)"``."""
        return describe_device(self.spec, self.module, self.device_name)


def _host_float_dtype(dtype: Any) -> np.dtype | None:
    """NumPy's float32/float64 for a float dtype of any namespace, else None."""
    if dtype is None:
        return None
    name = getattr(dtype, "__name__", None) or str(dtype).rsplit(".", 1)[-1]
    return np.dtype(name) if name in ("float32", "float64") else None


def _host_dtype_of(dtype: Any) -> np.dtype | None:
    if dtype is None:
        return None
    name = getattr(dtype, "__name__", None) or str(dtype).rsplit(".", 1)[-1]
    try:
        return np.dtype(name)
    except TypeError:
        return None


def _transfer_hint(source: str, where: str, target: Backend, name: str = "x") -> str:
    return (
        f"{name} is a {source} array on device {where!r}, but this network uses {target.name} on "
        f"device {target.device_name!r}; move it explicitly first with "
        f"backends.to_device(x, {target.name!r}, device={target.device_name!r})"
    )


_NAMESPACE_SPECS: dict[str, LibrarySpec] = {}


def _spec_of(x: Any) -> LibrarySpec | None:
    """The spec of the library that owns array ``x``, or None for non-arrays."""
    if isinstance(x, np.ndarray):
        return LIBRARIES["numpy"]
    found = SPEC_OF_TYPE.get(type(x))
    if found is not None:  # an array type seen before: its library does not change
        return found
    if isinstance(x, (list, tuple, int, float, complex, bool, np.generic)) or x is None:
        return None
    for spec in (*LIBRARIES.values(), *_NAMESPACE_SPECS.values()):
        if spec.is_array(x):
            SPEC_OF_TYPE[type(x)] = spec
            return spec
    if hasattr(x, "__array_namespace__"):  # an Array API array of a namespace not selected yet
        try:
            spec = namespace_spec(x.__array_namespace__())
        except TypeError:
            return None
        return spec if spec.is_array(x) else None
    return None


def device_of(x: Any) -> Any:
    """The device object of array ``x``, for ``device=`` arguments: the portable
    ``x.device`` (array-api-compat's ``device``; dask and older libraries have no
    ``.device`` attribute)."""
    import array_api_compat

    return array_api_compat.device(x)


def _device_name_of(x: Any, spec: LibrarySpec | None = None) -> str:
    import array_api_compat

    spec = spec or _spec_of(x)
    dev = array_api_compat.device(x)
    try:
        key = (spec.name if spec is not None else None, dev)
        name = _DEVICE_NAMES.get(key)
    except TypeError:  # a device object that cannot be a key
        return _parse_device(spec.device_name(dev) if spec is not None else dev)
    if name is None:
        name = _DEVICE_NAMES[key] = _parse_device(spec.device_name(dev) if spec is not None else dev)
    return name


_DEVICE_NAMES: dict[tuple[str | None, Any], str] = {}


def _generic_to_numpy(x: Any) -> np.ndarray:
    """Host copy of an array of any namespace: DLPack, else ``__array__``, never object arrays."""
    with contextlib.suppress(Exception):  # no DLPack, or not to the CPU: the array protocol below
        return np.from_dlpack(x)
    if hasattr(x, "__array__"):
        out = np.asarray(x)
        if out.dtype != object:
            return out
    msg = (
        f"cannot copy a {type(x).__module__}.{type(x).__name__} to NumPy: it supports neither DLPack to the CPU "
        "nor __array__ with a numeric dtype"
    )
    raise TypeError(msg)


def _namespace_label(xp: ModuleType) -> str:
    name = xp.__name__
    name = name.removeprefix("array_api_compat.")
    return name.split(".")[0]


def namespace_spec(xp: ModuleType) -> LibrarySpec:
    """The spec of a registered library whose namespace is ``xp``, or a generic spec
    built from the Array API (``__array_namespace_info__``, array-api-compat's
    ``device``, DLPack) for any other namespace, e.g. ``array_api_compat.dask.array``.
    """
    import array_api_compat

    for spec in LIBRARIES.values():
        with contextlib.suppress(Exception):  # a check that cannot run is a no
            if spec.is_namespace(xp):
                return spec
    if array_api_compat.is_dask_namespace(xp):
        xp = importlib.import_module("array_api_compat.dask.array")
    if xp.__name__ in _NAMESPACE_SPECS:
        return _NAMESPACE_SPECS[xp.__name__]
    if not hasattr(xp, "__array_namespace_info__"):
        msg = (
            f"{xp.__name__!r} is not an Array API namespace (no __array_namespace_info__); "
            "pass e.g. array_api_compat.<library>"
        )
        raise TypeError(msg)
    label = _namespace_label(xp)

    def is_array(x: Any) -> bool:
        try:
            return array_api_compat.array_namespace(x) is xp
        except TypeError:
            return False

    def native_device(module: ModuleType, device: str) -> Any:
        info = xp.__array_namespace_info__()
        for dev in info.devices():
            if _parse_device(str(dev)) == device:
                return dev
        return info.default_device()

    def list_devices(module: ModuleType) -> list[str]:
        info = xp.__array_namespace_info__()
        default = _parse_device(str(info.default_device()))
        return [default] + [d for d in (_parse_device(str(dev)) for dev in info.devices()) if d != default]

    spec = LibrarySpec(
        name=label,
        module=xp.__name__,
        install=f"the {label} package",
        namespace=lambda module: xp,
        is_namespace=lambda other: other is xp,
        is_array=is_array,
        native_device=native_device,
        device_name=lambda dev: _parse_device(str(dev)),
        to_numpy=_generic_to_numpy,
        list_devices=list_devices,
    )
    _NAMESPACE_SPECS[xp.__name__] = spec
    SPEC_OF_TYPE.clear()  # a new library may own a type seen before
    return spec


def _backend_of_namespace_name(module_name: str, device: str) -> Backend:
    return get_backend(importlib.import_module(module_name), device)


def _namespace_backend(xp: ModuleType, device: Any) -> Backend:
    spec = namespace_spec(xp)
    if spec.name in LIBRARIES and LIBRARIES[spec.name] is spec:
        return get_backend(spec.name, device)
    xp = spec.namespace(xp)
    _check_api_version(xp, spec.name)
    resolved = _resolve_device(spec, xp, _parse_device(device))
    return Backend(spec.name, xp, spec.native_device(xp, resolved), resolved, xp, spec)


def get_backend(name: Any = "auto", device: Any = None) -> Backend:
    """Select an array library and device.

    Parameters
    ----------
    name : str, Backend, namespace module or array
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"`` or
        ``"auto"`` (CuPy when a CUDA device is usable, else NumPy; ``device="cpu"``
        forces NumPy). A ``Backend`` is returned as is (moved to ``device`` if given).
        Any other Array API namespace that array-api-compat supports can be passed
        as its module (e.g. ``array_api_compat.dask.array`` or ``dask.array``), or
        as an array to infer it from (its device is then the default).
    device : str, optional
        PyTorch-style device: ``"cpu"``, ``"gpu"`` / ``"cuda"`` (device 0),
        ``"cuda:N"``; array_api_strict also takes its own names (``"device1"``).
        ``None`` picks the library's default (GPU 0 for CuPy, CPU otherwise).

    Notes
    -----
    Selecting ``"jax"`` switches on JAX's ``jax_enable_x64`` (a process-wide
    setting) so that float64 networks hold float64 arrays. The namespace must
    implement the Array API standard :data:`MIN_ARRAY_API_VERSION` (2024.12) or newer.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown backend name (the message lists the known ones).
    TypeError
        A module that is not an Array API namespace.
    BackendUnavailableError
        The library is not installed (the message names the extra to install), no
        usable GPU (with the probe's reason), the backend lacks the requested device,
        or its namespace is older than Array API 2024.12.
    """
    if isinstance(name, Backend):
        return name if device is None else get_backend(name.name if name.name in LIBRARIES else name.xp, device)
    if isinstance(name, ModuleType):
        return _namespace_backend(name, device)
    if not isinstance(name, str):
        import array_api_compat

        if array_api_compat.is_array_api_obj(name) and not isinstance(name, (int, float, complex, bool)):
            xp = array_api_compat.array_namespace(name)
            return get_backend(xp, device if device is not None else _device_name_of(name))
        msg = f"backend must be a name, a Backend, an Array API namespace module or an array; got {type(name).__name__}"
        raise TypeError(msg)
    name = name.strip().lower()
    wanted = _parse_device(device)
    if name == "auto":
        name = "cupy" if wanted != "cpu" and gpu_available("cupy") else "numpy"
        if name == "numpy" and wanted.startswith("cuda"):
            raise _refuse_device("auto", False, wanted, ["cpu"], {})
    module = load_module(name)
    spec = LIBRARIES[name]
    spec.setup(module)
    resolved = _resolve_device(spec, module, wanted)
    xp = spec.namespace(module)
    _check_api_version(xp, name)
    return Backend(
        name=name, xp=xp, device=spec.native_device(module, resolved), device_name=resolved, module=module, spec=spec
    )


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def describe_device(spec: LibrarySpec | str, module: ModuleType, device: str) -> str:
    """A person-readable label: ``"cpu"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB)"``.

    Falls back to the bare device string when the library cannot say more.
    """
    if isinstance(spec, str):
        spec = LIBRARIES[spec]
    if not device.startswith("cuda"):
        return device
    try:
        described = spec.describe(module, device)
    except Exception:  # noqa: BLE001 - a label is a courtesy; never fail on it
        return device
    if described is None:
        return device
    label, memory = described
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
    """Installed / usable status, version, usable devices (with GPU name and memory in
    ``device_labels``) and the reason if unusable.

    Importing the library is attempted, and each GPU is probed once per process
    with a small kernel and a BLAS product: a GPU where they fail is not listed, and
    ``reason`` says why.
    """
    spec = LIBRARIES.get(name)
    if spec is None:
        load_module(name)  # raises the ValueError listing the known names
        raise AssertionError(name)  # pragma: no cover - load_module raised
    try:
        module = load_module(name)
    except BackendUnavailableError as exc:
        return BackendStatus(name, False, False, None, (), str(exc), spec.install)
    devices, reasons = _usable_devices(spec, module)
    reason = "; ".join(f"{d} unusable: {r}" for d, r in reasons.items())
    if not devices:
        reason = reason or "installed, but no usable CUDA device was found"
    version = getattr(module, "__version__", None)
    labels = tuple(describe_device(spec, module, d) for d in devices)
    return BackendStatus(name, True, bool(devices), version, tuple(devices), reason, spec.install, labels)


def available_backends() -> list[str]:
    """Names of the backends that are installed and have a usable device."""
    return [name for name in LIBRARIES if backend_status(name).usable]


def gpu_available(name: str | None = None) -> bool:
    """Whether a CUDA device is usable (a probe kernel and BLAS product succeed),
    through backend ``name`` or any GPU library.

    Never raises: a missing library or a broken driver means ``False``.
    """
    names = [name] if name else [n for n, spec in LIBRARIES.items() if spec.gpu]
    for lib in names:
        try:
            module = load_module(lib)
        except BackendUnavailableError:
            continue
        devices, _ = _usable_devices(LIBRARIES[lib], module)
        if any(d.startswith("cuda") for d in devices):
            return True
    return False


def to_numpy(x: Any) -> np.ndarray:
    """An array of any Array API library on the host, as a NumPy array.

    Device arrays (CuPy, PyTorch on CUDA) are copied; NumPy arrays are returned as
    they are, and CPU arrays of PyTorch and JAX may come back as views sharing
    memory (JAX's read-only): use ``np.array(to_numpy(x))`` for a private,
    writable copy. Nested lists are converted. Arrays of other namespaces come
    through DLPack or ``__array__``.

    Raises
    ------
    TypeError
        An object that neither DLPack nor ``__array__`` can give as a numeric
        NumPy array (never a 0-d object array).
    """
    spec = _spec_of(x)
    if spec is not None:
        return spec.to_numpy(x)
    if hasattr(x, "__dlpack__") or hasattr(x, "__array__"):
        return _generic_to_numpy(x)
    out = np.asarray(x)
    if out.dtype == object:
        msg = f"cannot convert a {type(x).__module__}.{type(x).__name__} to a numeric NumPy array"
        raise TypeError(msg)
    return out


def to_device(x: Any, backend: Any, device: Any = None) -> Any:
    """Move an array of any library onto ``backend`` (name, Backend or namespace) and device.

    Uses DLPack when the two share a device, else a copy through host memory.
    The dtype is kept.
    """
    target = get_backend(backend, device)
    if target.owns(x) and target.array_device_name(x) == target.device_name:
        return x
    try:
        return target.asarray(x)
    except TypeError:
        return target.asarray(to_numpy(x))


class FastCalls(NamedTuple):
    """The standard calls the training loop makes most, for one namespace (see :func:`fast_calls`)."""

    reductions: tuple[Any, Any]
    """``(sum_along, max_along)``: ``f(x, axis)`` = ``xp.sum``/``xp.max`` with ``keepdims=True``."""
    total: Any
    """``f(x)`` = ``xp.sum(x)``, a 0-d result."""
    cast: Any
    """``f(x, dtype)`` = ``xp.astype(x, dtype)``."""
    take: Any
    """``f(x, indices, axis)`` = ``xp.take(x, indices, axis=axis)`` (a batch's rows)."""
    argmax: Any
    """``f(x, axis)`` = ``xp.argmax(x, axis=axis)`` (a batch's predicted classes)."""
    copy: Any
    """``f(x)`` = ``xp.asarray(x, copy=True)`` (an epoch's rollback copies)."""
    all_finite: Any
    """``f(arrays)`` = ``xp.all(xp.stack([xp.all(xp.isfinite(a)) for a in arrays]))``: a 0-d
    bool array, True when every entry of every array (a non-empty list) is finite."""
    stack: Any
    """``f(arrays)`` = ``xp.stack(arrays)`` for a list of arrays of one shape and dtype (an
    epoch's 0-d batch costs): NumPy builds the array from the list in one call
    (``numpy.asarray``), without ``numpy.stack``'s Python loop over the items."""
    keep: Any
    """``f(x, mask)`` = ``x *= xp.astype(mask, x.dtype)``, returning ``x``: zero the entries of
    ``x`` where the boolean ``mask`` is False, in place where the library allows (the
    ReLU backward's indicator, P2 (2): dJ/dA ⊙ I(Z > 0)). NumPy multiplies by the boolean array itself
    (``numpy.multiply(x, mask, out=x)``, the same bits), so no float copy of the mask
    is made: on a hidden layer that copy is the step's peak memory."""
    argmax_hits: Any
    """``f(x, classes)`` = ``xp.sum(xp.astype(xp.argmax(x, axis=0) == classes, classes.dtype))``:
    how many columns j of ``x`` (n, m) have their first largest entry in row
    ``classes[j]`` (integers in [0, n), shape (m,)); a 0-d integer array (an epoch's hits).
    NumPy's ``argmax`` along the first axis copies ``x`` transposed and searches each
    column in a loop of its own; where no column holds its largest value twice (nor a
    NaN) the first largest entry is the only entry equal to the column's maximum, so
    the count is that of columns whose entry in row ``classes[j]`` equals their
    maximum: one reduction, one comparison and a gather, under a third of the time. No tie
    is known from two counts: no column maximum is NaN (so each column holds its maximum
    at least once) and exactly m entries equal their column's maximum. Otherwise the
    count falls back to ``argmax`` itself, so it is always the same."""
    extrema: Any
    """``f(x)`` = ``xp.stack([xp.min(x), xp.max(x)])``: the smallest and the largest entry of a
    non-empty array as one 1-D array of two, in ``x``'s dtype (NaN propagates to both), read
    with one transfer (the inputs' finiteness check and bound β_0, the labels' range).
    NumPy reduces with ``minimum.reduce`` and ``maximum.reduce`` over every entry, what
    ``numpy.min`` and ``numpy.max`` call."""


# Keyed by the namespace module itself (a module hashes by identity and lives as long
# as the interpreter): one dict lookup per call of reductions/total/caster. A namespace
# that cannot be hashed is served too, without the cache.
_FAST: dict[ModuleType, FastCalls] = {}


def fast_calls(xp: ModuleType) -> FastCalls:
    """The standard calls the training step and loop make most, for namespace ``xp``,
    each by the cheapest call the library offers, found once per namespace.

    For NumPy (a namespace whose ``add`` and ``maximum`` are NumPy ufuncs) these are
    the ufuncs' own ``reduce`` and the array methods ``astype``, ``take``, ``argmax``
    and ``copy`` (``all_finite``: ``isfinite`` and ``logical_and.reduce`` per array):
    what ``numpy.sum``, ``numpy.max``, ``xp.astype``, ``numpy.take``, ``numpy.argmax``,
    ``numpy.all`` and ``xp.asarray(copy=True)`` end up calling, so the values are
    bit-identical, without the argument handling and Python frames of the function
    forms (about 5 µs per reduction; on a small network's training step, a tenth of
    the time). The reductions are ``functools.partial`` objects with no Python frame
    of their own. Every other namespace gets its standard functions.
    """
    try:
        return _FAST[xp]
    except (KeyError, TypeError):
        pass
    add, maximum = getattr(xp, "add", None), getattr(xp, "maximum", None)
    if isinstance(add, np.ufunc) and isinstance(maximum, np.ufunc):
        every, isfinite = functools.partial(np.logical_and.reduce, axis=None), np.isfinite

        def all_finite_host(arrays: Any) -> Any:
            return np.asarray(all([every(isfinite(a)) for a in arrays]))

        multiply = np.multiply

        def keep_host(x: Any, mask: Any) -> Any:
            return multiply(x, mask, out=x)

        count = np.count_nonzero

        def argmax_hits_host(x: Any, classes: Any) -> Any:
            top = maximum.reduce(x, 0)
            m = x.shape[1]
            # No NaN in the maxima: every column holds its maximum at least once, so m entries
            # equal to their column's maximum in all means exactly one per column (no tie).
            if count(np.equal(x, top)) == m and every(np.equal(top, top)):
                hits = count(np.equal(x.reshape(-1).take(classes * m + np.arange(m)), top))
            else:
                hits = count(np.equal(x.argmax(0), classes))
            return np.asarray(hits, dtype=classes.dtype)

        low, high = functools.partial(np.minimum.reduce, axis=None), functools.partial(maximum.reduce, axis=None)

        def extrema_host(x: Any) -> Any:
            return np.asarray([low(x), high(x)])

        calls = FastCalls(
            (functools.partial(add.reduce, keepdims=True), functools.partial(maximum.reduce, keepdims=True)),
            functools.partial(add.reduce, axis=None),
            np.ndarray.astype,
            np.ndarray.take,
            np.ndarray.argmax,
            np.ndarray.copy,
            all_finite_host,
            np.asarray,
            keep_host,
            argmax_hits_host,
            extrema_host,
        )
    else:

        def sum_along(x: Any, axis: int) -> Any:
            return xp.sum(x, axis=axis, keepdims=True)

        def max_along(x: Any, axis: int) -> Any:
            return xp.max(x, axis=axis, keepdims=True)

        def take(x: Any, indices: Any, axis: int) -> Any:
            return xp.take(x, indices, axis=axis)

        def argmax(x: Any, axis: int) -> Any:
            return xp.argmax(x, axis=axis)

        def copy(x: Any) -> Any:
            return xp.asarray(x, copy=True)

        def all_finite(arrays: Any) -> Any:
            return xp.all(xp.stack([xp.all(xp.isfinite(a)) for a in arrays]))

        def keep(x: Any, mask: Any) -> Any:
            x *= xp.astype(mask, x.dtype)
            return x

        def argmax_hits(x: Any, classes: Any) -> Any:
            return xp.sum(xp.astype(xp.argmax(x, axis=0) == classes, classes.dtype))

        def extrema(x: Any) -> Any:
            return xp.stack([xp.min(x), xp.max(x)])

        calls = FastCalls(
            (sum_along, max_along), xp.sum, xp.astype, take, argmax, copy, all_finite, xp.stack, keep, argmax_hits,
            extrema,
        )
    with contextlib.suppress(TypeError):  # an unhashable namespace object: found again at each call
        _FAST[xp] = calls
    return calls


def reductions(xp: ModuleType) -> tuple[Any, Any]:
    """``(sum_along, max_along)`` for namespace ``xp``: ``f(x, axis)`` is
    ``xp.sum(x, axis=axis, keepdims=True)`` (``xp.max`` for the second), by the
    cheapest call the library offers (NumPy: the ufunc's ``reduce``, bit-identical)."""
    try:
        return _FAST[xp].reductions
    except (KeyError, TypeError):  # a new (or unhashable) namespace
        return fast_calls(xp).reductions


def total(xp: ModuleType) -> Any:
    """``f(x)`` = ``xp.sum(x)`` (every entry, a 0-d result) by the cheapest call the
    library offers (NumPy: ``add.reduce`` over ``axis=None``, the same NumPy scalar)."""
    try:
        return _FAST[xp].total
    except (KeyError, TypeError):  # a new (or unhashable) namespace
        return fast_calls(xp).total


def caster(xp: ModuleType) -> Any:
    """``f(x, dtype)`` = ``xp.astype(x, dtype)`` (a new array) by the cheapest call the
    library offers (NumPy: the array method ``numpy.ndarray.astype``)."""
    try:
        return _FAST[xp].cast
    except (KeyError, TypeError):  # a new (or unhashable) namespace
        return fast_calls(xp).cast


_CONSTANT_SPECS: dict[type, tuple[LibrarySpec, bool] | None] = {}
"""Per array type: its library's spec and whether that library has one device only
(its constants are then keyed by dtype alone), or None where numbers stay Python numbers."""
_CONSTANTS: dict[Any, dict[float, Any]] = {}
_MAX_CONSTANTS = 4096


def constant(value: float, like: Any) -> Any:
    """``value`` in the form that mixes best with array ``like``: the Python number
    itself for most libraries, and a 0-d array of ``like``'s dtype on its device, made
    once and reused, for those whose spec sets

    - ``scalar_arrays`` (JAX): a Python number would be an implicit host-to-device
      transfer on every operation, refused under ``jax.transfer_guard("disallow")``;
    - ``typed_constants`` (NumPy): a Python number costs NumPy 2's weak-scalar promotion
      at every call, about 1 µs, as much as the arithmetic of a small array.

    Either way the operation's result is the same, bit for bit: the number is rounded
    to ``like``'s dtype in both forms. The held arrays are read-only where the library
    allows. A fraction, infinity or NaN beside an integer array, any number beside a
    boolean one, NaN and −0.0 stay Python numbers (in that dtype the first two would
    change their value; the last two do not key a table by value).

    Under ``jax.jit`` tracing (``like`` a tracer) the Python number is returned: it
    becomes a constant of the compiled function.

    The lookup is one table per dtype (and device, for a library with several), keyed
    by the number: it runs in the training step several times per batch.
    """
    try:
        typed = _CONSTANT_SPECS[type(like)]
    except KeyError:
        typed = _constant_spec(like)
    if typed is None or (not value and copysign(1.0, value) < 0.0):
        return value  # -0.0 equals 0.0 as a key: it is never looked up
    where = like.dtype if typed[1] else (like.dtype, getattr(like, "device", None))
    try:
        return _CONSTANTS[where][value]
    except KeyError:
        return _new_constant(typed[0], value, like, where)


def _constant_spec(like: Any) -> tuple[LibrarySpec, bool] | None:
    """:data:`_CONSTANT_SPECS`'s entry for arrays of ``like``'s type, found and kept."""
    found = _spec_of(like)
    typed = None
    if found is not None and (found.scalar_arrays or found.typed_constants):
        typed = (found, found.list_devices is _cpu_only)
    _CONSTANT_SPECS[type(like)] = typed
    return typed


def _new_constant(spec: LibrarySpec, value: float, like: Any, where: Any) -> Any:
    """:func:`constant`'s array for a value not held yet (or the number, where an array cannot hold it)."""
    device = getattr(like, "device", None)
    host_dtype = _host_dtype_of(like.dtype)
    if (
        device is None
        or value != value  # NaN: never equal to itself, so never found again
        or host_dtype is None
        or not (host_dtype.kind in "fc" or (host_dtype.kind in "iu" and float(value).is_integer()))
    ):
        return value  # a fraction (or inf) would change its value in an integer or bool dtype
    if sum(map(len, _CONSTANTS.values())) >= _MAX_CONSTANTS:
        _CONSTANTS.clear()
    module = load_module(spec.name)
    host = np.asarray(value, dtype=host_dtype)
    host.flags.writeable = False
    held = spec.from_host(module, spec.namespace(module), host, None, device, None)
    _CONSTANTS.setdefault(where, {})[value] = held
    return held
