"""The ffnn command: every subcommand's success path on numpy and another backend, the
usage errors and their exit codes, the train → save → evaluate → predict round trip,
the plot file, plug-in subcommands, and `python -m ffnn` in a subprocess."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ffnn
from backends import backend_status, gpu_available
from ffnn import cli
from ffnn.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fold_standardization, main
from ffnn.datasets import Standardizer, load_iris
from ffnn.serialization import read_metadata
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


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris data as a CSV file with a string label column."""
    data = load_iris()
    path = tmp_path_factory.mktemp("data") / "iris.csv"
    lines = ["sepal_l,sepal_w,petal_l,petal_w,species"]
    lines += [",".join([*(f"{v:g}" for v in x), data.classes[k]]) for x, k in zip(data.X, data.y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
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
        "--lr",
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


# ---------------------------------------------------------------------- train
def test_default_command_reaches_096_on_digits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train")
    assert code == EXIT_OK, err
    assert field(out, "data").startswith("digits:")
    assert field(out, "backend") == "numpy" and field(out, "device") == "cpu" and field(out, "dtype") == "float32"
    assert field(out, "parameters") == f"{64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10:,}"
    assert field(out, "epochs") == "30 of 30 (completed)"
    train_cost, train_accuracy = field(out, "train").split()
    test_cost, test_accuracy = field(out, "test").split()
    assert float(test_accuracy) >= 0.96
    assert float(train_accuracy) >= float(test_accuracy) - 0.02
    assert 0 < float(train_cost) < float(test_cost) < 0.5


@pytest.mark.parametrize("backend", ["numpy", *OTHER_BACKENDS])
def test_train_succeeds_on_each_backend(capsys: pytest.CaptureFixture[str], backend: str) -> None:
    usable(backend)
    code, out, err = run(capsys, "train", "--dataset", "moons", "--backend", backend, *TINY)
    assert code == EXIT_OK, err
    cost, accuracy = quiet_result(out)
    assert cost > 0 and accuracy is not None and 0 <= accuracy <= 1


def test_train_backends_agree_on_the_same_seed(capsys: pytest.CaptureFixture[str]) -> None:
    usable("torch")
    args = ["train", "--dataset", "iris", "--hidden", "5", "--epochs", "3", "--dtype", "float64", "--quiet"]
    numpy_cost, _ = quiet_result(run(capsys, *args, "--backend", "numpy")[1])
    torch_cost, _ = quiet_result(run(capsys, *args, "--backend", "torch")[1])
    assert torch_cost == pytest.approx(numpy_cost, rel=1e-5)


@pytest.mark.gpu
def test_train_on_the_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    if not gpu_available():
        pytest.skip("no usable CUDA device")
    code, out, err = run(capsys, "train", "--dataset", "moons", "--device", "gpu", "--hidden", "4", "--epochs", "1")
    assert code == EXIT_OK, err
    assert field(out, "device").startswith("cuda:")


def test_regression_table_and_target_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--dataset", "regression", "--hidden", "16", "--epochs", "15", "--lr", "0.01")
    assert code == EXIT_OK, err
    assert field(out, "network") == "10-16-1 relu → linear, mse"
    test_cost, accuracy = field(out, "test").split()
    assert accuracy == "-"
    # Friedman #1 has variance ≈ 24 around its mean; a fit must do far better than the mean.
    assert float(test_cost) < 8.0


def test_early_stopping_with_and_without_validation(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--dataset", "iris", "--hidden", "32", "--epochs", "500", "--lr", "0.05", "--patience", "2"]
    code, out, err = run(capsys, *base)
    assert code == EXIT_OK, err
    assert re.fullmatch(r"\d+ of 500 \(early stopping; weights of epoch \d+ kept\)", field(out, "epochs"))
    code, out, err = run(capsys, *base, "--val-size", "0", "--dtype", "float64")
    assert code == EXIT_OK, err
    assert "/ 0 validation /" in field(out, "data") and field(out, "dtype") == "float64"


def test_binary_and_bce_heads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--dataset", "breast_cancer", "--hidden", "8", "--epochs", "2")
    assert code == EXIT_OK
    assert field(out, "network") == "30-8-1 relu → sigmoid, binary_crossentropy"
    code, out, _ = run(capsys, "train", "--dataset", "iris", "--loss", "bce", "--hidden", "none", "--epochs", "2")
    assert code == EXIT_OK
    assert field(out, "network") == "4-3 sigmoid, binary_crossentropy"


def test_plot_writes_a_png_with_cost_and_accuracy_panels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image", reason="--plot needs the plot extra")
    path = tmp_path / "curves.png"
    code, out, err = run(capsys, "train", "--dataset", "moons", "--hidden", "4", "--epochs", "3", "--plot", str(path))
    assert code == EXIT_OK, err
    assert f"curves written to {path}" in out
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = image.imread(path).shape
    assert (width, height) == (1000, 400)  # two 5 x 4 inch panels at 100 dpi
    regression = tmp_path / "regression.png"
    assert main(["train", "--dataset", "regression", *TINY, "--plot", str(regression)]) == EXIT_OK
    assert image.imread(regression).shape[:2] == (400, 500)  # cost only
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_plot_without_matplotlib_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "train", *TINY, "--plot", str(tmp_path / "c.png"))
    assert code == EXIT_USAGE
    assert_short_error(err, "--plot needs matplotlib", "pip install 'ffnn[plot]'")
    assert not (tmp_path / "c.png").exists()


def test_existing_files_are_kept_unless_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"precious")
    code, _, err = run(capsys, "train", *TINY, "--save", str(path))
    assert code == EXIT_USAGE
    assert_short_error(err, "the file exists and is kept", "--overwrite")
    assert path.read_bytes() == b"precious"
    fresh = tmp_path / "fresh.npz"
    assert main(["train", "--dataset", "moons", *TINY, "--save", str(fresh)]) == EXIT_OK
    assert main(["train", "--dataset", "moons", *TINY, "--save", str(fresh), "--overwrite", "--seed", "1"]) == EXIT_OK
    assert read_metadata(fresh)["architecture"]["seed"] == 1


# ---------------------------------------------------------------------- usage errors
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
        (["train", "--activation", "swish"], ["unknown activation 'swish'"]),
        (["train", "--loss", "mse"], ["--loss mse is for regression", "--task regression"]),
        (["train", "--dataset", "regression", "--loss", "cce"], ["needs class labels", "--loss mse"]),
        (["train", "--output", "relu"], ["needs outputs in (0, 1)"]),
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


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--help")
    assert code == EXIT_OK and "--backend" in out and "--plot" in out
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out.strip() == f"ffnn {ffnn.__version__}"


def test_runtime_failures_exit_1_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("device lost")

    monkeypatch.setattr(ffnn.Network, "fit", explode)
    code, _, err = run(capsys, "train", *TINY)
    assert code == EXIT_FAILURE
    assert_short_error(err, "ffnn train: error: RuntimeError: device lost")


def test_divergence_exits_1_with_a_hint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    code, _, err = run(
        capsys,
        "train",
        "--dataset",
        "regression",
        "--optimizer",
        "sgd",
        "--lr",
        "1e3",
        "--epochs",
        "3",
        "--save",
        str(path),
    )
    assert code == EXIT_FAILURE
    assert_short_error(err, "training diverged", "smaller --lr")
    assert not path.exists()


# ---------------------------------------------------------------------- evaluate and predict
def test_evaluate_reproduces_the_held_out_results(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float]
) -> None:
    path, cost, accuracy = iris_model
    code, out, err = run(capsys, "evaluate", str(path), "--dataset", "iris", "--split", "test")
    assert code == EXIT_OK, err
    assert float(field(out, "cost")) == pytest.approx(cost, rel=1e-5)
    assert float(field(out, "accuracy")) == pytest.approx(accuracy, abs=1e-4)
    matrix = out.split("confusion matrix (rows: true class, columns: predicted class)\n")[1].splitlines()
    assert matrix[0].split() == ["setosa", "versicolor", "virginica"]
    counts = np.array([[int(c) for c in row.split()[1:]] for row in matrix[1:4]])
    assert counts.sum() == 30 and counts.sum(axis=1).tolist() == [10, 10, 10]  # the stratified test split
    assert np.trace(counts) / 30 == pytest.approx(accuracy, abs=1e-4)


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_evaluate_on_another_backend(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], backend: str
) -> None:
    usable(backend)
    path, cost, accuracy = iris_model
    code, out, err = run(capsys, "evaluate", str(path), "--dataset", "iris", "--split", "test", "--backend", backend)
    assert code == EXIT_OK, err
    assert f"({backend} on " in field(out, "model")
    assert float(field(out, "cost")) == pytest.approx(cost, rel=1e-4)
    assert float(field(out, "accuracy")) == pytest.approx(accuracy, abs=1e-4)


def test_round_trip_predict_csv_and_npy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    model = str(iris_model[0])
    code, out, err = run(capsys, "evaluate", model, "--dataset", str(iris_csv), "--target", "species")
    assert code == EXIT_OK, err
    accuracy_all = float(field(out, "accuracy"))
    csv_out, npy_out, proba_out = tmp_path / "p.csv", tmp_path / "p.npy", tmp_path / "proba.csv"
    for target, extra in ((csv_out, []), (npy_out, []), (proba_out, ["--proba"])):
        code, out, err = run(
            capsys, "predict", model, "--input", str(iris_csv), "--target", "species", "--output", str(target), *extra
        )
        assert code == EXIT_OK, err
        assert out.strip() == f"150 predictions written to {target}"
    classes = ["setosa", "versicolor", "virginica"]
    assert read_metadata(model)["user"]["classes"] == classes
    lines = csv_out.read_text().splitlines()
    assert lines[0] == "class" and len(lines) == 151
    predicted = np.array([classes.index(v) for v in lines[1:]])  # class names, written by name
    np.testing.assert_array_equal(np.load(npy_out, allow_pickle=False), np.array(classes)[predicted])
    assert np.mean(predicted == load_iris().y) == pytest.approx(accuracy_all, abs=1e-4)
    assert proba_out.read_text().splitlines()[0] == "p(setosa),p(versicolor),p(virginica)"
    proba = np.loadtxt(proba_out, delimiter=",", skiprows=1)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), predicted)


def test_predict_regression_values_in_target_units(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from ffnn.datasets import make_regression

    model = tmp_path / "r.npz"
    argv = [
        "train",
        "--dataset",
        "regression",
        "--hidden",
        "16",
        "--epochs",
        "15",
        "--lr",
        "0.01",
        "--save",
        str(model),
    ]
    assert main(argv) == EXIT_OK
    data = make_regression(seed=0)
    np.save(tmp_path / "x.npy", data.X)
    code, _, err = run(
        capsys, "predict", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.csv")
    )
    assert code == EXIT_OK, err
    lines = (tmp_path / "y.csv").read_text().splitlines()
    assert lines[0] == "prediction"
    predicted = np.array([float(v) for v in lines[1:]])
    assert np.mean((predicted - data.y) ** 2) < 0.3 * np.var(data.y)
    code, out, _ = run(capsys, "evaluate", str(model), "--dataset", "regression")
    assert code == EXIT_OK and "accuracy" not in out and "confusion" not in out
    assert float(field(out, "cost")) == pytest.approx(np.mean((predicted - data.y) ** 2), rel=1e-4)
    assert read_metadata(model)["user"] == {"task": "regression", "feature_names": [f"x{j}" for j in range(10)]}
    # Whole-number targets with few values would read as class labels; the model's saved task reads them as numbers.
    y_int = np.clip(np.round(data.y), 10, 16)
    assert np.unique(y_int).size <= 20
    whole = write_csv(tmp_path / "whole.csv", [*(f"x{j}" for j in range(10)), "target"], np.c_[data.X, y_int].tolist())
    code, out, err = run(capsys, "evaluate", str(model), "--dataset", str(whole))
    assert code == EXIT_OK, err
    assert float(field(out, "cost")) == pytest.approx(np.mean((predicted - y_int) ** 2), rel=1e-4)
    code, _, err = run(capsys, "evaluate", str(model), "--dataset", str(whole), "--task", "classification")
    assert code == EXIT_USAGE
    assert_short_error(err, "the target holds class labels, but", "is a regression model")


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["evaluate", "{tmp}/none.npz", "--dataset", "iris"], ["model file", "none.npz' not found"]),
        (["evaluate", "{model}", "--dataset", "digits"], ["digits has 10 classes", "tells 3 apart"]),
        (["evaluate", "{model}", "--dataset", "breast_cancer"], ["breast_cancer has 2 classes"]),
        (["evaluate", "{model}", "--dataset", "regression"], ["regression", "--task classification"]),
        (["evaluate", "{model}"], ["required: --dataset"]),
        (["evaluate", "{csv}", "--dataset", "iris"], ["not an ffnn model file"]),
        (["predict", "{model}", "--input", "{csv}", "--output", "{tmp}/p.txt"], ["unsupported file type '.txt'"]),
        (["predict", "{model}", "--input", "{csv}", "--output", "{tmp}/p.csv"], ["column 'species'", "not a number"]),
        (["predict", "{model}", "--input", "{tmp}/none.csv", "--output", "{tmp}/p.csv"], ["none.csv' not found"]),
        (
            ["predict", "{model}", "--input", "{tmp}/x.npy", "--output", "{tmp}/p.csv"],
            ["2 features but the network expects 4"],
        ),
        (
            ["predict", "{model}", "--input", "{csv}", "--target", "species", "--output", "{tmp}/nodir/p.csv"],
            ["does not exist"],
        ),
    ],
)
def test_evaluate_and_predict_usage_errors(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    iris_csv: Path,
    iris_model: tuple[Path, float, float],
    argv: list[str],
    fragments: list[str],
) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    names = {"tmp": str(tmp_path), "model": str(iris_model[0]), "csv": str(iris_csv)}
    code, _, err = run(capsys, *(a.format(**names) for a in argv))
    assert code == EXIT_USAGE
    assert_short_error(err, *fragments)
    assert not (tmp_path / "p.csv").exists()


# ---------------------------------------------------------------------- class names saved with the model
def test_train_save_records_the_task_features_and_classes(iris_model: tuple[Path, float, float]) -> None:
    data = load_iris()
    assert read_metadata(iris_model[0])["user"] == {
        "task": "multiclass",
        "feature_names": list(data.feature_names),
        "classes": ["setosa", "versicolor", "virginica"],
    }
    assert ffnn.load(iris_model[0]).metadata["classes"] == list(data.classes)


def test_string_labels_of_a_csv_are_the_class_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path
) -> None:
    """Labels with commas and quotes: recorded as given, written back as CSV cells."""
    odd = {"setosa": 'Iris "setosa", wild', "versicolor": "versicolor", "virginica": "virginica (tall)"}
    header, *rows = read_csv(iris_csv)
    labelled = write_csv(tmp_path / "odd.csv", header, [[*row[:-1], odd[row[-1]]] for row in rows])
    model = tmp_path / "odd.npz"
    argv = ["train", "--dataset", str(labelled), "--target", "species", "--hidden", "8", "--epochs", "40"]
    code, _, err = run(capsys, *argv, "--lr", "0.02", "--save", str(model), "--quiet")
    assert code == EXIT_OK, err
    user = read_metadata(model)["user"]
    assert user["classes"] == sorted(odd.values()) and user["feature_names"] == header[:-1]
    assert user["task"] == "multiclass"
    for name, extra in (("classes.csv", []), ("proba.csv", ["--proba"])):
        argv = ["predict", str(model), "--input", str(labelled), "--target", "species"]
        code, _, err = run(capsys, *argv, "--output", str(tmp_path / name), *extra)
        assert code == EXIT_OK, err
    written = read_csv(tmp_path / "classes.csv")
    assert written[0] == ["class"] and len(written) == 151
    predicted = [row[0] for row in written[1:]]
    assert set(predicted) <= set(odd.values())
    assert np.mean([p == odd[row[-1]] for p, row in zip(predicted, rows)]) > 0.8
    proba = read_csv(tmp_path / "proba.csv")
    assert proba[0] == [f"p({name})" for name in sorted(odd.values())]
    best = [proba[0][int(np.argmax([float(v) for v in row]))] for row in proba[1:]]
    assert best == [f"p({name})" for name in predicted]


