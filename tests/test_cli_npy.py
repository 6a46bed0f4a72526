"""``ffnn train --dataset X.npy``: the file is read by rows (never loaded whole), with the
same split, standardization and results as the same data held in memory."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ffnn.cli import EXIT_OK
from ffnn.datasets import load_file, load_npy_rows, split_rows, train_test_split
from ffnn.preprocessing import ScaledRows, Standardizer
from ffnn.serialization import load
from ffnn.sources import RowSource
from tests.cli_helpers import run

TRAIN = ["--epochs", "3", "--hidden", "8", "--dtype", "float64"]


def _files(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """The same labelled data as a .npy (target last) and as a .npz (X, y)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, 5)) * [1.0, 10.0, 100.0, 0.1, 3.0] + [0.0, 5.0, -50.0, 1.0, 2.0]
    if kind == "classification":
        y = (X[:, 0] > 0).astype(np.float64) + (X[:, 2] > -50.0)
    else:
        y = X @ np.array([1.0, 0.1, 0.01, 3.0, 0.2]) + 0.1 * rng.normal(size=240)
    npy, npz = tmp_path / f"{kind}.npy", tmp_path / f"{kind}.npz"
    np.save(npy, np.column_stack([X, y]))
    np.savez(npz, X=X, y=y)
    return npy, npz


@pytest.fixture
def no_full_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """np.load refuses to load any .npy file under tmp_path without a memory map."""
    real = np.load

    def guarded(file: object, *args: object, **kwargs: object) -> object:
        if str(file).startswith(str(tmp_path)) and str(file).endswith(".npy") and kwargs.get("mmap_mode") is None:
            msg = f"{file} was loaded whole"
            raise AssertionError(msg)
        return real(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(np, "load", guarded)


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_npy_training_matches_the_in_memory_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, no_full_load: None
) -> None:
    npy, npz = _files(tmp_path, kind)
    code, from_rows, _ = run(
        capsys, "train", "--dataset", str(npy), *TRAIN, "--quiet", "--save", str(tmp_path / "a.npz")
    )
    assert code == EXIT_OK
    code, in_memory, _ = run(
        capsys, "train", "--dataset", str(npz), *TRAIN, "--quiet", "--save", str(tmp_path / "b.npz")
    )
    assert code == EXIT_OK
    assert from_rows == in_memory  # same split, statistics and batches: the same printed results
    a, b = load(tmp_path / "a.npz", backend="numpy"), load(tmp_path / "b.npz", backend="numpy")
    assert a.metadata == b.metadata
    # the batch-by-batch training path may round differently from the in-memory one (not bit-identical)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(np.asarray(wa), np.asarray(wb), rtol=1e-9, atol=1e-12)


