"""`ffnn predict`: prediction files, probabilities and classes, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ffnn
from ffnn.cli import EXIT_OK, EXIT_USAGE, main
from ffnn.datasets import load_iris
from ffnn.serialization import read_metadata
from tests.cli_helpers import (
    assert_short_error,
    field,
    make_iris_csv,
    make_iris_model,
    make_regression_model,
    read_csv,
    run,
    write_csv,
)


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris data as a CSV file (the built-in feature names, string labels)."""
    return make_iris_csv(tmp_path_factory)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    """A model trained on the built-in iris data: (file, test cost, test accuracy)."""
    return make_iris_model(tmp_path_factory)


@pytest.fixture(scope="module")
def regression_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-output regression model trained on the built-in regression set."""
    return make_regression_model(tmp_path_factory)


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
    assert proba_out.read_text().splitlines()[0] == "p(setosa),p(versicolor),p(virginica),class"
    proba = np.loadtxt(proba_out, delimiter=",", skiprows=1, usecols=(0, 1, 2))
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
        "--learning-rate",
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


def test_predict_proba_also_writes_the_class(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], iris_csv: Path, tmp_path: Path
) -> None:
    target = tmp_path / "p.csv"
    argv = ["--input", str(iris_csv), "--target", "species", "--output", str(target), "--proba"]
    code, _, err = run(capsys, "predict", str(iris_model[0]), *argv)
    assert code == EXIT_OK, err
    rows = read_csv(target)
    classes = ffnn.load(iris_model[0]).metadata["classes"]
    assert rows[0] == [*(f"p({c})" for c in classes), "class"]
    for row in rows[1:]:
        p = [float(v) for v in row[:-1]]
        assert row[-1] == classes[int(np.argmax(p))]


def test_predict_matches_columns_by_name(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], iris_csv: Path, tmp_path: Path
) -> None:
    rows = read_csv(iris_csv)
    order = [4, 3, 2, 1, 0]
    reordered = write_csv(tmp_path / "r.csv", [rows[0][j] for j in order], [[r[j] for j in order] for r in rows[1:]])
    outputs = []
    for k, source in enumerate((iris_csv, reordered)):
        target = tmp_path / f"p{k}.csv"
        code, _, err = run(
            capsys,
            "predict",
            str(iris_model[0]),
            "--input",
            str(source),
            "--target",
            "species",
            "--output",
            str(target),
        )
        assert code == EXIT_OK, err
        outputs.append(read_csv(target))
    assert outputs[0] == outputs[1]