def test_evaluate_matches_labels_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    """Data holding two of the model's three classes: labels are matched by name, so
    versicolor stays output 1 although it is the first class of the file."""
    model = str(iris_model[0])
    header, *rows = read_csv(iris_csv)
    two = write_csv(tmp_path / "two.csv", header, [row for row in rows if row[-1] != "setosa"])
    code, out, err = run(capsys, "evaluate", model, "--dataset", str(two), "--target", "species")
    assert code == EXIT_OK, err
    assert field(out, "data") == "two.csv (all): 100 examples"
    code, _, err = run(
        capsys, "predict", model, "--input", str(two), "--target", "species", "--output", str(tmp_path / "p.csv")
    )
    assert code == EXIT_OK, err
    truth = [row[-1] for row in rows if row[-1] != "setosa"]
    predicted = [row[0] for row in read_csv(tmp_path / "p.csv")[1:]]
    assert float(field(out, "accuracy")) == pytest.approx(np.mean(np.array(predicted) == truth), abs=1e-4)
    matrix = out.split("confusion matrix (rows: true class, columns: predicted class)\n")[1].splitlines()
    assert matrix[0].split() == ["setosa", "versicolor", "virginica"]
    counts = {row.split()[0]: [int(c) for c in row.split()[1:]] for row in matrix[1:4]}
    assert counts["setosa"] == [0, 0, 0]
    for name in ("versicolor", "virginica"):
        assert counts[name] == [sum(p == c and t == name for p, t in zip(predicted, truth)) for c in matrix[0].split()]


def test_evaluate_names_the_labels_a_model_does_not_know(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    header, *rows = read_csv(iris_csv)
    renamed = {"setosa": "daisy", "virginica": "rose"}
    other = write_csv(tmp_path / "flowers.csv", header, [[*row[:-1], renamed.get(row[-1], row[-1])] for row in rows])
    code, out, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", str(other), "--target", "species")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err,
        "flowers.csv has 3 classes, but",
        "tells 3 apart (setosa, versicolor, virginica) and 'daisy', 'rose' are not among them",
        "matched to the model's classes by name",
    )


