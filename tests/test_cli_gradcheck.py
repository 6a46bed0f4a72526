"""`ffnn gradcheck`: per-layer errors, tolerance and usage errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ffnn.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from tests.cli_helpers import OTHER_BACKENDS, assert_short_error, make_iris_model, run, usable


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    """A model trained on the built-in iris data: (file, test cost, test accuracy)."""
    return make_iris_model(tmp_path_factory)


@pytest.mark.parametrize("backend", ["numpy", *OTHER_BACKENDS])
def test_gradcheck_prints_errors_per_layer(capsys: pytest.CaptureFixture[str], backend: str) -> None:
    usable(backend)
    code, out, err = run(
        capsys, "gradcheck", "--shape", "3,6,4,2", "--activation", "sigmoid", "--loss", "mse", "--backend", backend
    )
    assert code == EXIT_OK, err
    assert out.splitlines()[0].startswith(f"gradcheck: 3-6-4-2 sigmoid → linear, mse, 8 examples, {backend} on ")
    rows = re.findall(r"^(\d)\s+(\d+x\d+)\s+(\d+x1)\s+(\S+)$", out, flags=re.MULTILINE)
    assert [(r[0], r[1]) for r in rows] == [("1", "6x3"), ("2", "4x6"), ("3", "2x4")]
    assert all(float(r[3]) < 1e-6 for r in rows)
    assert "PASS: 62 partial derivatives" in out


def test_gradcheck_fails_beyond_the_tolerance(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "gradcheck", "--tolerance", "1e-300")
    assert code == EXIT_FAILURE
    assert "FAIL: 43 partial derivatives" in out


def test_gradcheck_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "gradcheck", "--shape", "4")
    assert code == EXIT_USAGE
    assert_short_error(err, "at least two comma-separated layer sizes")
    code, _, err = run(capsys, "gradcheck", "--loss", "hinge")
    assert code == EXIT_USAGE
    assert_short_error(err, "unknown loss 'hinge'")


def test_gradcheck_and_evaluate_report_a_cpu_only_backend_on_a_gpu(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float]
) -> None:
    code, _, err = run(capsys, "gradcheck", "--backend", "numpy", "--device", "gpu")
    assert code == EXIT_USAGE
    assert_short_error(err, "ffnn gradcheck: error: --backend numpy runs on the CPU only")
    code, _, err = run(
        capsys, "evaluate", str(iris_model[0]), "--dataset", "iris", "--device", "gpu", "--backend", "numpy"
    )
    assert code == EXIT_USAGE
    assert_short_error(err, "ffnn evaluate: error: --backend numpy runs on the CPU only, not on --device gpu")
