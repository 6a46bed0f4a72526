"""Errors of the `ffnn` command: usage errors exit 2 with a short message, runtime failures exit 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ffnn
from backends import backend_status, gpu_available
from ffnn.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from tests.cli_helpers import TINY, assert_short_error, make_iris_csv, quiet_result, run, write_csv


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris data as a CSV file (the built-in feature names, string labels)."""
    return make_iris_csv(tmp_path_factory)


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["train", "--dataset", "mnist"], ["unknown dataset 'mnist'", "digits, breast_cancer, iris"]),
        (["train", "--hidden", "128,x"], ["argument --hidden", "'128,x'"]),
        (["train", "--hidden", "0"], ["argument --hidden"]),
        (["train", "--dataset", "no/such/file.csv"], ["file 'no/such/file.csv' not found"]),
        (["train", "--epochs", "0"], ["argument --epochs: expected a positive integer"]),
        (["train", "--test-size", "1.5"], ["argument --test-size"]),
        (["train", "--device", "tpu"], ["argument --device: expected cpu, gpu or cuda:N"]),
        (["train", "--backend", "tensorflow"], ["argument --backend: invalid choice"]),
        (["train", "--optimizer", "rmsprop"], ["unknown optimizer 'rmsprop'"]),
        (["train", "--activation", "mish"], ["unknown activation 'mish'"]),  # swish is E (4) now
        (["train", "--loss", "mse"], ["--loss mse is for regression", "--task regression"]),
        (["train", "--dataset", "regression", "--loss", "cce"], ["needs class labels", "--loss mse"]),
        (["train", "--output-activation", "relu"], ["needs outputs in (0, 1)"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        ([], ["required: COMMAND"]),
    ],
)
def test_usage_errors_exit_2_with_a_short_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragments: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert_short_error(err, *fragments)


def test_target_column_absent(capsys: pytest.CaptureFixture[str], iris_csv: Path) -> None:
    code, _, err = run(capsys, "train", "--dataset", str(iris_csv), "--target", "kind")
    assert code == EXIT_USAGE
    assert_short_error(err, "iris.csv: no column 'kind'", "species")
    code, _, err = run(capsys, "train", "--dataset", str(iris_csv))
    assert code == EXIT_USAGE
    assert_short_error(err, "name the target column with --target")


@pytest.mark.parametrize(
    ("argv", "flags"), [(["--backend", "cupy"], "--backend cupy"), (["--device", "gpu"], "--device gpu")]
)
def test_gpu_asked_for_without_one(capsys: pytest.CaptureFixture[str], argv: list[str], flags: str) -> None:
    if gpu_available():
        pytest.skip("this machine has a usable CUDA device")
    code, _, err = run(capsys, "train", *argv)
    assert code == EXIT_USAGE
    assert_short_error(err, flags, "needs a CUDA GPU, but none is usable here", "--backend numpy", "auto")


def test_runtime_failures_exit_1_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("device lost")

    monkeypatch.setattr(ffnn.Network, "fit", explode)
    code, _, err = run(capsys, "train", *TINY)
    assert code == EXIT_FAILURE
    assert_short_error(err, "ffnn train: error: device lost")
    assert "RuntimeError" not in err  # no Python exception name reaches the user


def test_divergence_exits_1_with_a_hint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    code, _, err = run(
        capsys,
        "train",
        "--dataset",
        "regression",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e3",
        "--epochs",
        "3",
        "--save",
        str(path),
    )
    assert code == EXIT_FAILURE
    assert_short_error(err, "training diverged", "smaller --learning-rate")
    assert not path.exists()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--learning-rate", "0"], ["argument --learning-rate: expected a positive number, got '0'"]),
        (["--lr", "0"], ["argument --lr: expected a positive number, got '0'"]),
        (["--l2", "-1"], ["argument --l2: expected a non-negative number, got '-1'"]),
        (["--seed", "-1"], ["argument --seed: expected a non-negative integer, got '-1'"]),
        (["--val-size", "1"], ["argument --val-size: expected a fraction in [0, 1), got '1'"]),
        (["--batch-size", "x"], ["argument --batch-size: expected a positive integer, got 'x'"]),
        (["--patience", "0"], ["argument --patience: expected a positive integer, got '0'"]),
        (["--dtype", "float16"], ["argument --dtype: invalid choice: 'float16'"]),
        (["--task", "clustering"], ["argument --task: invalid choice: 'clustering'"]),
    ],
)
def test_train_option_values_are_checked(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragments: list[str]
) -> None:
    code, out, err = run(capsys, "train", *TINY, *argv)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, *fragments, "hint: see ffnn train --help")


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("device", ["gpu", "cuda:0"])
def test_cpu_only_backend_on_a_gpu_device(capsys: pytest.CaptureFixture[str], backend: str, device: str) -> None:
    code, out, err = run(capsys, "train", *TINY, "--backend", backend, "--device", device)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err,
        f"ffnn train: error: --backend {backend} runs on the CPU only, not on --device {device}",
        "hint: use --device cpu, or --backend auto, cupy or torch for a GPU",
    )


