"""Shared helpers and fixtures of the ffnn command-line tests (tests/test_cli_*.py)."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from backends import backend_status
from ffnn.cli import EXIT_OK, main
from ffnn.datasets import load_iris
from tests.test_serialization import rewrite

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "4", "--epochs", "1", "--quiet"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OTHER_BACKENDS = ["torch", "array_api_strict"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv) with its exit status, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def usable(name: str) -> None:
    status = backend_status(name)
    if not status.usable:
        pytest.skip(f"{name} not usable here: {status.reason}")


def quiet_result(out: str) -> tuple[float, float | None]:
    """(cost, accuracy) from the one line of `train --quiet`."""
    match = re.fullmatch(r"test cost=(\S+)(?: accuracy=(\S+))?\n", out)
    assert match, out
    return float(match[1]), None if match[2] is None else float(match[2])


def field(out: str, name: str) -> str:
    """The value after ``name`` at the start of a line of the output."""
    match = re.search(rf"^{name}\s+(.*)$", out, flags=re.MULTILINE)
    assert match, f"no {name!r} line in:\n{out}"
    return match[1]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def assert_short_error(err: str, *fragments: str) -> None:
    """One or two lines, no traceback, naming what went wrong."""
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def make_iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris data as a CSV file with a string label column."""
    data = load_iris()
    path = tmp_path_factory.mktemp("data") / "iris.csv"
    lines = [",".join([*data.feature_names, "species"])]
    lines += [",".join([*(f"{v:g}" for v in x), data.classes[k]]) for x, k in zip(data.X, data.y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    """A model trained on the built-in iris data: (file, test cost, test accuracy)."""
    path = tmp_path_factory.mktemp("model") / "iris.npz"
    argv = [
        "train",
        "--dataset",
        "iris",
        "--hidden",
        "8",
        "--epochs",
        "40",
        "--learning-rate",
        "0.02",
        "--save",
        str(path),
        "--quiet",
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == EXIT_OK
    cost, accuracy = quiet_result(buffer.getvalue())
    assert path.exists() and accuracy is not None
    return path, cost, accuracy


def make_regression_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-output regression model trained for one epoch on the built-in regression set."""
    path = tmp_path_factory.mktemp("regression") / "r.npz"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--dataset", "regression", *TINY, "--save", str(path)]) == EXIT_OK
    return path


def old_model(source: Path, folder: Path) -> Path:
    """A copy of a model file as written before models kept metadata (no "user" field)."""
    path = folder / "old.npz"
    shutil.copy(source, path)
    rewrite(path, meta=lambda meta: meta.pop("user"))
    return path
