"""`ffnn evaluate`: held-out results, class and column matching, regression metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ffnn
from ffnn.cli import EXIT_OK, EXIT_USAGE
from ffnn.datasets import load_iris
from ffnn.serialization import read_metadata
from tests.cli_helpers import (
    OTHER_BACKENDS,
    TINY,
    assert_short_error,
    field,
    make_iris_csv,
    make_iris_model,
    make_regression_model,
    old_model,
    read_csv,
    run,
    usable,
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
    code, _, err = run(capsys, *argv, "--learning-rate", "0.02", "--save", str(model), "--quiet")
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
    assert proba[0] == [*(f"p({name})" for name in sorted(odd.values())), "class"]
    best = [proba[0][int(np.argmax([float(v) for v in row[:-1]]))] for row in proba[1:]]
    assert best == [f"p({name})" for name in predicted]
    assert [row[-1] for row in proba[1:]] == predicted


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
    assert classes[0] == "class" and proba[0] == "p(benign),class" and len(classes) == len(proba) == 570
    expected = ["benign" if float(p.split(",")[0]) > 0.5 else "malignant" for p in proba[1:]]
    assert [p.split(",")[1] for p in proba[1:]] == expected
    assert classes[1:] == expected
    assert np.load(tmp_path / "c.npy", allow_pickle=False).tolist() == expected


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
    assert (tmp_path / "proba.csv").read_text().splitlines()[0] == "p0,p1,p2,class"


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


# ---------------------------------------------------------------------- columns matched by name
def _rewrite_columns(source: Path, target: Path, order: list[str], rename: dict[str, str] | None = None) -> Path:
    rows = read_csv(source)
    index = [rows[0].index(name) for name in order]
    header = [(rename or {}).get(name, name) for name in order]
    return write_csv(target, header, [[row[j] for j in index] for row in rows[1:]])


def test_evaluate_matches_columns_by_name_not_position(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], iris_csv: Path, tmp_path: Path
) -> None:
    model = str(iris_model[0])
    header = read_csv(iris_csv)[0]
    swapped = [header[2], header[1], header[0], header[3], header[4]]  # petal length <-> sepal length
    moved = _rewrite_columns(iris_csv, tmp_path / "swapped.csv", swapped)
    base = ["--target", "species"]
    code, out, err = run(capsys, "evaluate", model, "--dataset", str(iris_csv), *base)
    assert code == EXIT_OK, err
    code, out_swapped, err = run(capsys, "evaluate", model, "--dataset", str(moved), *base)
    assert code == EXIT_OK, err
    assert field(out_swapped, "accuracy") == field(out, "accuracy")
    assert field(out_swapped, "cost") == field(out, "cost")
    assert float(field(out, "accuracy")) > 0.8


def test_evaluate_ignores_extra_columns_with_a_note(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], iris_csv: Path, tmp_path: Path
) -> None:
    rows = read_csv(iris_csv)
    extra = write_csv(tmp_path / "extra.csv", ["id", *rows[0]], [[str(i), *row] for i, row in enumerate(rows[1:])])
    code, out, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", str(extra), "--target", "species")
    assert code == EXIT_OK, err
    assert err.strip() == f"note: extra.csv: ignoring column id (not a feature of {iris_model[0]})"
    assert float(field(out, "accuracy")) > 0.8


def test_evaluate_lists_missing_and_unknown_columns(
    capsys: pytest.CaptureFixture[str], iris_model: tuple[Path, float, float], iris_csv: Path, tmp_path: Path
) -> None:
    header = read_csv(iris_csv)[0]
    renamed = _rewrite_columns(iris_csv, tmp_path / "abcd.csv", header, dict(zip(header[:4], "abcd")))
    code, out, err = run(capsys, "evaluate", str(iris_model[0]), "--dataset", str(renamed), "--target", "species")
    assert code == EXIT_USAGE and out == ""
    assert_short_error(
        err, "abcd.csv lacks columns", header[0], header[3], "columns the model does not know: a, b, c, d"
    )


def test_evaluate_a_regression_model_reports_r2_mae_rmse(
    capsys: pytest.CaptureFixture[str], regression_model: Path, tmp_path: Path
) -> None:
    from ffnn.datasets import load_dataset
    from ffnn.metrics import regression_report

    data = load_dataset("regression")
    path = tmp_path / "r.npz"
    np.savez(path, X=data.X, y=data.y)
    code, out, err = run(capsys, "evaluate", str(regression_model), "--dataset", str(path))
    assert code == EXIT_OK, err
    assert "accuracy" not in out
    net = ffnn.load(regression_model)
    expected = regression_report(data.y, net.predict(data.X))
    assert float(field(out, "R²")) == pytest.approx(expected["r2"], rel=1e-5)
    assert float(field(out, "MAE").split()[0]) == pytest.approx(expected["mae"], rel=1e-5)
    assert float(field(out, "RMSE").split()[0]) == pytest.approx(expected["rmse"], rel=1e-5)


def test_evaluate_help_describes_seed_for_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", "--help")
    assert code == EXIT_OK
    text = " ".join(out.split())
    assert "the --seed the model was trained with" in text
    assert "the weights and the shuffles" not in text
