"""backends._precision: TF32 and other reduced-precision modes switched off, and put back."""

from __future__ import annotations

import os
import sys
import types

import pytest

from backends import backend_status, get_backend
from backends._precision import disable_reduced_precision, reduced_precision_disabled
from tests.conftest import make_backend


@pytest.fixture
def torch_settings():
    """torch with TF32 allowed everywhere; the process's settings restored afterwards."""
    torch = make_backend("torch", "cpu").module
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (torch.get_float32_matmul_precision(), cudnn.allow_tf32, matmul.allow_fp16_reduced_precision_reduction)
    torch.set_float32_matmul_precision("high")
    cudnn.allow_tf32 = True
    matmul.allow_fp16_reduced_precision_reduction = True
    yield torch
    torch.set_float32_matmul_precision(saved[0])
    cudnn.allow_tf32, matmul.allow_fp16_reduced_precision_reduction = saved[1], saved[2]


def test_cpu_only_libraries_have_nothing_to_switch() -> None:
    assert disable_reduced_precision("numpy") == []
    assert disable_reduced_precision("array_api_strict") == []
    assert disable_reduced_precision(get_backend("numpy")) == []


def test_torch_tf32_switched_off_and_restored(torch_settings) -> None:
    torch = torch_settings
    assert torch.backends.cuda.matmul.allow_tf32
    with reduced_precision_disabled("torch", "numpy") as messages:
        assert not torch.backends.cuda.matmul.allow_tf32
        assert not torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
        assert torch.get_float32_matmul_precision() == "highest"
    assert len(messages) == 1 and "allow_tf32=False" in messages[0] and "'highest'" in messages[0]
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "high"
    assert torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction


def test_disable_reduced_precision_is_permanent(torch_settings) -> None:
    torch = torch_settings
    messages = disable_reduced_precision(get_backend("torch", "cpu"))
    assert "TF32 off" in messages[0]
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize("previous", [None, "1"])
def test_cupy_variable_set_to_zero_and_restored(monkeypatch: pytest.MonkeyPatch, previous: str | None) -> None:
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    if previous is None:
        monkeypatch.delenv("CUPY_TF32", raising=False)
    else:
        monkeypatch.setenv("CUPY_TF32", previous)
    with reduced_precision_disabled("cupy") as messages:
        assert os.environ["CUPY_TF32"] == "0"
    assert messages == ["cupy: CUPY_TF32=0 (float32 matrix products computed in FP32, not TF32)"]
    assert os.environ.get("CUPY_TF32") == previous


def test_cupy_imported_with_tf32_gets_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    monkeypatch.setenv("CUPY_TF32", "1")
    messages = disable_reduced_precision("cupy")
    assert os.environ["CUPY_TF32"] == "0"
    assert len(messages) == 2 and "warning" in messages[1] and "CUPY_TF32=1" in messages[1]


def test_auto_may_pick_cupy_so_its_variable_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUPY_TF32", raising=False)
    assert any("CUPY_TF32=0" in line for line in disable_reduced_precision("auto"))
    assert os.environ["CUPY_TF32"] == "0"


def test_jax_matmul_precision_highest() -> None:
    status = backend_status("jax")
    if not status.usable:
        pytest.skip(f"jax not usable here: {status.reason}")
    import jax

    before = jax.config.jax_default_matmul_precision
    with reduced_precision_disabled("jax") as messages:
        assert jax.config.jax_default_matmul_precision == "highest"
    assert "highest" in messages[0] and jax.config.jax_default_matmul_precision == before


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'; known backends: auto, numpy"):
        disable_reduced_precision("tensorflow")
    with pytest.raises(ValueError, match="unknown backend 'mxnet'"), reduced_precision_disabled("numpy", "mxnet"):
        pass


def test_missing_library_raises_and_restores_earlier_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    status = backend_status("jax")
    if status.installed:
        pytest.skip("jax is installed here")
    from backends import BackendUnavailableError

    monkeypatch.delenv("CUPY_TF32", raising=False)
    with pytest.raises(BackendUnavailableError, match="jax"), reduced_precision_disabled("cupy", "jax"):
        pass
    assert "CUPY_TF32" not in os.environ
