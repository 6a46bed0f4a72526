"""backends._precision: TF32 and other reduced-precision modes switched off, and put back."""

from __future__ import annotations

import os
import sys
import types

import pytest

from backends import backend_status, get_backend
from backends._precision import disable_reduced_precision, reduced_precision_disabled
from tests.conftest import make_backend

_FP32_PATHS = (
    "backends",
    "backends.cuda.matmul",
    "backends.cudnn",
    "backends.cudnn.conv",
    "backends.cudnn.rnn",
    "backends.mkldnn",
    "backends.mkldnn.matmul",
    "backends.mkldnn.conv",
    "backends.mkldnn.rnn",
)


def _setting(torch: types.ModuleType, path: str) -> object:
    obj = torch
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _fp32_state(torch: types.ModuleType) -> dict[str, str]:
    return {path: _setting(torch, path).fp32_precision for path in _FP32_PATHS}


@pytest.fixture
def torch_settings():
    """torch with TF32 allowed for CUDA matmuls and cuDNN through torch's newer
    ``fp32_precision`` API (the one torch >= 2.9 recommends); the process's settings
    restored afterwards."""
    torch = make_backend("torch", "cpu").module
    if not isinstance(getattr(torch.backends, "fp32_precision", None), str):
        pytest.skip(f"torch {torch.__version__} has no fp32_precision API")
    matmul = torch.backends.cuda.matmul
    saved = (_fp32_state(torch), matmul.allow_fp16_reduced_precision_reduction)
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    matmul.allow_fp16_reduced_precision_reduction = True
    yield torch
    for path, value in saved[0].items():
        _setting(torch, path).fp32_precision = value
    matmul.allow_fp16_reduced_precision_reduction = saved[1]


def test_cpu_only_libraries_have_nothing_to_switch() -> None:
    assert disable_reduced_precision("numpy") == []
    assert disable_reduced_precision("array_api_strict") == []
    assert disable_reduced_precision(get_backend("numpy")) == []


def test_torch_tf32_switched_off_and_restored(torch_settings) -> None:
    torch = torch_settings
    before = _fp32_state(torch)
    assert before["backends.cuda.matmul"] == "tf32"
    with reduced_precision_disabled("torch", "numpy") as messages:
        assert set(_fp32_state(torch).values()) == {"ieee"}
        assert not torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
    assert (
        len(messages) == 1 and "TF32 off" in messages[0] and "torch.backends.cuda.matmul.fp32_precision" in messages[0]
    )
    assert _fp32_state(torch) == before
    assert torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction


def test_new_precision_api_set_by_the_user_does_not_break_the_switch(torch_settings) -> None:
    """After ``torch.backends.fp32_precision = "ieee"`` torch refuses to read the legacy
    TF32 flags (RuntimeError "mix of the legacy and new APIs"): the switch and a
    whole backend comparison must only use the new API."""
    from ffnn.testing import compare_backends

    torch = torch_settings
    torch.backends.fp32_precision = "ieee"
    before = _fp32_state(torch)
    with reduced_precision_disabled("torch") as messages:
        assert set(_fp32_state(torch).values()) == {"ieee"}
    assert "TF32 off" in messages[0] and _fp32_state(torch) == before
    result = compare_backends(("numpy", "torch:cpu"), steps=1)
    assert result.passed and any("TF32 off" in line for line in result.precision)
    assert _fp32_state(torch) == before


def test_legacy_torch_flags_when_there_is_no_new_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch older than 2.9 (no fp32_precision) gets the legacy flags, and back."""
    from backends import _precision

    state = {"precision": "high"}
    matmul = types.SimpleNamespace(
        allow_tf32=True, allow_fp16_reduced_precision_reduction=True, allow_bf16_reduced_precision_reduction=True
    )
    old_torch = types.SimpleNamespace(
        backends=types.SimpleNamespace(
            cuda=types.SimpleNamespace(matmul=matmul), cudnn=types.SimpleNamespace(allow_tf32=True)
        ),
        get_float32_matmul_precision=lambda: state["precision"],
        set_float32_matmul_precision=lambda value: state.update(precision=value),
    )
    monkeypatch.setattr(_precision, "load_module", lambda name: old_torch)
    with reduced_precision_disabled("torch") as messages:
        assert not matmul.allow_tf32 and not old_torch.backends.cudnn.allow_tf32
        assert state["precision"] == "highest" and not matmul.allow_bf16_reduced_precision_reduction
    assert "allow_tf32=False" in messages[0] and "'highest'" in messages[0]
    assert matmul.allow_tf32 and old_torch.backends.cudnn.allow_tf32 and state["precision"] == "high"
    assert matmul.allow_fp16_reduced_precision_reduction


def test_disable_reduced_precision_is_permanent(torch_settings) -> None:
    torch = torch_settings
    messages = disable_reduced_precision(get_backend("torch", "cpu"))
    assert "TF32 off" in messages[0]
    assert torch.backends.cuda.matmul.fp32_precision == "ieee" and torch.backends.cudnn.conv.fp32_precision == "ieee"


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

    preallocate = os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE")
    before = jax.config.jax_default_matmul_precision
    with reduced_precision_disabled("jax") as messages:
        assert jax.config.jax_default_matmul_precision == "highest"
        assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert "highest" in messages[0] and jax.config.jax_default_matmul_precision == before
    assert any("XLA_PYTHON_CLIENT_PREALLOCATE=false" in line for line in messages)
    assert os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE") == preallocate


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