def test_binary_model_writes_names_and_the_probability_of_the_second_class(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ffnn.datasets import load_breast_cancer

    model, inputs = tmp_path / "bc.npz", tmp_path / "x.npy"
    code, _, err = run(capsys, "train", "--dataset", "breast_cancer", *TINY, "--save", str(model))
    assert code == EXIT_OK, err
    assert read_metadata(model)["user"]["classes"] == ["malignant", "benign"]
    np.save(inputs, load_breast_cancer().X)
    for name, extra in (("c.csv", []), ("p.csv", ["--proba"]), ("c.npy", [])):
        code, _, err = run(
            capsys, "predict", str(model), "--input", str(inputs), "--output", str(tmp_path / name), *extra
        )
        assert code == EXIT_OK, err
    classes = (tmp_path / "c.csv").read_text().splitlines()
    proba = (tmp_path / "p.csv").read_text().splitlines()
    assert classes[0] == "class" and proba[0] == "p(benign)" and len(classes) == len(proba) == 570
    expected = ["benign" if float(p) > 0.5 else "malignant" for p in proba[1:]]
    assert classes[1:] == expected
    assert np.load(tmp_path / "c.npy", allow_pickle=False).tolist() == expected


def old_model(source: Path, folder: Path) -> Path:
    """A copy of a model file as written before models kept metadata (no "user" field)."""
    path = folder / "old.npz"
    shutil.copy(source, path)
    rewrite(path, meta=lambda meta: meta.pop("user"))
    return path


def test_models_without_class_names_match_classes_in_order_and_write_indices(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    model = str(old_model(iris_model[0], tmp_path))
    code, out, err = run(capsys, "evaluate", model, "--dataset", "iris", "--split", "test")
    assert code == EXIT_OK, err
    assert float(field(out, "accuracy")) == pytest.approx(iris_model[2], abs=1e-4)
    header, *rows = read_csv(iris_csv)
    two = write_csv(tmp_path / "two.csv", header, [row for row in rows if row[-1] != "setosa"])
    code, _, err = run(capsys, "evaluate", model, "--dataset", str(two), "--target", "species")
    assert code == EXIT_USAGE
    assert_short_error(err, "two.csv has 2 classes (versicolor, virginica) but", "tells 3 apart", "sorted order")
    for name, extra in (("p.csv", []), ("proba.csv", ["--proba"])):
        argv = ["predict", model, "--input", str(iris_csv), "--target", "species", "--output", str(tmp_path / name)]
        code, _, err = run(capsys, *argv, *extra)
        assert code == EXIT_OK, err
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "class" and {int(v) for v in lines[1:]} <= {0, 1, 2}
    assert (tmp_path / "proba.csv").read_text().splitlines()[0] == "p0,p1,p2"


def test_class_names_that_do_not_fit_the_model_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    net = ffnn.load(iris_model[0])
    for k, names in enumerate((["setosa", "versicolor"], ["a", "a", "b"], "abc")):
        path = tmp_path / f"bad{k}.npz"
        net.save(path, metadata={"classes": names})
        argv = ["--input", str(iris_csv), "--target", "species", "--output", str(tmp_path / f"p{k}.csv")]
        code, _, err = run(capsys, "predict", str(path), *argv)
        assert code == EXIT_USAGE
        assert_short_error(err, f"bad{k}.npz: its metadata 'classes' must list 3 distinct class names, got {names!r}")
        assert not (tmp_path / f"p{k}.csv").exists()


# ---------------------------------------------------------------------- folding the scaling into the network
def test_fold_standardization_makes_the_network_take_raw_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(50.0, 7.0, size=(20, 3))
    y = rng.normal(-3.0, 4.0, size=(20, 2))
    layers = [ffnn.Dense(3, 5, activation="tanh"), ffnn.Dense(5, 2, activation="linear")]
    net = ffnn.Network(layers, loss="mse", backend="numpy", dtype="float64", seed=1)
    x_scaler, y_scaler = Standardizer.fit(X), Standardizer.fit(y)
    expected = y_scaler.inverse(net.predict(x_scaler.transform(X)))
    fold_standardization(net, x_scaler, y_scaler)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-12)


def test_fold_target_scaling_needs_a_linear_output() -> None:
    net = ffnn.Network([ffnn.Dense(2, 1, activation="sigmoid")], loss="mse", backend="numpy", seed=0)
    scaler = Standardizer.fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="only into a linear output layer, not sigmoid"):
        fold_standardization(net, scaler, Standardizer.fit(np.arange(4.0)))


def test_confusion_matrix_counts() -> None:
    counts = cli.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


# ---------------------------------------------------------------------- info and gradcheck
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


# ---------------------------------------------------------------------- plug-in subcommands
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


# ---------------------------------------------------------------------- python -m ffnn
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


# ---------------------------------------------------------------------- every documented error has a test
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
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


def test_predict_output_without_a_suffix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    target = tmp_path / "predictions"
    argv = ["--input", str(iris_csv), "--target", "species", "--output", str(target)]
    code, _, err = run(capsys, "predict", str(iris_model[0]), *argv)
    assert code == EXIT_USAGE
    assert_short_error(err, f"--output {target}: unsupported file type '(none)'; use .csv or .npy")
    assert not target.exists()


def test_predict_keeps_an_existing_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    target = tmp_path / "p.csv"
    target.write_text("precious")
    argv = ["--input", str(iris_csv), "--target", "species", "--output", str(target)]
    code, _, err = run(capsys, "predict", str(iris_model[0]), *argv)
    assert code == EXIT_USAGE
    assert_short_error(err, "--output: refusing to overwrite", "the file exists and is kept", "--overwrite")
    assert target.read_text() == "precious"


