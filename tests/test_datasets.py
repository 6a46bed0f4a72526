"""ffnn.datasets: the shipped and generated sets, the file readers and their errors,
splitting and standardization."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from ffnn import datasets
from ffnn.datasets import Dataset, Standardizer, load_dataset, load_file, read_inputs, train_test_split


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- shipped sets
def test_digits_are_8x8_images_of_ten_classes() -> None:
    data = datasets.load_digits()
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float64
    assert data.y.shape == (1797,) and data.y.dtype == np.int64
    assert set(np.unique(data.X)) <= set(range(17))  # pixel intensities 0..16
    assert data.classes == tuple(str(d) for d in range(10))
    assert data.task == "multiclass" and data.n_features == 64 and data.n_targets == 10
    assert 174 <= np.bincount(data.y).min() and np.bincount(data.y).max() <= 183


def test_breast_cancer_has_212_malignant_and_357_benign() -> None:
    data = datasets.load_breast_cancer()
    assert data.X.shape == (569, 30)
    assert data.classes == ("malignant", "benign") and data.task == "binary"
    assert np.bincount(data.y).tolist() == [212, 357]
    assert data.feature_names[0] == "mean radius"


def test_iris_has_three_species_of_fifty() -> None:
    data = datasets.load_iris()
    assert data.X.shape == (150, 4)
    assert data.classes == ("setosa", "versicolor", "virginica")
    assert np.bincount(data.y).tolist() == [50, 50, 50]
    assert np.all((data.X > 0) & (data.X < 8))


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "iris"])
def test_shipped_sets_equal_scikit_learn_copies(name: str) -> None:
    sk = pytest.importorskip("sklearn.datasets", reason="scikit-learn is the oracle of the shipped copies")
    ours = load_dataset(name)
    theirs = getattr(sk, f"load_{name}")()
    np.testing.assert_array_equal(ours.X, theirs.data)
    np.testing.assert_array_equal(ours.y, theirs.target)
    assert list(ours.feature_names) == [str(f) for f in theirs.feature_names]


# ---------------------------------------------------------------------- generated sets
@pytest.mark.parametrize("name", ["moons", "spirals", "regression"])
def test_generated_sets_depend_only_on_the_seed(name: str) -> None:
    a, b, c = load_dataset(name, seed=3), load_dataset(name, seed=3), load_dataset(name, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_moons_are_two_balanced_2d_classes() -> None:
    data = datasets.make_moons(101, noise=0.0)
    assert data.X.shape == (101, 2) and data.task == "binary"
    assert np.bincount(data.y).tolist() == [50, 51]
    outer = data.X[data.y == 0]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)  # the unit half circle


def test_spirals_have_one_arm_per_class() -> None:
    data = datasets.make_spirals(300, n_classes=4, noise=0.0)
    assert data.X.shape == (300, 2) and data.classes == ("0", "1", "2", "3")
    assert np.bincount(data.y).tolist() == [75] * 4
    assert np.all(np.hypot(data.X[:, 0], data.X[:, 1]) <= 1.0 + 1e-12)


def test_regression_follows_friedmans_formula_without_noise() -> None:
    data = datasets.make_regression(50, noise=0.0)
    x = data.X
    expected = 10 * np.sin(math.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    np.testing.assert_allclose(data.y, expected, rtol=1e-12)
    assert data.task == "regression" and data.classes is None and data.n_targets == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: datasets.make_moons(1), "n_samples"),
        (lambda: datasets.make_spirals(10, n_classes=1), "n_classes"),
        (lambda: datasets.make_regression(0), "n_samples"),
    ],
)
def test_generators_reject_bad_sizes(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_dataset_lists_the_built_in_names() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*digits, breast_cancer, iris"):
        load_dataset("mnist")


# ---------------------------------------------------------------------- CSV files
def test_csv_with_string_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "a,b,kind\n1,2.5,cat\n3,4,dog\n5,6e-1,cat\n")
    data = load_file(path, target="kind")
    np.testing.assert_array_equal(data.X, [[1, 2.5], [3, 4], [5, 0.6]])
    assert data.y.tolist() == [0, 1, 0] and data.classes == ("cat", "dog")
    assert data.feature_names == ("a", "b") and data.name == "d.csv"


def test_csv_default_target_column_and_numeric_labels_sorted_numerically(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "x,target\n0.1,10\n0.2,2\n0.3,2\n")
    data = load_file(path)
    assert data.classes == ("2", "10") and data.y.tolist() == [1, 0, 0]


def test_csv_float_target_is_regression_and_task_can_be_forced(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "x,y\n1,0.5\n2,1.5\n3,2\n")
    assert load_file(path, target="y").task == "regression"
    forced = load_file(write(tmp_path / "e.csv", "x,y\n1,1\n2,2\n3,1\n"), target="y", task="regression")
    assert forced.classes is None and forced.y.dtype == np.float64


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("a,b\n1,2\n", None, r"name the target column with --target; columns: a, b"),
        ("a,b\n1,2\n", "c", r"no column 'c'; columns: a, b"),
        ("a,b,t\n1,,0\n2,3,1\n", "t", r"line 2, column 'b': a missing value"),
        ("a,b,t\n1,x,0\n2,3,1\n", "t", r"line 2, column 'b': 'x', not a number"),
        ("a,b,t\n1,nan,0\n2,3,1\n", "t", r"line 2, column 'b': 'nan' is not a finite number"),
        ("a,b,t\n1,2,0\n2,3\n", "t", r"line 3 has 2 fields but the header has 3"),
        ("1,2,3\n4,5,6\n", "t", r"add a header row"),
        ("a,a,t\n1,2,3\n", "t", r"distinct"),
        ("", "t", r"is empty"),
        ("a,t\n", "t", r"no data rows"),
        ("t\n1\n2\n", "t", r"only the target column"),
        ("a,t\n1,x\n2,x\n", "t", r"single class \('x'\)"),
        ("a,t\n1,x\n2,y\n", None, r"name the target column"),
    ],
)
def test_csv_errors_name_the_file_and_the_problem(tmp_path: Path, text: str, target: str | None, message: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=message):
        load_file(path, target=target)


def test_string_target_cannot_be_regression(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "a,t\n1,x\n2,y\n")
    with pytest.raises(ValueError, match="holds strings; regression needs numeric targets"):
        load_file(path, target="t", task="regression")


def test_missing_file_and_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_file(tmp_path / "nothing.csv")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(str(tmp_path / "nothing.npz"))
    with pytest.raises(ValueError, match=r"unsupported file type '\.txt'"):
        load_file(write(tmp_path / "d.txt", "a,b\n"))
    with pytest.raises(ValueError, match="is a directory"):
        load_file(tmp_path)
    with pytest.raises(ValueError, match="task must be one of"):
        load_file(write(tmp_path / "d.csv", "a,target\n1,0\n2,1\n"), task="clustering")


# ---------------------------------------------------------------------- .npy / .npz files
def test_npy_target_is_a_column_index(tmp_path: Path) -> None:
    array = np.array([[1.0, 0.0, 5.0], [2.0, 1.0, 6.0], [3.0, 1.0, 7.0]])
    np.save(tmp_path / "d.npy", array)
    last = load_file(tmp_path / "d.npy")
    np.testing.assert_array_equal(last.X, array[:, :2])
    assert last.classes == ("5", "6", "7") and last.y.tolist() == [0, 1, 2]
    middle = load_file(tmp_path / "d.npy", target="1")
    np.testing.assert_array_equal(middle.X, array[:, [0, 2]])
    assert middle.y.tolist() == [0, 1, 1]


@pytest.mark.parametrize(("target", "message"), [("5", "out of range"), ("last", "column index")])
def test_npy_bad_target(tmp_path: Path, target: str, message: str) -> None:
    np.save(tmp_path / "d.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=message):
        load_file(tmp_path / "d.npy", target=target)


def test_npz_features_and_target_arrays(tmp_path: Path) -> None:
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    data = load_file(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.X, X)
    assert data.y.tolist() == y.tolist() and data.n_targets == 3
    np.savez(tmp_path / "e.npz", inputs=X, labels=y)
    assert load_file(tmp_path / "e.npz", target="labels").n_samples == 6
    with pytest.raises(ValueError, match=r"no array 'y' \(arrays: inputs, labels\)"):
        load_file(tmp_path / "e.npz")
    np.savez(tmp_path / "f.npz", X=X, y=y[:5])
    with pytest.raises(ValueError, match="5 rows but the features have 6"):
        load_file(tmp_path / "f.npz")


def test_pickled_files_are_refused(tmp_path: Path) -> None:
    objects = np.array([{"a": 1}, None], dtype=object)
    np.save(tmp_path / "o.npy", objects, allow_pickle=True)
    with pytest.raises(ValueError, match="never unpickles"):
        load_file(tmp_path / "o.npy")
    np.savez(tmp_path / "o.npz", X=objects, y=np.array([0, 1]))
    with pytest.raises(ValueError, match="never unpickles"):
        load_file(tmp_path / "o.npz")
    write(tmp_path / "junk.npz", "not an archive")
    with pytest.raises(ValueError, match="junk.npz"):
        load_file(tmp_path / "junk.npz")


def test_read_inputs_drops_a_named_column(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "a,label,b\n1,x,2\n3,y,4\n")
    X, names = read_inputs(path, drop="label")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert names == ("a", "b")
    with pytest.raises(ValueError, match=r"column 'label': 'x', not a number"):
        read_inputs(path)
    with pytest.raises(ValueError, match="no column 'kind' to drop"):
        read_inputs(path, drop="kind")
    np.save(tmp_path / "x.npy", np.ones((4, 3), dtype=np.float32))
    assert read_inputs(tmp_path / "x.npy")[0].shape == (4, 3)


# ---------------------------------------------------------------------- splitting and scaling
def test_split_is_a_seeded_partition() -> None:
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=1)
    assert X_tr.shape == (15, 2) and len(y_te) == 5 and len(y_tr) == 15
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(20))
    np.testing.assert_array_equal(X_te[:, 0], 2 * y_te)  # rows stay paired
    again = train_test_split(X, y, test_size=0.25, seed=1)
    np.testing.assert_array_equal(again[3], y_te)
    assert not np.array_equal(train_test_split(X, y, test_size=0.25, seed=2)[3], y_te)


def test_stratified_split_keeps_class_proportions() -> None:
    y = np.array([0] * 80 + [1] * 20)
    X = np.zeros((100, 1))
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert np.bincount(y_te).tolist() == [16, 4]
    assert np.bincount(y_tr).tolist() == [64, 16]


@pytest.mark.parametrize("size", [0.0, 1.0, 1.5, -0.1, True])
def test_split_rejects_bad_sizes(size: float) -> None:
    with pytest.raises(ValueError, match=r"test_size must be a finite number in \(0, 1\) \(a fraction\)"):
        train_test_split(np.zeros((10, 1)), np.zeros(10), test_size=size)


def test_split_that_empties_a_part_is_refused() -> None:
    with pytest.raises(ValueError, match="both need rows"):
        train_test_split(np.zeros((3, 1)), np.zeros(3), test_size=0.1)


def test_standardizer_uses_the_fitted_statistics_only() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(200, 3))
    train[:, 2] = 7.0  # constant column: scale 1, maps to 0
    scaler = Standardizer.fit(train)
    z = scaler.transform(train)
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(z[:, 2], 0.0)
    other = rng.normal(size=(4, 3))
    np.testing.assert_allclose(scaler.transform(other), (other - scaler.mean) / scaler.scale)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(other)), other, rtol=1e-12)


def test_standardizer_of_a_1d_target_keeps_the_shape() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    scaler = Standardizer.fit(y)
    assert scaler.transform(y).shape == (4,)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(y)), y)


def test_dataset_properties() -> None:
    data = Dataset(np.zeros((3, 2)), np.zeros((3, 2)), "r", ("a", "b"))
    assert (data.task, data.n_samples, data.n_features, data.n_targets) == ("regression", 3, 2, 2)


def test_float_class_labels_keep_distinct_names() -> None:
    from ffnn.datasets import _class_names

    assert _class_names(np.array([1.0, 2.0])) == ["1", "2"]
    assert _class_names(np.array([1.2, 1.7, 2.5])) == ["1.2", "1.7", "2.5"]


# ---------------------------------------------------------------------- errors of .npy / .npz content
def test_npy_of_non_numeric_dtype_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", np.array([[b"a", b"b"], [b"c", b"d"]]))
    with pytest.raises(ValueError, match=r"b\.npy has dtype \|S1; expected real numbers \(or strings for class labels\)"):
        load_file(tmp_path / "b.npy")
    np.savez(tmp_path / "t.npz", X=np.zeros((2, 2)), y=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]"))
    with pytest.raises(ValueError, match=r"t\.npz\['y'\] has dtype datetime64\[D\]; expected real numbers"):
        load_file(tmp_path / "t.npz")


def test_npy_features_must_be_finite_numbers(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array([["1", "a"], ["2", "b"], ["3", "a"]]))
    with pytest.raises(ValueError, match=r"s\.npy holds strings; features must be finite numbers"):
        load_file(tmp_path / "s.npy")
    np.save(tmp_path / "n.npy", np.array([[1.0, 0.0], [np.nan, 1.0], [3.0, 0.0]]))
    with pytest.raises(ValueError, match=r"n\.npy holds NaN or infinite values; features must be finite numbers"):
        load_file(tmp_path / "n.npy")
    np.save(tmp_path / "i.npy", np.array([[1.0, 0.0], [np.inf, 1.0]]))
    with pytest.raises(ValueError, match=r"i\.npy holds NaN or infinite values"):
        read_inputs(tmp_path / "i.npy")


def test_npz_features_must_be_finite_numbers(tmp_path: Path) -> None:
    y = np.array([0, 1, 0])
    np.savez(tmp_path / "s.npz", X=np.array([["a"], ["b"], ["c"]]), y=y)
    with pytest.raises(ValueError, match=r"s\.npz features holds strings; features must be finite numbers"):
        load_file(tmp_path / "s.npz")
    np.savez(tmp_path / "n.npz", X=np.array([[1.0], [np.nan], [2.0]]), y=y)
    with pytest.raises(ValueError, match=r"n\.npz features holds NaN or infinite values"):
        load_file(tmp_path / "n.npz")
    np.savez(tmp_path / "r.npz", X=np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"r\.npz holds NaN or infinite values"):
        read_inputs(tmp_path / "r.npz")


@pytest.mark.parametrize("X", [np.zeros((3, 2, 2)), np.zeros((0, 2)), np.zeros((3, 0))])
def test_npz_features_must_be_a_non_empty_2d_array(tmp_path: Path, X: np.ndarray) -> None:
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(X.shape[0]))
    message = f"d.npz features must be a non-empty 2-D array (examples as rows), got shape {X.shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_file(tmp_path / "d.npz", task="regression")


def test_nan_in_a_target_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.array([[1.0, 0.5], [2.0, np.nan], [3.0, 1.5]]))
    with pytest.raises(ValueError, match=r"d\.npy column 1 holds NaN or infinite values"):
        load_file(tmp_path / "d.npy")
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 1)), y=np.array([np.inf, 1.0]))
    with pytest.raises(ValueError, match=r"d\.npz\['y'\] holds NaN or infinite values"):
        load_file(tmp_path / "d.npz", task="regression")


def test_a_2d_classification_target_is_refused(tmp_path: Path) -> None:
    y = np.array([[0, 1], [1, 0], [1, 1]])
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), y=y)
    with pytest.raises(ValueError, match=r"d\.npz\['y'\] has shape \(3, 2\); classification needs one class label"):
        load_file(tmp_path / "d.npz", task="classification")
    assert load_file(tmp_path / "d.npz").task == "regression"  # auto reads a 2-D target as numbers


def test_single_class_npz_target_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), y=np.array([4, 4, 4]))
    with pytest.raises(ValueError, match=r"d\.npz\['y'\] holds a single class \('4'\)"):
        load_file(tmp_path / "d.npz")


@pytest.mark.parametrize("array", [np.arange(4.0), np.zeros((4, 1)), np.zeros((2, 2, 2))])
def test_labelled_npy_needs_two_columns(tmp_path: Path, array: np.ndarray) -> None:
    np.save(tmp_path / "d.npy", array)
    with pytest.raises(ValueError, match=r"d\.npy has shape .*; a labelled \.npy file is 2-D with the target"):
        load_file(tmp_path / "d.npy")


def test_npz_without_an_unambiguous_x(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", a=np.zeros((3, 1)), b=np.ones((3, 1)), y=np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"d\.npz: store the features as array 'X' \(arrays: a, b, y\)"):
        load_file(tmp_path / "d.npz")
    with pytest.raises(ValueError, match=r"d\.npz: store the features as array 'X' \(arrays: a, b, y\)"):
        read_inputs(tmp_path / "d.npz")
    np.savez(tmp_path / "only.npz", y=np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"only\.npz: store the features as array 'X' \(arrays: y\)"):
        load_file(tmp_path / "only.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match=r"empty\.npz has no array 'y' \(arrays: none\)"):
        load_file(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match=r"empty\.npz: store the features as array 'X' \(arrays: none\)"):
        read_inputs(tmp_path / "empty.npz")


def test_read_inputs_refuses_files_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        read_inputs(tmp_path / "none.npy")
    with pytest.raises(ValueError, match=r"unsupported file type '\.json'"):
        read_inputs(write(tmp_path / "x.json", "{}"))
    with pytest.raises(ValueError, match=r"x\.csv line 2, column 'b': 'q', not a number"):
        read_inputs(write(tmp_path / "x.csv", "a,b\n1,q\n"))
    np.save(tmp_path / "o.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"o\.npy could not be read as a numeric array .*never unpickles"):
        read_inputs(tmp_path / "o.npy")


def test_csv_header_with_an_empty_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"column names in the header must be distinct and non-empty"):
        load_file(write(tmp_path / "d.csv", "a,,target\n1,2,0\n3,4,1\n"))


def test_csv_target_with_infinity_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"d\.csv column 't' holds NaN or infinite values"):
        load_file(write(tmp_path / "d.csv", "a,t\n1,0.5\n2,inf\n"), target="t")


def test_complex_features_are_refused(tmp_path) -> None:
    """The imaginary part would be dropped silently by a float conversion."""
    from ffnn.datasets import load_file

    path = tmp_path / "c.npy"
    np.save(path, np.ones((4, 3), dtype=np.complex128))
    with pytest.raises(ValueError, match="has dtype complex128; expected real numbers"):
        load_file(path)


# ---------------------------------------------------------------------- columns by name, unreadable CSVs
def test_select_columns_reorders_by_name_and_reports_extras() -> None:
    from ffnn.datasets import select_columns

    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    picked, extra = select_columns(X, ("c", "a", "b"), ("a", "b"))
    np.testing.assert_array_equal(picked, [[2.0, 3.0], [5.0, 6.0]])
    assert extra == ("c",)


def test_select_columns_lists_missing_and_unknown_names() -> None:
    from ffnn.datasets import select_columns

    with pytest.raises(ValueError, match=r"f.csv lacks columns a, b .*columns the model does not know: x, y"):
        select_columns(np.zeros((1, 2)), ("x", "y"), ("a", "b"), label="f.csv")


def test_a_csv_that_is_not_utf8_is_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("größe,target\n1,0\n2,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.csv is not UTF-8 text \(byte 0xf6 at offset 2\)"):
        load_file(path)


def test_a_csv_cell_beyond_the_field_limit_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("a,target\n" + "1" * 200_000 + ",1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="huge.csv line 2: a field longer than 131072 characters"):
        read_inputs(path)
