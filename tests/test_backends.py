"""backends: selection, devices, transfers and their errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import backends
from backends import BackendUnavailableError, get_backend, to_device, to_numpy


def test_numpy_backend_attributes() -> None:
    be = get_backend("numpy")
    assert (be.name, be.device_name, be.is_gpu) == ("numpy", "cpu", False)
    x = be.asarray([[1, 2]], dtype=be.dtype("float32"))
    assert isinstance(x, np.ndarray) and x.dtype == np.float32


def test_auto_picks_cupy_only_with_a_gpu() -> None:
    expected = "cupy" if backends.gpu_available("cupy") else "numpy"
    assert get_backend("auto").name == expected
    assert get_backend("auto", "cpu").name == "numpy"


def test_backend_instance_passes_through() -> None:
    be = get_backend("numpy")
    assert get_backend(be) is be


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'.*numpy, cupy, torch, jax, array_api_strict"):
        get_backend("tensorflow")


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def fake(name: str, *a: object) -> object:
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(BackendUnavailableError, match=r"ffnn\[cuda12\]"):
        get_backend("cupy")
    status = backends.backend_status("cupy")
    assert not status.installed and not status.usable and "cuda12" in status.install


def test_cupy_without_gpu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CuPy whose runtime finds no device must be refused with a way out, not crash."""
    import types

    from backends import _registry

    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace()))

    def no_device() -> int:
        raise RuntimeError("cudaErrorNoDevice")

    fake_cupy.cuda.runtime.getDeviceCount = no_device
    monkeypatch.setattr(_registry, "load_module", lambda name: fake_cupy if name == "cupy" else np)
    monkeypatch.setattr("backends._backend.load_module", _registry.load_module)
    with pytest.raises(BackendUnavailableError, match="no usable CUDA device.*backend='numpy'"):
        get_backend("cupy")
    assert backends.gpu_available("cupy") is False


@pytest.mark.parametrize("device", ["cuda", "gpu", "cuda:1"])
def test_cpu_only_backend_refuses_gpu_devices(device: str) -> None:
    if backends.gpu_available("torch"):
        pytest.skip("this machine has a CUDA device for torch")
    with pytest.raises(BackendUnavailableError, match="no usable CUDA device"):
        get_backend("numpy", device)


def test_unknown_device_lists_usable_ones() -> None:
    with pytest.raises(BackendUnavailableError, match="usable devices: cpu"):
        get_backend("numpy", "tpu")


def test_strict_named_devices() -> None:
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    be = get_backend("array_api_strict", "device1")
    x = be.asarray(np.ones((2, 3)))
    assert be.array_device_name(x) == "device1"
    assert to_numpy(x).tolist() == [[1.0] * 3] * 2


def test_import_does_not_load_optional_libraries() -> None:
    code = "import ffnn, backends, sys; print(sorted(m for m in ('torch','cupy','jax','array_api_strict') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_available_backends_includes_numpy() -> None:
    names = backends.available_backends()
    assert names[0] == "numpy"
    assert all(n in backends.KNOWN_BACKENDS for n in names)


def test_to_device_and_to_numpy_roundtrip(backend: backends.Backend) -> None:
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    x = to_device(host, backend)
    assert backend.owns(x) and backend.array_device_name(x) == backend.device_name
    back = to_numpy(x)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, host)


def test_own_array_on_other_device_is_refused() -> None:
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    on1 = get_backend("array_api_strict", "device1")
    on2 = get_backend("array_api_strict", "device2")
    x = on1.asarray([1.0])
    with pytest.raises(TypeError, match=r"backends.to_device\(x, 'array_api_strict', device='device2'\)"):
        on2.asarray(x)
    moved = to_device(x, on2)
    assert on2.array_device_name(moved) == "device2"


def test_foreign_array_shared_by_dlpack_on_cpu() -> None:
    torch = pytest.importorskip("torch", reason="torch not installed")
    be = get_backend("numpy")
    x = be.asarray(torch.arange(3, dtype=torch.float32))
    assert isinstance(x, np.ndarray) and x.tolist() == [0.0, 1.0, 2.0]


def test_foreign_array_that_cannot_be_shared_is_refused() -> None:
    torch = pytest.importorskip("torch", reason="torch not installed")
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    be = get_backend("array_api_strict", "device1")
    with pytest.raises(TypeError, match="a torch array on device 'cpu'.*backends.to_device"):
        be.asarray(torch.ones(2))
    assert to_numpy(to_device(torch.ones(2), be)).tolist() == [1.0, 1.0]