def test_a_backend_that_is_not_installed(capsys: pytest.CaptureFixture[str]) -> None:
    status = backend_status("jax")
    if status.installed:
        pytest.skip("jax is installed here")
    code, _, err = run(capsys, "train", *TINY, "--backend", "jax")
    assert code == EXIT_USAGE
    assert_short_error(err, "ffnn train: error:", "'jax'", "not installed", status.install)


def test_save_or_plot_onto_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for option in ("--save", "--plot"):
        code, out, err = run(capsys, "train", *TINY, option, str(tmp_path))
        assert code == EXIT_USAGE and out == ""
        assert_short_error(err, f"{option}: cannot write {str(tmp_path)!r}: it is a directory")
    code, _, err = run(capsys, "train", *TINY, "--save", str(tmp_path / "nodir" / "m.npz"))
    assert code == EXIT_USAGE
    assert_short_error(err, "--save: cannot write", "does not exist")


def test_model_path_that_is_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "evaluate", str(tmp_path), "--dataset", "iris")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, f"ffnn evaluate: error: model {str(tmp_path)!r} is not a file")
    code, _, err = run(capsys, "predict", str(tmp_path), "--input", "x.csv", "--output", str(tmp_path / "p.csv"))
    assert code == EXIT_USAGE
    assert_short_error(err, "ffnn predict: error: model", "is not a file")


def test_train_file_errors_are_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros((4, 1)))
    code, out, err = run(capsys, "train", *TINY, "--dataset", str(tmp_path / "one.npy"))
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, "one.npy has shape (4, 1); a labelled .npy file is 2-D with the target as one column")
    np.savez(tmp_path / "y2.npz", X=np.zeros((4, 2)), y=np.eye(4)[:, :2].astype(np.int64))
    code, _, err = run(capsys, "train", *TINY, "--dataset", str(tmp_path / "y2.npz"), "--task", "classification")
    assert code == EXIT_USAGE
    assert_short_error(err, "y2.npz['y'] has shape (4, 2); classification needs one class label per row")


# ---------------------------------------------------------------------- bad data is exit 2, never an exception name
def test_a_csv_cell_beyond_the_field_limit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("a,target\n" + "1" * 200_000 + ",1\n2,0\n", encoding="utf-8")
    code, out, err = run(capsys, "train", "--dataset", str(path), *TINY)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, "huge.csv line 2: a field longer than", "is this a CSV file?")
    assert "Error:" not in err


def test_a_file_that_is_not_utf8_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("größe,target\n1,0\n2,1\n".encode("latin-1"))
    code, _, err = run(capsys, "train", "--dataset", str(path), *TINY)
    assert code == EXIT_USAGE
    assert_short_error(err, "latin.csv is not UTF-8 text", "save it as UTF-8")
    assert "codec" not in err


def _huge_values(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = [[float(rng.choice([1.7e308, -1.7e308])), i, i % 2] for i in range(40)]
    return write_csv(tmp_path / "huge_values.csv", ["a", "b", "target"], rows)


def test_finite_values_beyond_float32_are_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--dataset", str(_huge_values(tmp_path)), *TINY)
    assert code == EXIT_USAGE
    assert_short_error(err, "huge_values.csv holds values up to 1.7e+308, beyond the float32 range", "--dtype float64")


def test_finite_values_near_the_float64_limit_standardize_without_overflow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _huge_values(tmp_path)
    code, out, err = run(capsys, "train", "--dataset", str(path), "--dtype", "float64", *TINY)
    assert code == EXIT_OK, err
    cost, accuracy = quiet_result(out)
    assert np.isfinite(cost) and accuracy is not None


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["train", "--hidden", "100000000,100000000", "--epochs", "1"], "--hidden"),
        (["gradcheck", "--shape", "200000,200000,3"], "--shape"),
    ],
)
def test_sizes_too_large_to_allocate_say_how_much_memory(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, f"{option}: a ", "parameters and would need about", "GiB of memory, more than this machine")
    assert "MemoryError" not in err


def test_an_allocation_failure_anywhere_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError("Unable to allocate 47.7 GiB for an array with shape (100000000, 64)")

    monkeypatch.setattr(ffnn.Network, "fit", no_memory)
    code, _, err = run(capsys, "train", *TINY)
    assert code == EXIT_USAGE
    assert_short_error(err, "not enough memory: Unable to allocate 47.7 GiB")
    assert "MemoryError" not in err
