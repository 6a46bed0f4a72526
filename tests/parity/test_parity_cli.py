"""The `ffnn parity` command: its table, skipped backends, and exit statuses 0, 1 and 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from backends import backend_status
from ffnn.parity import add_parser, main, run
from tests.conftest import make_backend
from tests.helpers import perturb_off_numpy

FAST = ["--backends", "numpy,array_api_strict", "--steps", "8"]


def unusable_spec() -> tuple[str, str]:
    for name in ("cupy", "jax"):
        status = backend_status(name)
        if not status.usable:
            return name, status.reason
    pytest.skip("every optional backend can run here; nothing to skip")


def test_table_rows_at_checkpoints_and_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*FAST, "--hidden", "7", "--loss", "bce", "--activation", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "ffnn parity: 6-7-3 sigmoid/sigmoid, binary_crossentropy, sgd(learning_rate=0.1)" in out
    assert "8 steps in float64; reference numpy:cpu" in out and "rtol=1e-10" in out
    rows = [line.split()[1] for line in out.splitlines() if line.startswith("array_api_strict:cpu")]
    assert rows == ["0", "1", "2", "4", "6", "8", "worst"]
    assert "initial weights bit-identical" in out
    assert out.rstrip().endswith("PASS: all within tolerance (1 compared, 0 skipped)")


def test_unusable_backends_are_listed_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    spec, reason = unusable_spec()
    assert main(["--backends", f"numpy,{spec},array_api_strict", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{spec:<22} skipped: {reason}" in out
    assert "(1 compared, 1 skipped)" in out


def test_only_skipped_backends_is_a_vacuous_pass(capsys: pytest.CaptureFixture[str]) -> None:
    spec, _ = unusable_spec()
    assert main(["--backends", f"numpy,{spec}", "--steps", "2"]) == 0
    assert "PASS (vacuous): no backend besides the reference could run here" in capsys.readouterr().out


def test_gpu_libraries_have_reduced_precision_switched_off(capsys: pytest.CaptureFixture[str]) -> None:
    make_backend("torch", "cpu")
    assert main(["--backends", "numpy,torch:cpu,cupy", "--steps", "3", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "precision: torch: TF32 off" in out and "precision: cupy: CUPY_TF32=0" in out
    assert main(["--backends", "numpy,torch:cpu", "--steps", "3", "--allow-reduced-precision"]) == 0
    assert "left as they are" in capsys.readouterr().out
    assert main(FAST) == 0
    assert "none of these backends has a reduced-precision mode" in capsys.readouterr().out


def test_exceeded_tolerance_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    perturb_off_numpy(monkeypatch, 1 + 1e-6)
    assert main(FAST) == 1
    out = capsys.readouterr().out
    assert "FAILED: cost beyond tolerance from step 0" in out
    assert "FAIL: beyond tolerance: array_api_strict:cpu" in out
    assert main([*FAST, "--rtol", "1e-3"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backends", "numpy,tensorflow"], "unknown backend 'tensorflow'"),
        (["--backends", "numpy"], "list at least two backends"),
        (["--backends", "numpy,numpy"], "numpy:cpu is listed twice"),
        ([*FAST, "--hidden", "8,x"], "expected comma-separated positive layer sizes"),
        ([*FAST, "--hidden", "8,0"], "(or 'none'), got '8,0'"),
        ([*FAST, "--steps", "-1"], "expected a non-negative integer, got '-1'"),
        ([*FAST, "--steps", "ten"], "expected a non-negative integer, got 'ten'"),
        ([*FAST, "--batch-size", "0"], "expected a positive integer, got '0'"),
        ([*FAST, "--dtype", "float16"], "invalid choice: 'float16'"),
        ([*FAST, "--rtol", "-1"], "expected a non-negative number, got '-1'"),
        ([*FAST, "--rtol", "tiny"], "expected a non-negative number, got 'tiny'"),
        ([*FAST, "--activation", "mish"], "unknown activation 'mish'"),
        ([*FAST, "--loss", "bce", "--output-activation", "relu"], "needs outputs in (0, 1)"),
        ([*FAST, "--optimizer", "lbfgs"], "lbfgs"),
        ([*FAST, "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_unusable_reference_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    spec, _ = unusable_spec()
    assert main(["--backends", f"{spec},numpy"]) == 2
    assert f"the reference backend '{spec}' (the first one) cannot run here" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "Exit status: 0 all within tolerance" in capsys.readouterr().out


def test_add_parser_registers_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="ffnn")
    sub = parser.add_subparsers(dest="command", required=True)
    assert add_parser(sub).prog.endswith("parity")
    args = parser.parse_args(["parity", *FAST])
    assert args.func is run and args.func(args) == 0
    assert "PASS" in capsys.readouterr().out


def test_ffnn_command_runs_parity(capsys: pytest.CaptureFixture[str]) -> None:
    from ffnn.cli import main as ffnn_main

    assert ffnn_main(["parity", *FAST]) == 0
    assert "PASS: all within tolerance" in capsys.readouterr().out
    assert ffnn_main(["parity", "--backends", "numpy,tensorflow"]) == 2


def test_module_entry_point_exit_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ffnn.parity", *FAST], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout
