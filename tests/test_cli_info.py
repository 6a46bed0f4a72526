"""`ffnn info`: version, backends and thread pools."""

from __future__ import annotations

import re

import pytest

import ffnn
from backends import backend_status
from ffnn.cli import EXIT_OK
from tests.cli_helpers import run


def test_info_lists_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "info")
    assert code == EXIT_OK, err
    assert out.startswith(f"ffnn {ffnn.__version__} (Python ")
    for name in ("numpy", "cupy", "torch", "jax", "array_api_strict"):
        status = backend_status(name)
        row = re.search(rf"^{name}\s+(usable|no device|not installed)\s+(\S+)\s+(.+)$", out, flags=re.MULTILINE)
        assert row, out
        assert row[1] == ("usable" if status.usable else "no device" if status.installed else "not installed")
        assert row[2] == (status.version or "-")
        if not status.installed:
            assert f"{name}: {status.install}" in out
    assert "--backend auto uses " in out


def test_info_shows_the_thread_pools(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("threadpoolctl")
    code, out, err = run(capsys, "info")
    assert code == EXIT_OK, err
    assert "CPU thread pools (set with --threads N):" in out
    block = out.split("CPU thread pools")[1]
    assert re.search(r"^\S+\s+(blas|openmp)\s+\d+$", block, flags=re.MULTILINE), out