def test_bad_dtype_name() -> None:
    with pytest.raises(ValueError, match="dtype must be one of float32, float64, got 'float16'"):
        get_backend("numpy").dtype("float16")


@pytest.mark.gpu
def test_cupy_on_gpu() -> None:
    if not backends.gpu_available("cupy"):
        pytest.skip("cupy not usable here: no CUDA device or cupy not installed")
    be = get_backend("cupy", "cuda:0")
    x = be.asarray(np.ones(3), dtype=be.dtype("float32"))
    assert be.is_gpu and be.array_device_name(x) == "cuda:0"
    assert to_numpy(x).tolist() == [1.0, 1.0, 1.0]


def test_backend_survives_deepcopy(backend: backends.Backend) -> None:
    import copy

    clone = copy.deepcopy(backend)
    assert clone == backend and clone.xp is backend.xp


def test_device_labels_name_gpus() -> None:
    import types

    from backends._backend import describe_device

    fake_torch = types.SimpleNamespace(
        cuda=types.SimpleNamespace(
            get_device_properties=lambda i: types.SimpleNamespace(name="Fake GPU", total_memory=2**31)
        )
    )
    assert describe_device("torch", fake_torch, "cuda:0") == "cuda:0 (Fake GPU, 2.0 GiB)"
    assert describe_device("numpy", np, "cpu") == "cpu"
    assert backends.backend_status("numpy").device_labels == ("cpu",)


def test_backend_names_ignore_case_and_spaces() -> None:
    assert get_backend(" NumPy ").name == "numpy"


def test_asarray_casts_numpy_floats_and_never_aliases_with_copy(backend: backends.Backend) -> None:
    host = np.linspace(0.0, 1.0, 6).reshape(2, 3)
    x = backend.asarray(host, dtype=backend.dtype("float32"), copy=True)
    assert to_numpy(x).dtype == np.float32
    np.testing.assert_array_equal(to_numpy(x), host.astype(np.float32))
    same = backend.asarray(host, dtype=backend.dtype("float64"), copy=True)
    host[0, 0] = 42.0
    assert to_numpy(same)[0, 0] == 0.0  # copy=True: the caller's later writes do not show


# -- specs: one per library ----------------------------------------------------------


def test_a_library_is_one_spec() -> None:
    """A new library is one registered spec: selection, placement, transfers and
    synchronisation all read it (here a second name for NumPy with its own device name)."""
    import dataclasses

    from backends import LIBRARIES, register

    calls: list[str] = []
    spec = dataclasses.replace(
        LIBRARIES["numpy"],
        name="numpy_twin",
        list_devices=lambda module: ["cpu"],
        synchronize=lambda dev, module, arrays: calls.append("sync"),
    )
    register(spec)
    try:
        be = get_backend("numpy_twin")
        x = be.asarray([[1.0, 2.0]])
        assert be.owns(x) and be.array_device_name(x) == "cpu" and be.spec is spec
        be.synchronize(x)
        assert calls == ["sync"]
        np.testing.assert_array_equal(to_numpy(to_device(x, be)), [[1.0, 2.0]])
    finally:
        del LIBRARIES["numpy_twin"]


def test_backend_code_does_not_branch_on_library_names() -> None:
    """Everything that differs between libraries lives in the specs (``_libraries.py``)."""
    import inspect

    from backends import _backend

    source = inspect.getsource(_backend)
    for library in ("cupy", "torch", "jax", "array_api_strict"):
        assert f'== "{library}"' not in source and f"== '{library}'" not in source, library


# -- CuPy on cuda:N: creations under the device's context -----------------------------


class _RecordingCuda:
    """A stand-in for cupy.cuda: Device(N) is a context manager that sets the current device."""

    def __init__(self) -> None:
        self.current = 0
        cuda = self

        class Device:
            def __init__(self, index: int | None = None) -> None:
                self.id = cuda.current if index is None else index

            def __enter__(self) -> Device:  # noqa: PYI034 - a stand-in for cupy.cuda.Device
                self._previous, cuda.current = cuda.current, self.id
                return self

            def __exit__(self, *exc: object) -> None:
                cuda.current = self._previous

            def synchronize(self) -> None:
                cuda.synced.append(self.id)

        self.Device = Device
        self.synced: list[int] = []