def test_npy_training_table_counts_the_split(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    npy, _ = _files(tmp_path, "classification")
    code, out, _ = run(capsys, "train", "--dataset", str(npy), *TRAIN, "--val-size", "0.25", "--test-size", "0.2")
    assert code == EXIT_OK
    assert "144 train / 48 validation / 48 test, 5 features, 3 classes" in out


def test_load_npy_rows_reads_by_rows_and_matches_load_file(tmp_path: Path) -> None:
    npy, _ = _files(tmp_path, "classification")
    rows = load_npy_rows(npy, chunk_rows=50)
    full = load_file(npy)
    assert isinstance(rows.X, ScaledRows)
    assert rows.X.shape == full.X.shape
    assert rows.classes == full.classes
    np.testing.assert_array_equal(rows.y, full.y)
    picked = np.array([7, 3, 200, 3])
    np.testing.assert_array_equal(rows.X.take(picked), full.X[picked])
    assert rows.X.peak == float(np.max(np.abs(full.X)))
    before = rows.X.base.bytes_read
    rows.X.take(np.array([5, 6]))
    assert rows.X.base.bytes_read - before == 2 * 6 * 8  # two rows of six float64 columns, nothing more


def test_split_rows_is_the_split_of_train_test_split() -> None:
    X = np.arange(60.0).reshape(30, 2)
    y = np.arange(30) % 3
    for stratify in (False, True):
        train, test = split_rows(30, y, test_size=0.3, seed=4, stratify=stratify)
        parts = train_test_split(X, y, test_size=0.3, seed=4, stratify=stratify)
        np.testing.assert_array_equal(X[train], parts[0])
        np.testing.assert_array_equal(X[test], parts[1])


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_streamed_statistics_match_fit(chunk: int) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 4)) * [1.0, 1e3, 1e-3, 5.0] + [1.0, -2e3, 0.0, 7.0]
    X[:, 3] = 7.0  # a constant column keeps scale 1
    rows = ScaledRows(RowSource(X), rows=rng.permutation(100))
    streamed = Standardizer.fit_rows(rows, chunk_rows=chunk)
    direct = Standardizer.fit(X)
    np.testing.assert_allclose(streamed.mean, direct.mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(streamed.scale, direct.scale, rtol=1e-13)
    assert streamed.scale[3] == 1.0


def test_streamed_statistics_name_bad_columns() -> None:
    X = np.ones((20, 3))
    X[11, 1] = np.inf
    with pytest.raises(ValueError, match="column 1 hold NaN"):
        Standardizer.fit_rows(ScaledRows(RowSource(X)), chunk_rows=4)


def test_scaled_rows_standardize_each_batch(tmp_path: Path) -> None:
    X = np.arange(24.0).reshape(8, 3)
    np.save(tmp_path / "x.npy", X)
    base = RowSource(os.fspath(tmp_path / "x.npy"))
    scaler = Standardizer.fit(X[:, [0, 2]])
    rows = ScaledRows(base, rows=np.array([6, 1, 4]), columns=np.array([0, 2])).scaled(scaler)
    np.testing.assert_array_equal(rows.take(np.array([2, 0])), scaler.transform(X[[4, 6]][:, [0, 2]]))
    base.close()


def test_bad_npy_files_are_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    data = np.ones((10, 3))
    data[2, 0] = np.nan
    np.save(bad, data)
    code, _, err = run(capsys, "train", "--dataset", str(bad), *TRAIN)
    assert code != EXIT_OK
    assert "NaN or infinite" in err
    np.save(bad, np.ones(10))
    code, _, err = run(capsys, "train", "--dataset", str(bad), *TRAIN)
    assert code != EXIT_OK
    assert "2-D with the target as one column" in err


def test_evaluate_and_predict_read_a_npy_by_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_full_load: None
) -> None:
    npy, npz = _files(tmp_path, "classification")
    model = str(tmp_path / "m.npz")
    assert run(capsys, "train", "--dataset", str(npz), *TRAIN, "--quiet", "--save", model)[0] == EXIT_OK
    for split in ("all", "test"):
        code, from_rows, _ = run(capsys, "evaluate", model, "--dataset", str(npy), "--split", split)
        assert code == EXIT_OK
        code, in_memory, _ = run(capsys, "evaluate", model, "--dataset", str(npz), "--split", split)
        assert code == EXIT_OK
        assert from_rows.replace("classification.npy", "F") == in_memory.replace("classification.npz", "F")
    inputs = tmp_path / "inputs.npy"
    np.save(inputs, np.load(npz)["X"])
    code, _, _ = run(capsys, "predict", model, "--input", str(inputs), "--output", str(tmp_path / "p.npy"))
    assert code == EXIT_OK
    expected = load(model, backend="numpy").predict_classes(np.load(npz)["X"])
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy", mmap_mode="r"), expected.astype(str))  # class names


MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py is not installed")
@pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH or next to the Python interpreter")
def test_distributed_npy_training_prints_once_and_matches_one_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    npy, _ = _files(tmp_path, "regression")
    argv = ["train", "--dataset", str(npy), *TRAIN, "--quiet"]
    code, single, _ = run(capsys, *argv)
    assert code == EXIT_OK
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "ffnn", *argv, "--distributed", "mpi"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, cwd=root, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("test cost=") == 1  # only rank 0 prints
    expected = dict(part.split("=") for part in single.split()[1:])
    found = dict(part.split("=") for part in done.stdout.split()[1:])
    assert found.keys() == expected.keys()
    for key, value in expected.items():  # two ranks reproduce one up to rounding
        assert float(found[key]) == pytest.approx(float(value), rel=1e-3, abs=1e-6)
