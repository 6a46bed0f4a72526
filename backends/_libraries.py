"""One :class:`~backends._registry.LibrarySpec` per array library ffnn knows by name.

Adding a library is adding one spec here (or calling :func:`backends.register` from
outside); nothing else in the package names a library.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from . import _precision
from ._registry import LibrarySpec, register

__all__ = ["probe_cuda_work"]


def _compat(name: str) -> Any:
    """A function of array_api_compat (imported on first use, as everything optional)."""
    import array_api_compat

    return getattr(array_api_compat, name)


def _compat_namespace(library: str) -> ModuleType:
    return importlib.import_module(f"array_api_compat.{library}")


def probe_cuda_work(run: Any) -> str:
    """Run ``run()`` (a tiny element-wise kernel and a BLAS product that must give
    the exact answer); ``""`` if it does, else the reason as text."""
    try:
        ok = run()
    except Exception as exc:  # noqa: BLE001 - every CUDA failure is a reason to report
        return f"{type(exc).__name__}: {exc}".strip()
    return "" if ok else "a test computation on the device gave a wrong result"


# -- numpy -------------------------------------------------------------------------

register(
    LibrarySpec(
        name="numpy",
        module="numpy",
        install="pip install numpy",
        namespace=lambda module: _compat_namespace("numpy"),
        is_namespace=lambda xp: _compat("is_numpy_namespace")(xp),
        is_array=lambda x: isinstance(x, np.ndarray),
        native_device=lambda module, device: "cpu",
        device_name=lambda dev: "cpu",
        to_numpy=np.asarray,
        typed_constants=True,
    )
)

# -- cupy --------------------------------------------------------------------------


def _cupy_devices(cupy: ModuleType) -> list[str]:
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - any CUDA failure means "no usable device"
        return []
    return [f"cuda:{i}" for i in range(count)]


def _cupy_probe(cupy: ModuleType, device: str) -> str:
    def run() -> bool:
        with cupy.cuda.Device(int(device.split(":")[1])):
            a = cupy.arange(16, dtype=cupy.float32)  # element-wise kernel (NVRTC-compiled)
            total = float((a * 2.0).sum())
            b = cupy.ones((8, 8), dtype=cupy.float32)
            product = float((b @ b)[0, 0])  # cuBLAS
            cupy.cuda.Device().synchronize()
        return total == 240.0 and product == 8.0

    return probe_cuda_work(run)


def _cupy_describe(cupy: ModuleType, device: str) -> tuple[str, int]:
    props = cupy.cuda.runtime.getDeviceProperties(int(device.split(":")[1]))
    label = props["name"]
    return (label.decode() if isinstance(label, bytes) else label), int(props["totalGlobalMem"])


register(
    LibrarySpec(
        name="cupy",
        module="cupy",
        install="pip install 'ffnn[cuda12]' (CUDA 12) or 'ffnn[cuda13]' (CUDA 13)",
        namespace=lambda module: _compat_namespace("cupy"),
        is_namespace=lambda xp: _compat("is_cupy_namespace")(xp),
        is_array=lambda x: _compat("is_cupy_array")(x),
        native_device=lambda cupy, device: cupy.cuda.Device(int(device.split(":")[1])),
        device_name=lambda dev: f"cuda:{dev.id}",
        to_numpy=lambda x: x.get(),
        list_devices=_cupy_devices,
        probe=_cupy_probe,
        device_context=lambda dev: dev,  # cupy.cuda.Device is the context manager that makes it current
        # under that context (Backend.asarray enters it), without device=: the current device is the one
        from_host=lambda cupy, xp, host, dtype, device, copy: xp.asarray(host, dtype=dtype, copy=copy),
        synchronize=lambda dev, cupy, arrays: dev.synchronize(),
        describe=_cupy_describe,
        precision=_precision.cupy_switch,
        gpu=True,
    )
)

# -- torch -------------------------------------------------------------------------


def _torch_compile(torch: ModuleType, fn: Any) -> Any:
    """``torch.compile`` (Inductor; on CPU it builds C++ kernels with the system compiler)."""
    return torch.compile(fn)


def _torch_devices(torch: ModuleType) -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return devices


def _torch_probe(torch: ModuleType, device: str) -> str:
    def run() -> bool:
        a = torch.arange(16, dtype=torch.float32, device=device)
        total = float((a * 2.0).sum())
        b = torch.ones((8, 8), dtype=torch.float32, device=device)
        product = float((b @ b)[0, 0])  # cuBLAS
        torch.cuda.synchronize(device)
        return total == 240.0 and product == 8.0

    return probe_cuda_work(run) if device.startswith("cuda") else ""


def _torch_device_name(dev: Any) -> str:
    if dev.type == "cuda":
        return f"cuda:{dev.index or 0}"
    return str(dev)


def _torch_sync(dev: Any, torch: ModuleType, arrays: Sequence[Any]) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _torch_describe(torch: ModuleType, device: str) -> tuple[str, int]:
    props = torch.cuda.get_device_properties(int(device.split(":")[1]))
    return props.name, int(props.total_memory)


register(
    LibrarySpec(
        name="torch",
        module="torch",
        install="pip install 'ffnn[torch]'",
        namespace=lambda module: _compat_namespace("torch"),
        is_namespace=lambda xp: _compat("is_torch_namespace")(xp),
        is_array=lambda x: _compat("is_torch_array")(x),
        native_device=lambda torch, device: torch.device(device),
        device_name=_torch_device_name,
        to_numpy=lambda x: x.detach().cpu().resolve_conj().numpy(),
        list_devices=_torch_devices,
        probe=_torch_probe,
        synchronize=_torch_sync,
        describe=_torch_describe,
        precision=_precision.torch_switch,
        gpu=True,
        compile=_torch_compile,
    )
)

# -- jax ---------------------------------------------------------------------------


def _jax_devices(jax: ModuleType) -> list[str]:
    devices = [_jax_device_name(dev) for dev in jax.devices()]
    return sorted(set(devices), key=devices.index)


def _jax_device_name(dev: Any) -> str:
    return "cpu" if dev.platform == "cpu" else f"cuda:{dev.id}"


def _jax_native(jax: ModuleType, device: str) -> Any:
    platform, _, index = device.partition(":")
    if platform == "cpu":
        return jax.devices("cpu")[0]
    return next(d for d in jax.devices("gpu") if d.id == int(index or 0))


def _jax_probe(jax: ModuleType, device: str) -> str:
    def run() -> bool:
        dev = _jax_native(jax, device)
        a = jax.device_put(np.arange(16, dtype=np.float32), dev)
        b = jax.device_put(np.ones((8, 8), dtype=np.float32), dev)
        total, product = float((a * 2.0).sum()), float((b @ b)[0, 0])
        return total == 240.0 and product == 8.0

    return probe_cuda_work(run) if device.startswith("cuda") else ""


def _jax_sync(dev: Any, jax: ModuleType, arrays: Sequence[Any]) -> None:
    for a in arrays:
        a.block_until_ready()


def _jax_describe(jax: ModuleType, device: str) -> tuple[str, int]:
    dev = _jax_native(jax, device)
    return dev.device_kind, int((dev.memory_stats() or {}).get("bytes_limit", 0))


def _jax_from_host(jax: ModuleType, xp: ModuleType, host: np.ndarray, dtype: Any, device: Any, copy: Any) -> Any:
    """An explicit ``device_put`` (allowed by ``jax.transfer_guard("disallow")``), run at
    once even while a function is being traced (``jax.ensure_compile_time_eval``): the
    result is a concrete array, never a tracer, so it may be kept beyond the trace
    (:func:`backends.constant`'s table, an activation kernel's constant made while a step is traced)."""
    with jax.ensure_compile_time_eval():
        x = jax.device_put(np.array(host, copy=True) if copy else host, device)
        return x if dtype is None or x.dtype == dtype else xp.astype(x, dtype)


def _jax_compile(jax: ModuleType, fn: Any) -> Any:
    """``jax.jit``: the function must be pure (arrays in, arrays out)."""
    return jax.jit(fn)


def _jax_setup(jax: ModuleType) -> None:
    jax.config.update("jax_enable_x64", True)  # float64 networks need 64-bit JAX arrays


register(
    LibrarySpec(
        name="jax",
        module="jax",
        install="pip install jax",
        namespace=lambda jax: jax.numpy,
        is_namespace=lambda xp: _compat("is_jax_namespace")(xp),
        is_array=lambda x: _compat("is_jax_array")(x),
        native_device=_jax_native,
        device_name=_jax_device_name,
        to_numpy=np.asarray,
        list_devices=_jax_devices,
        probe=_jax_probe,
        synchronize=_jax_sync,
        describe=_jax_describe,
        precision=_precision.jax_switch,
        setup=_jax_setup,
        from_host=_jax_from_host,
        gpu=True,
        scalar_arrays=True,
        compile=_jax_compile,
        immutable=True,
    )
)

# -- array_api_strict --------------------------------------------------------------


def _strict_device_name(dev: Any) -> str:
    name = getattr(dev, "_device", None) or repr(dev).split("'")[1]
    return "cpu" if name == "CPU_DEVICE" else name


def _strict_devices(strict: ModuleType) -> list[str]:
    return [_strict_device_name(d) for d in strict.__array_namespace_info__().devices()]


def _strict_to_numpy(x: Any) -> np.ndarray:
    import array_api_strict

    return np.from_dlpack(x.to_device(array_api_strict.Device("CPU_DEVICE")))


register(
    LibrarySpec(
        name="array_api_strict",
        module="array_api_strict",
        install="pip install array-api-strict",
        namespace=lambda strict: strict,
        is_namespace=lambda xp: _compat("is_array_api_strict_namespace")(xp),
        is_array=lambda x: type(x).__module__.split(".")[0] == "array_api_strict",
        native_device=lambda strict, device: strict.Device("CPU_DEVICE" if device == "cpu" else device),
        device_name=_strict_device_name,
        to_numpy=_strict_to_numpy,
        list_devices=_strict_devices,
    )
)
