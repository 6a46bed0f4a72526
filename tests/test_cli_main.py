"""The `ffnn` entry point: help, plug-ins, `python -m ffnn`, interrupts, typos and closed pipes."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ffnn
from ffnn import cli
from ffnn.cli import EXIT_OK, EXIT_USAGE, main
from tests.cli_helpers import ROOT, TINY, assert_short_error, quiet_result, run


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--help")
    assert code == EXIT_OK and "--backend" in out and "--plot" in out
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out.strip() == f"ffnn {ffnn.__version__}"


def test_parity_is_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parity", "--help")
    assert code == EXIT_OK and out.startswith("usage: ffnn parity")


def test_plugins_register_their_subcommand(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ffnn_test_plugin_hello.py").write_text(
        textwrap.dedent(
            """
            def add_parser(subparsers):
                parser = subparsers.add_parser("hello", help="greet")
                parser.add_argument("--name", default="world")
                return parser

            def run(args):
                print(f"hello {args.name}")
                return 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "PLUGINS", ("ffnn_test_plugin_absent", "ffnn_test_plugin_hello"))
    code, out, _ = run(capsys, "hello", "--name", "ffnn")
    assert (code, out) == (3, "hello ffnn\n")


def test_a_plugin_with_a_broken_import_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ffnn_test_plugin_broken.py").write_text("import ffnn_test_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "PLUGINS", ("ffnn_test_plugin_broken",))
    with pytest.raises(ModuleNotFoundError, match="ffnn_test_no_such_dependency"):
        cli.build_parser()


def _python_m_ffnn(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "ffnn", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_python_m_ffnn_trains() -> None:
    result = _python_m_ffnn("train", "--dataset", "moons", *TINY)
    assert result.returncode == EXIT_OK, result.stderr
    assert quiet_result(result.stdout)[1] is not None


def test_python_m_ffnn_usage_error_has_no_traceback() -> None:
    result = _python_m_ffnn("train", "--dataset", "no_such_set")
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    assert_short_error(result.stderr, "ffnn train: error: unknown dataset 'no_such_set'")


def test_interrupt_exits_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ffnn.Network, "fit", interrupt)
    code, _, err = run(capsys, "train", *TINY)
    assert code == 130
    assert_short_error(err, "ffnn train: interrupted")


# ---------------------------------------------------------------------- typos and closed pipes
@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["train", "--hiden", "4"], "--hiden (did you mean --hidden?)"),
        (["train", "--output", "model.npz"], "did you mean --output-activation or --save?"),
        (["evaluate", "m.npz", "--dataset", "iris", "--spilt", "test"], "did you mean --split?"),
        (["parity", "--step", "3"], "did you mean --steps"),
    ],
)
def test_a_mistyped_flag_suggests_the_right_one(
    capsys: pytest.CaptureFixture[str], argv: list[str], suggestion: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, "unrecognized arguments", suggestion)


def test_abbreviated_flags_are_not_guessed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "train", "--hidd", "4", *TINY)
    assert code == EXIT_USAGE
    assert "did you mean --hidden?" in err


class _ClosedPipe:
    """A stdout whose reader went away after the first write."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        if self.lines:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        if len(self.lines) > 1:
            raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    ("argv", "status"),
    [(["info"], EXIT_OK), (["parity", "--backends", "numpy,array_api_strict", "--steps", "2"], EXIT_OK)],
)
def test_a_closed_pipe_ends_the_output_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], status: int
) -> None:
    pipe = _ClosedPipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    code = main(argv)
    assert code == status  # the command's own status: parity's 1 keeps meaning "tolerance exceeded"
    assert capsys.readouterr().err == ""
    assert len(pipe.lines) == 1


def test_ffnn_info_piped_into_head_exits_0_without_a_message() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shell = f"{shlex.quote(sys.executable)} -m ffnn info | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False
    )
    assert done.stdout.startswith("ffnn ")
    assert done.stdout.strip().endswith("status=0"), done.stdout
    assert done.stderr == ""