def test_cupy_creations_and_transfers_happen_under_the_devices_context() -> None:
    """array-api-compat ignores ``device=`` for CuPy: every creation made through the
    backend (and everything inside ``backend.on_device()``) must run with cuda:N current."""
    import types

    from backends import LIBRARIES, Backend

    cuda = _RecordingCuda()
    made_on: list[int] = []

    def asarray(obj: object, dtype: object = None, device: object = None, copy: object = None) -> object:
        made_on.append(cuda.current)
        return np.asarray(obj)

    def zeros(shape: tuple[int, ...], dtype: object = None, device: object = None) -> object:
        made_on.append(cuda.current)
        return np.zeros(shape)

    fake_cupy = types.SimpleNamespace(cuda=cuda)
    fake_xp = types.SimpleNamespace(asarray=asarray, zeros=zeros, float32="float32", __name__="fake_cupy_xp")
    spec = LIBRARIES["cupy"]
    be = Backend("cupy", fake_xp, spec.native_device(fake_cupy, "cuda:1"), "cuda:1", fake_cupy, spec)
    be.asarray(np.ones(3), dtype="float32")
    be.scalar(0.5, "float32")
    with be.on_device():
        fake_xp.zeros((2,), dtype="float32", device=be.device)
    assert made_on == [1, 1, 1] and cuda.current == 0
    be.synchronize()
    assert cuda.synced == [1]


# -- "usable GPU" means a kernel and a cuBLAS product ran ------------------------------


def _fake_cupy_without_cublas() -> object:
    import types

    cuda = _RecordingCuda()
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)

    class FakeArray:
        def __mul__(self, other: object) -> FakeArray:
            return self

        def sum(self) -> float:
            return 240.0

        def __matmul__(self, other: object) -> object:
            raise RuntimeError("CuPy failed to load libcublas.so.12: cannot open shared object file")

    return types.SimpleNamespace(
        cuda=cuda, float32="float32", arange=lambda *a, **k: FakeArray(), ones=lambda *a, **k: FakeArray()
    )


def test_gpu_whose_blas_fails_is_not_usable_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from backends import _backend, _registry

    fake = _fake_cupy_without_cublas()
    monkeypatch.setattr(_registry, "load_module", lambda name: fake if name == "cupy" else np)
    monkeypatch.setattr(_backend, "load_module", _registry.load_module)
    monkeypatch.setattr(_backend, "_PROBES", {})
    status = backends.backend_status("cupy")
    assert not status.usable and "libcublas" in status.reason and "cuda:0" in status.reason
    assert backends.gpu_available("cupy") is False
    with pytest.raises(BackendUnavailableError, match="no usable CUDA device.*libcublas.*backend='numpy'"):
        get_backend("cupy")


def test_cuda_extras_bring_the_cuda_libraries() -> None:
    """CuPy wheels do not contain cuBLAS/NVRTC: the extras pull CuPy's ``ctk`` extra."""
    import pathlib

    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["cuda12"][0].startswith("cupy-cuda12x[ctk]")
    assert extras["cuda13"][0].startswith("cupy-cuda13x[ctk]")


# -- any Array API namespace -----------------------------------------------------------


def test_backend_from_a_namespace_module_or_an_array() -> None:
    import array_api_compat.numpy as compat_numpy

    assert get_backend(compat_numpy).name == "numpy"
    assert get_backend(np).name == "numpy"
    assert get_backend(np.ones(2)).name == "numpy"
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    on1 = get_backend(strict.asarray([1.0], device=strict.Device("device1")))
    assert (on1.name, on1.device_name) == ("array_api_strict", "device1")
    with pytest.raises(TypeError, match="is not an Array API namespace"):
        get_backend(subprocess)
    with pytest.raises(TypeError, match="backend must be a name"):
        get_backend(3.5)


def test_dask_namespace_backend() -> None:
    pytest.importorskip("dask", reason="dask not installed")
    import copy

    import array_api_compat.dask.array as dxp
    import dask.array

    be = get_backend(dask.array)
    assert be.name == "dask" and be.xp is dxp and be.device_name == "cpu" and not be.is_gpu
    assert get_backend(dxp) == be and copy.deepcopy(be) == be
    x = be.asarray(np.arange(6.0).reshape(2, 3), dtype=be.dtype("float32"))
    assert be.owns(x) and not be.owns(np.ones(2)) and be.array_device_name(x) == "cpu"
    back = to_numpy(x)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32 and back.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert get_backend(x) == be
    assert to_numpy(to_device(x, "numpy")).tolist() == back.tolist()
    assert be.owns(to_device(np.ones(2), be))