@pytest.fixture(scope="module")
def regression_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-output regression model trained for one epoch on the built-in regression set."""
    path = tmp_path_factory.mktemp("regression") / "r.npz"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--dataset", "regression", *TINY, "--save", str(path)]) == EXIT_OK
    return path


def test_evaluate_a_regression_model_on_labelled_data(
    capsys: pytest.CaptureFixture[str], regression_model: Path
) -> None:
    code, out, err = run(capsys, "evaluate", str(regression_model), "--dataset", "iris")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err,
        f"iris: the target holds class labels, but {regression_model} is a regression model",
        "use --task regression",
    )


def test_evaluate_a_classifier_on_numeric_targets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_model: tuple[Path, float, float]
) -> None:
    data = load_iris()
    path = write_csv(tmp_path / "numbers.csv", ["a", "b", "c", "d", "target"], [[*x, x[0] * 0.5] for x in data.X])
    code, out, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", str(path), "--task", "regression")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err,
        f"numbers.csv: the target is numeric (regression), but {iris_model[0]} is a classifier",
        "--task classification",
    )


def test_evaluate_a_regression_model_on_more_target_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, regression_model: Path
) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "two.npz", X=rng.normal(size=(6, 10)), y=rng.normal(size=(6, 2)))
    code, out, err = run(capsys, "evaluate", str(regression_model), "--dataset", str(tmp_path / "two.npz"))
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, f"two.npz has 2 target column(s) but {regression_model} predicts 1")


def test_evaluate_a_classifier_on_data_with_another_class_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_model: tuple[Path, float, float]
) -> None:
    """Without saved class names, the class count must equal the model's; with them,
    a class the model does not know is named."""
    model = str(old_model(iris_model[0], tmp_path))
    code, _, err = run(capsys, "evaluate", model, "--dataset", "digits")
    assert code == EXIT_USAGE
    assert_short_error(err, "digits has 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) but", "tells 3 apart", "sorted order")
    code, _, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", "spirals")
    assert code == EXIT_USAGE
    assert_short_error(err, "spirals has 3 classes, but", "'0', '1', '2' are not among them")
    code, _, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", "digits")
    assert code == EXIT_USAGE
    assert_short_error(err, "digits has 10 classes, but", "'0', '1', '2', '3', '4', '5', '6', '7' and 2 more are not")


def test_evaluate_data_with_the_wrong_feature_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_model: tuple[Path, float, float]
) -> None:
    model = str(old_model(iris_model[0], tmp_path))  # no class names: spirals' three classes fit
    code, out, err = run(capsys, "evaluate", model, "--dataset", "spirals", "--split", "test")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, "2 features but the network expects 4")


def test_predict_proba_of_a_regression_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, regression_model: Path
) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 10)))
    target = tmp_path / "p.csv"
    argv = ["--input", str(tmp_path / "x.npy"), "--output", str(target), "--proba"]
    code, out, err = run(capsys, "predict", str(regression_model), *argv)
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err, f"ffnn predict: error: --proba needs a classifier, but {regression_model} is a regression model"
    )
    assert not target.exists()


def test_predict_input_errors_from_the_reader(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, iris_csv: Path, iris_model: tuple[Path, float, float]
) -> None:
    model, target = str(iris_model[0]), str(tmp_path / "p.csv")
    code, _, err = run(capsys, "predict", model, "--input", str(iris_csv), "--target", "kind", "--output", target)
    assert code == EXIT_USAGE
    assert_short_error(err, "iris.csv: no column 'kind' to drop")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4)), b=np.zeros((2, 4)))
    code, _, err = run(capsys, "predict", model, "--input", str(tmp_path / "two.npz"), "--output", target)
    assert code == EXIT_USAGE
    assert_short_error(err, "two.npz: store the features as array 'X' (arrays: a, b)")
    assert not (tmp_path / "p.csv").exists()


def test_train_file_errors_are_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros((4, 1)))
    code, out, err = run(capsys, "train", *TINY, "--dataset", str(tmp_path / "one.npy"))
    assert code == EXIT_USAGE and out == ""
    assert_short_error(err, "one.npy has shape (4, 1); a labelled .npy file is 2-D with the target as one column")
    np.savez(tmp_path / "y2.npz", X=np.zeros((4, 2)), y=np.eye(4)[:, :2].astype(np.int64))
    code, _, err = run(capsys, "train", *TINY, "--dataset", str(tmp_path / "y2.npz"), "--task", "classification")
    assert code == EXIT_USAGE
    assert_short_error(err, "y2.npz['y'] has shape (4, 2); classification needs one class label per row")


def test_interrupt_exits_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ffnn.Network, "fit", interrupt)
    code, _, err = run(capsys, "train", *TINY)
    assert code == 130
    assert_short_error(err, "ffnn train: interrupted")
