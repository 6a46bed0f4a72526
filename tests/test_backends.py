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
    with pytest.raises(TypeError, match="got a torch array on cpu.*backends.to_device"):
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
        cuda=types.SimpleNamespace(get_device_properties=lambda i: types.SimpleNamespace(name="Fake GPU", total_memory=2**31))
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