def test_to_numpy_refuses_objects_it_cannot_read() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match="cannot convert a .*Opaque to a numeric NumPy array"):
        to_numpy(Opaque())

    class NoHostCopy:
        """An Array API array whose namespace offers neither DLPack to the CPU nor __array__."""

        def __array_namespace__(self, api_version: object = None) -> object:
            import array_api_compat.numpy as xp

            return xp

    with pytest.raises(TypeError, match="cannot"):
        to_numpy(NoHostCopy())


def test_array_api_version_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    assert backends.MIN_ARRAY_API_VERSION == "2024.12"
    with (
        strict.ArrayAPIStrictFlags(api_version="2023.12"),
        pytest.raises(BackendUnavailableError, match="declares Array API standard 2023.12.*needs 2024.12 or newer"),
    ):
        get_backend("array_api_strict")
    assert get_backend("array_api_strict").xp.__array_api_version__ >= "2024.12"


# -- arrays on a foreign device are refused, naming both devices -----------------------


@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_array_on_a_foreign_device_is_refused(target: str) -> None:
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    if not backends.backend_status(target).usable:
        pytest.skip(f"{target} not usable here")
    be = get_backend(target, "cpu")
    x = strict.asarray([[1.0, 2.0]], device=strict.Device("device1"))
    hint = rf"X is a array_api_strict array on device 'device1', but this network uses {target} on device 'cpu'.*backends.to_device\(x, '{target}', device='cpu'\)"
    with pytest.raises(TypeError, match=hint):
        be.check_array(x, "X")
    with pytest.raises(TypeError, match="device 'device1'.*backends.to_device"):
        be.asarray(x)
    moved = to_device(x, be)
    assert be.owns(moved) and to_numpy(moved).tolist() == [[1.0, 2.0]]
    be.check_array(strict.asarray([1.0]), "X")  # the CPU device is shared: accepted
    be.check_array(np.ones(2), "X")  # host data is always accepted
    be.check_array([[1.0]], "X")


# -- device scalars, once -----------------------------------------------------------------


def test_scalar_is_a_0d_array_on_the_device(backend: backends.Backend) -> None:
    s = backend.scalar(0.25, backend.dtype("float32"))
    assert backend.owns(s) and s.ndim == 0 and s.dtype == backend.dtype("float32")
    assert backend.array_device_name(s) == backend.device_name and float(to_numpy(s)) == 0.25


def test_jax_scalars_and_host_arrays_are_explicit_transfers() -> None:
    status = backends.backend_status("jax")
    if not status.usable:
        pytest.skip(f"jax not usable here: {status.reason}")
    import jax

    be = get_backend("jax", "cpu")
    with jax.transfer_guard("disallow"):
        lr = be.scalar(0.5, be.dtype("float32"))
        x = be.asarray(np.ones((2, 2)), dtype=be.dtype("float32"))
        y = x * lr
    assert to_numpy(y).tolist() == [[0.5, 0.5], [0.5, 0.5]]


# -- thread pools ---------------------------------------------------------------------------


def test_set_threads_limits_blas_and_torch() -> None:
    code = (
        "import torch, backends, threadpoolctl;"
        "lines = backends.set_threads(1);"
        "pools = backends.thread_pools();"
        "assert torch.get_num_threads() == 1, torch.get_num_threads();"
        "assert all(p['threads'] == 1 for p in pools), pools;"
        "assert any(p['pool'] == 'torch intra-op' for p in pools);"
        "assert any(p['api'] == 'blas' for p in pools), pools;"
        "print(len(lines))"
    )
    pytest.importorskip("threadpoolctl", reason="threadpoolctl not installed")
    pytest.importorskip("torch", reason="torch not installed")
    import os
    import pathlib

    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_threads_refuses_bad_counts(bad: object) -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        backends.set_threads(bad)  # type: ignore[arg-type]


def test_device_of_works_where_x_device_does_not() -> None:
    """``backends.device_of`` is the portable ``x.device`` (dask arrays have no ``.device``)."""
    da = pytest.importorskip("dask.array", reason="dask not installed")
    x = da.ones(3)
    assert not hasattr(x, "device") and backends.device_of(x) == "cpu"
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    on1 = strict.Device("device1")
    assert backends.device_of(strict.asarray([1.0], device=on1)) == on1
