"""Example data on the host: built-in sets, CSV/.npy/.npz files, splits and standardization."""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ._validation import Interval
from .preprocessing import CHUNK_ROWS, ScaledRows, Standardizer
from .sources import RowSource

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "Standardizer",
    "load_breast_cancer",
    "load_dataset",
    "load_digits",
    "load_file",
    "load_iris",
    "load_npy_rows",
    "make_moons",
    "make_regression",
    "make_spirals",
    "read_inputs",
    "read_npy_rows",
    "select_columns",
    "split_rows",
    "train_test_split",
]

FILE_SUFFIXES = (".csv", ".npy", ".npz")
TASKS = ("auto", "classification", "regression")
_MAX_AUTO_CLASSES = 20


@dataclass(frozen=True, eq=False)
class Dataset:
    """Examples as rows, on the host.

    Attributes
    ----------
    X : numpy.ndarray, float64, shape (m, n)
        Features.
    y : numpy.ndarray
        Classification: int64 class indices, shape (m,), into ``classes``.
        Regression: float64 targets, shape (m,) or (m, t).
    name : str
        The built-in name or the file it came from.
    feature_names : tuple of str
        One name per column of X.
    classes : tuple of str or None
        Class names in index order; None for regression.
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    feature_names: tuple[str, ...]
    classes: tuple[str, ...] | None = None

    @property
    def task(self) -> str:
        """ "multiclass", "binary" or "regression"."""
        if self.classes is None:
            return "regression"
        return "binary" if len(self.classes) == 2 else "multiclass"

    @property
    def n_samples(self) -> int:
        """Number of examples m (rows of X)."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features n^[0] (columns of X)."""
        return int(self.X.shape[1])

    @property
    def n_targets(self) -> int:
        """Regression outputs t (1 for a 1-D target); the class count for classification."""
        if self.classes is not None:
            return len(self.classes)
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])


# ---------------------------------------------------------------------- built-in sets
def _shipped(name: str) -> Dataset:
    with (
        resources.files("ffnn").joinpath(f"data/{name}.npz").open("rb") as fh,
        np.load(fh, allow_pickle=False) as data,
    ):
        return Dataset(
            X=data["X"].astype(np.float64),
            y=data["y"].astype(np.int64),
            name=name,
            feature_names=tuple(str(f) for f in data["feature_names"]),
            classes=tuple(str(t) for t in data["target_names"]),
        )


def load_digits() -> Dataset:
    """1797 handwritten digits as 8×8 images flattened to 64 intensities in 0..16;
    10 classes. Shipped with ffnn (UCI optical digits; see ffnn/data/README.md)."""
    return _shipped("digits")


def load_breast_cancer() -> Dataset:
    """569 tumours × 30 cell-nucleus measurements; binary (malignant = 0, benign = 1).
    Shipped with ffnn (UCI Breast Cancer Wisconsin Diagnostic; see ffnn/data/README.md)."""
    return _shipped("breast_cancer")


def load_iris() -> Dataset:
    """150 iris flowers × 4 measurements (cm); 3 species. Shipped with ffnn (Fisher 1936)."""
    return _shipped("iris")


def _check_count(value: int, name: str, minimum: int) -> int:
    return int(Interval(minimum, None, integer=True).check(value, name))


def make_moons(n_samples: int = 500, *, noise: float = 0.15, seed: int | None = 0) -> Dataset:
    """Two interleaving half circles in 2-D, a binary problem no linear model separates.

    Parameters
    ----------
    n_samples : int
        Total points (split evenly between the two moons), at least 2.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int, optional
        Seeds NumPy's Generator; the same seed gives the same points.
    """
    m = _check_count(n_samples, "n_samples", 2)
    noise = Interval(0, None).check(noise, "noise")
    rng = np.random.default_rng(seed)
    n_outer = m // 2
    t_outer = np.linspace(0.0, math.pi, n_outer)
    t_inner = np.linspace(0.0, math.pi, m - n_outer)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    X = np.concatenate([outer, inner]) + rng.normal(0.0, noise, size=(m, 2))
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(m - n_outer, np.int64)])
    order = rng.permutation(m)
    return Dataset(X[order], y[order], "moons", ("x0", "x1"), ("0", "1"))


def make_spirals(n_samples: int = 600, *, n_classes: int = 3, noise: float = 0.2, seed: int | None = 0) -> Dataset:
    """``n_classes`` interleaved spiral arms in 2-D, one class per arm.

    Arm k holds points at radius r ∈ [0, 1] and angle 4k + 4r (radians) plus Gaussian
    angle noise of standard deviation ``noise``.

    Parameters
    ----------
    n_samples : int
        Total points (split evenly between the arms), at least ``n_classes``.
    n_classes : int
        Number of arms, at least 2.
    noise : float
    seed : int, optional
    """
    k = _check_count(n_classes, "n_classes", 2)
    m = _check_count(n_samples, "n_samples", k)
    noise = Interval(0, None).check(noise, "noise")
    rng = np.random.default_rng(seed)
    sizes = [m // k + (1 if c < m % k else 0) for c in range(k)]
    parts, labels = [], []
    for c, size in enumerate(sizes):
        r = np.linspace(0.0, 1.0, size)
        t = 4.0 * c + 4.0 * r + rng.normal(0.0, noise, size=size)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        labels.append(np.full(size, c, dtype=np.int64))
    order = rng.permutation(m)
    X, y = np.concatenate(parts)[order], np.concatenate(labels)[order]
    return Dataset(X, y, "spirals", ("x0", "x1"), tuple(str(c) for c in range(k)))


def make_regression(n_samples: int = 1000, *, noise: float = 1.0, seed: int | None = 0) -> Dataset:
    """Friedman's first regression problem: 10 uniform features in [0, 1], of which five
    matter through y = 10 sin(π x0 x1) + 20 (x2 − 0.5)² + 10 x3 + 5 x4 + noise·N(0, 1).

    Parameters
    ----------
    n_samples : int
        At least 1.
    noise : float
        Standard deviation of the additive Gaussian noise.
    seed : int, optional
    """
    m = _check_count(n_samples, "n_samples", 1)
    noise = Interval(0, None).check(noise, "noise")
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, size=(m, 10))
    y = (
        10.0 * np.sin(math.pi * X[:, 0] * X[:, 1])
        + 20.0 * (X[:, 2] - 0.5) ** 2
        + 10.0 * X[:, 3]
        + 5.0 * X[:, 4]
        + noise * rng.normal(size=m)
    )
    return Dataset(X, y, "regression", tuple(f"x{i}" for i in range(10)))


BUILTIN_DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "moons": make_moons,
    "spirals": make_spirals,
    "regression": make_regression,
}
_GENERATED = ("moons", "spirals", "regression")


def load_dataset(spec: str | Path, *, target: str | None = None, task: str = "auto", seed: int | None = 0) -> Dataset:
    """A built-in data set by name, or a data file by path.

    Parameters
    ----------
    spec : str or Path
        One of :data:`BUILTIN_DATASETS` (digits, breast_cancer, iris, moons, spirals,
        regression), or a path ending in .csv, .npy or .npz.
    target, task
        For files, see :func:`load_file`; ignored for built-in sets.
    seed : int, optional
        Seeds the generated sets (moons, spirals, regression).

    Raises
    ------
    ValueError
        Unknown name (the message lists the built-in ones), or a bad file.
    FileNotFoundError
        A path that does not exist.
    """
    text = str(spec)
    if text in BUILTIN_DATASETS:
        loader = BUILTIN_DATASETS[text]
        return loader(seed=seed) if text in _GENERATED else loader()
    if Path(text).suffix.lower() in FILE_SUFFIXES or Path(text).exists():
        return load_file(text, target=target, task=task)
    msg = (
        f"unknown dataset {text!r}; built-in: {', '.join(BUILTIN_DATASETS)}; "
        f"or give a file ending in {', '.join(FILE_SUFFIXES)}"
    )
    raise ValueError(msg)


# ---------------------------------------------------------------------- files
def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"file {str(p)!r} not found"
        raise FileNotFoundError(msg)
    if p.is_dir():
        msg = f"{str(p)!r} is a directory; give a .csv, .npy or .npz file"
        raise ValueError(msg)
    suffix = p.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        msg = f"{p.name}: unsupported file type {suffix or '(none)'!r}; use {', '.join(FILE_SUFFIXES)}"
        raise ValueError(msg)
    return p


def _npy_rows(p: Path) -> RowSource:
    """The rows of the ``.npy`` file ``p``, opened for reading by rows (never unpickled).

    Raises
    ------
    ValueError
        ``p`` is not a numeric ``.npy`` array; the message names the file.
    """
    try:
        return RowSource(str(p))
    except ValueError as exc:
        msg = f"{p.name} could not be read as a numeric array ({exc}); ffnn never unpickles files"
        raise ValueError(msg) from None


def _numeric_column(values: list[str], column: str, path: Path) -> np.ndarray:
    """Parse one CSV column as float64, naming the line and column of a bad cell."""
    out = np.empty(len(values), dtype=np.float64)
    for i, cell in enumerate(values):
        try:
            out[i] = float(cell)
        except ValueError:
            problem = "a missing value" if not cell.strip() else f"{cell.strip()!r}, not a number"
            msg = f"{path.name} line {i + 2}, column {column!r}: {problem}; features must be numbers"
            raise ValueError(msg) from None
        if not math.isfinite(out[i]):
            msg = f"{path.name} line {i + 2}, column {column!r}: {cell.strip()!r} is not a finite number"
            raise ValueError(msg)
    return out


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and columns (as strings) of a CSV file with a header row.

    Every way the file can fail to be read (not UTF-8, a cell beyond the csv
    module's field limit, a NUL byte) is a ValueError naming the file and line.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows = [row for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        msg = (
            f"{path.name} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8 CSV"
        )
        raise ValueError(msg) from None
    except csv.Error as exc:
        where = f" line {reader.line_num}" if reader.line_num else ""
        limit = csv.field_size_limit()
        problem = f"a field longer than {limit} characters" if "field limit" in str(exc) else str(exc)
        msg = f"{path.name}{where}: {problem}; is this a CSV file?"
        raise ValueError(msg) from None
    if not rows:
        msg = f"{path.name} is empty; a CSV file needs a header row and at least one data row"
        raise ValueError(msg)
    header = [name.strip() for name in rows[0]]
    if all(_is_number(name) for name in header):
        msg = f"{path.name}: the first line holds numbers; add a header row naming the columns"
        raise ValueError(msg)
    if len(set(header)) != len(header) or not all(header):
        msg = f"{path.name}: column names in the header must be distinct and non-empty, got {header}"
        raise ValueError(msg)
    if len(rows) < 2:
        msg = f"{path.name} has a header but no data rows"
        raise ValueError(msg)
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            msg = f"{path.name} line {i} has {len(row)} fields but the header has {len(header)}"
            raise ValueError(msg)
    columns = [list(col) for col in zip(*rows[1:])]
    return header, columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        msg = f"{path.name} could not be read as a numeric array ({exc}); ffnn never unpickles files"
        raise ValueError(msg) from None
    return _numeric_array(array, path.name)


def _numeric_array(array: np.ndarray, label: str) -> np.ndarray:
    real = np.issubdtype(array.dtype, np.number) and array.dtype.kind != "c"
    if not (real or array.dtype == np.bool_ or array.dtype.kind == "U"):
        msg = f"{label} has dtype {array.dtype}; expected real numbers (or strings for class labels)"
        raise ValueError(msg)
    return array


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ValueError as exc:
        msg = f"{path.name} could not be read as NumPy arrays ({exc}); ffnn never unpickles files"
        raise ValueError(msg) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"{path.name} is not a valid .npz archive ({exc})"
        raise ValueError(msg) from None
    return {name: _numeric_array(array, f"{path.name}[{name!r}]") for name, array in arrays.items()}


def _features(array: np.ndarray, label: str) -> np.ndarray:
    if array.ndim == 1:
        array = np.reshape(array, (-1, 1))
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        msg = f"{label} must be a non-empty 2-D array (examples as rows), got shape {array.shape}"
        raise ValueError(msg)
    if array.dtype.kind == "U" or (array.dtype.kind == "f" and not np.all(np.isfinite(array))):
        problem = "strings" if array.dtype.kind == "U" else "NaN or infinite values"
        msg = f"{label} holds {problem}; features must be finite numbers"
        raise ValueError(msg)
    return array.astype(np.float64)


def _class_names(values: np.ndarray) -> list[str]:
    if values.dtype.kind == "f":
        return [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in values]
    return [str(v) for v in values]


def _target(values: np.ndarray, task: str, label: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Turn raw target values into (y, classes): class indices, or float regression targets."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        msg = f"{label} holds NaN or infinite values"
        raise ValueError(msg)
    numeric = values.dtype.kind in "iufb"
    if task == "auto":
        integral = numeric and values.ndim == 1 and bool(np.all(values == np.round(values)))
        few = values.ndim == 1 and np.unique(values).size <= _MAX_AUTO_CLASSES
        task = "classification" if (not numeric and values.ndim == 1) or (integral and few) else "regression"
    if task == "regression":
        if not numeric:
            msg = f"{label} holds strings; regression needs numeric targets (or use --task classification)"
            raise ValueError(msg)
        return values.astype(np.float64), None
    if values.ndim != 1:
        msg = f"{label} has shape {values.shape}; classification needs one class label per row"
        raise ValueError(msg)
    uniques, y = np.unique(values, return_inverse=True)
    if uniques.size < 2:
        msg = f"{label} holds a single class ({_class_names(uniques)[0]!r}); classification needs at least two"
        raise ValueError(msg)
    return y.astype(np.int64), tuple(_class_names(uniques))


def _csv_target(cells: list[str]) -> np.ndarray:
    stripped = [c.strip() for c in cells]
    if all(_is_number(c) for c in stripped):
        return np.array([float(c) for c in stripped])
    return np.array(stripped)


def load_file(path: str | Path, *, target: str | None = None, task: str = "auto") -> Dataset:
    """Read a labelled data set from a file.

    Parameters
    ----------
    path : str or Path
        - ``.csv``: a header row naming the columns, then one example per row; feature
          columns must be numbers, the target column may hold class names (strings).
        - ``.npy``: one 2-D numeric array; the target is a column.
        - ``.npz``: named arrays; the features are array ``X`` (or the only array
          besides the target).
        Files are read with ``allow_pickle=False``.
    target : str, optional
        The target: a column name (.csv; default ``"target"``), a column index (.npy;
        default ``-1``, the last column), or an array name (.npz; default ``"y"``).
    task : {"auto", "classification", "regression"}
        ``"auto"`` treats strings, and integer values with at most 20 distinct values,
        as class labels, anything else as regression targets.

    Returns
    -------
    Dataset
        Classes sorted by value (numerically for numbers).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unsupported suffix, missing header, ragged rows, non-numeric or missing feature
        values, absent target column/array (the message lists what is there), pickled
        content, or a single-class target.
    """
    if task not in TASKS:
        msg = f"task must be one of {', '.join(TASKS)}, got {task!r}"
        raise ValueError(msg)
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        header, columns = _read_csv(p)
        name = "target" if target is None else target
        if name not in header:
            hint = "name the target column with --target" if target is None else f"no column {name!r}"
            msg = f"{p.name}: {hint}; columns: {', '.join(header)}"
            raise ValueError(msg)
        index = header.index(name)
        features = [_numeric_column(col, header[j], p) for j, col in enumerate(columns) if j != index]
        if not features:
            msg = f"{p.name} has only the target column {name!r}; add feature columns"
            raise ValueError(msg)
        X = np.column_stack(features)
        y, classes = _target(_csv_target(columns[index]), task, f"{p.name} column {name!r}")
        names = tuple(h for j, h in enumerate(header) if j != index)
    elif suffix == ".npy":
        array = _load_npy(p)
        if array.ndim != 2 or array.shape[1] < 2:
            msg = f"{p.name} has shape {array.shape}; a labelled .npy file is 2-D with the target as one column"
            raise ValueError(msg)
        index = _column_index(target, array.shape[1], p.name)
        X = _features(np.delete(array, index, axis=1), p.name)
        y, classes = _target(array[:, index], task, f"{p.name} column {index}")
        names = tuple(f"x{j}" for j in range(X.shape[1]))
    else:
        arrays = _load_npz(p)
        name = "y" if target is None else target
        if name not in arrays:
            msg = (
                f"{p.name} has no array {name!r} (arrays: {', '.join(arrays) or 'none'}); name the target with --target"
            )
            raise ValueError(msg)
        X = _features(_npz_features(arrays, exclude=name, label=p.name), f"{p.name} features")
        y, classes = _target(arrays[name], task, f"{p.name}[{name!r}]")
        if y.shape[0] != X.shape[0]:
            msg = f"{p.name}: the target has {y.shape[0]} rows but the features have {X.shape[0]}"
            raise ValueError(msg)
        names = tuple(f"x{j}" for j in range(X.shape[1]))
    return Dataset(X, y, p.name, names, classes)


def load_npy_rows(
    path: str | Path, *, target: str | None = None, task: str = "auto", chunk_rows: int = CHUNK_ROWS
) -> Dataset:
    """A labelled ``.npy`` data set read by rows: as :func:`load_file`, but X stays in the file.

    The file is read ``chunk_rows`` rows at a time (positioned reads, never loaded nor
    mapped whole) to take the target column and check the features; the returned
    ``Dataset.X`` is a :class:`~ffnn.preprocessing.ScaledRows` over the file (its
    feature columns, float64) that reads only the rows each batch asks for. ``y`` (one
    value per row) is in memory, as class indices or float64 targets like
    :func:`load_file`'s. ``X.peak`` holds the largest feature magnitude.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_file`.
    """
    if task not in TASKS:
        msg = f"task must be one of {', '.join(TASKS)}, got {task!r}"
        raise ValueError(msg)
    p = _existing(path)
    base = _npy_rows(p)
    if len(base.shape) != 2 or base.shape[1] < 2:
        msg = f"{p.name} has shape {base.shape}; a labelled .npy file is 2-D with the target as one column"
        raise ValueError(msg)
    real = np.issubdtype(base.dtype, np.number) and base.dtype.kind != "c"
    if not (real or base.dtype == np.bool_):
        msg = f"{p.name} has dtype {base.dtype}; expected real numbers"
        raise ValueError(msg)
    m, n = base.shape
    if m == 0:
        msg = f"{p.name} must be a non-empty 2-D array (examples as rows), got shape {base.shape}"
        raise ValueError(msg)
    index = _column_index(target, n, p.name)
    columns = np.array([j for j in range(n) if j != index], dtype=np.int64)
    values = np.empty(m, dtype=base.dtype)
    peak = 0.0
    for lo in range(0, m, chunk_rows):
        part = base.take(np.arange(lo, min(lo + chunk_rows, m)))
        values[lo : lo + part.shape[0]] = part[:, index]
        features = np.asarray(part[:, columns], dtype=np.float64)
        if not np.all(np.isfinite(features)):
            msg = f"{p.name} holds NaN or infinite values; features must be finite numbers"
            raise ValueError(msg)
        peak = max(peak, float(np.max(np.abs(features), initial=0.0)))
    y, classes = _target(values, task, f"{p.name} column {index}")
    X = ScaledRows(base, columns=columns)
    X.peak = peak
    names = tuple(f"x{j}" for j in range(columns.shape[0]))
    return Dataset(X, y, p.name, names, classes)  # type: ignore[arg-type]


def read_npy_rows(path: str | Path, *, chunk_rows: int = CHUNK_ROWS) -> tuple[ScaledRows, tuple[str, ...]]:
    """Unlabelled inputs from a 2-D ``.npy`` file, read by rows: :func:`read_inputs` without
    loading the file (one chunked pass checks that the values are finite numbers).

    Returns
    -------
    X : ScaledRows
        The file's rows as float64, read on demand; ``X.peak`` is the largest magnitude.
    feature_names : tuple of str
        x0, x1, …

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_inputs`.
    """
    p = _existing(path)
    base = _npy_rows(p)
    real = np.issubdtype(base.dtype, np.number) and base.dtype.kind != "c"
    if len(base.shape) != 2 or base.shape[0] == 0 or base.shape[1] == 0 or not (real or base.dtype == np.bool_):
        msg = f"{p.name} must be a non-empty 2-D array of real numbers (rows: examples), got {base.shape} {base.dtype}"
        raise ValueError(msg)
    m = base.shape[0]
    peak = 0.0
    for lo in range(0, m, chunk_rows):
        part = np.asarray(base.take(np.arange(lo, min(lo + chunk_rows, m))), dtype=np.float64)
        if not np.all(np.isfinite(part)):
            msg = f"{p.name} holds NaN or infinite values; features must be finite numbers"
            raise ValueError(msg)
        peak = max(peak, float(np.max(np.abs(part), initial=0.0)))
    X = ScaledRows(base)
    X.peak = peak
    return X, tuple(f"x{j}" for j in range(base.shape[1]))


def _column_index(target: str | None, n_columns: int, label: str) -> int:
    text = "-1" if target is None else target
    try:
        index = int(text)
    except ValueError:
        msg = f"{label}: the target of a .npy file is a column index such as -1, got {text!r}"
        raise ValueError(msg) from None
    if not -n_columns <= index < n_columns:
        msg = f"{label} has {n_columns} columns; target column {index} is out of range"
        raise ValueError(msg)
    return index % n_columns


def _npz_features(arrays: dict[str, np.ndarray], *, exclude: str | None, label: str) -> np.ndarray:
    if "X" in arrays and exclude != "X":
        return arrays["X"]
    others = [name for name in arrays if name != exclude]
    if len(others) != 1:
        msg = f"{label}: store the features as array 'X' (arrays: {', '.join(arrays) or 'none'})"
        raise ValueError(msg)
    return arrays[others[0]]


def read_inputs(path: str | Path, *, drop: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read unlabelled inputs (examples as rows) for prediction.

    Parameters
    ----------
    path : str or Path
        ``.csv`` with a header row (every kept column numeric), a 2-D ``.npy`` array,
        or an ``.npz`` archive with array ``X`` (or a single array).
    drop : str, optional
        A column (.csv) to ignore, e.g. the target of a labelled file.

    Returns
    -------
    X : numpy.ndarray, float64, shape (m, n)
    feature_names : tuple of str

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_file`; also a ``drop`` column that is not in the file.
    """
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        header, columns = _read_csv(p)
        if drop is not None and drop not in header:
            msg = f"{p.name}: no column {drop!r} to drop; columns: {', '.join(header)}"
            raise ValueError(msg)
        kept = [j for j, name in enumerate(header) if name != drop]
        X = np.column_stack([_numeric_column(columns[j], header[j], p) for j in kept])
        return X, tuple(header[j] for j in kept)
    if suffix == ".npy":
        X = _features(_load_npy(p), p.name)
    else:
        X = _features(_npz_features(_load_npz(p), exclude=None, label=p.name), p.name)
    return X, tuple(f"x{j}" for j in range(X.shape[1]))


# ---------------------------------------------------------------------- splits and scaling
def train_test_split(
    X: np.ndarray, y: np.ndarray, *, test_size: float = 0.2, seed: int | None = 0, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split (X, y) into a training part and a held-out part.

    Parameters
    ----------
    X : numpy.ndarray, shape (m, n)
    y : numpy.ndarray, shape (m,) or (m, t)
    test_size : float
        Fraction of the rows held out, in (0, 1).
    seed : int, optional
        Seeds the shuffle; the same seed gives the same split.
    stratify : bool
        Hold out the fraction ``test_size`` of each class of the integer labels ``y``
        (rounded per class), so that both parts keep the class proportions.

    Returns
    -------
    X_train, X_test, y_train, y_test

    Raises
    ------
    ValueError
        ``test_size`` outside (0, 1), or a split leaving either part empty.
    """
    train, test = split_rows(X.shape[0], y, test_size=test_size, seed=seed, stratify=stratify)
    return X[train], X[test], y[train], y[test]


def split_rows(
    m: int, y: np.ndarray, *, test_size: float = 0.2, seed: int | None = 0, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The row indices (train, test) that :func:`train_test_split` uses: the same
    shuffle and cut, for data read by rows (e.g. :func:`load_npy_rows`) where copies
    of the parts are not wanted. ``y`` (m labels) is read only when ``stratify``.

    Raises
    ------
    ValueError
        As :func:`train_test_split`.
    """
    test_size = Interval(0.0, 1.0, closed="neither").check(test_size, "test_size", " (a fraction)")
    rng = np.random.default_rng(seed)
    if stratify:
        groups = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
        cuts = [round(test_size * g.size) for g in groups]
        test = np.concatenate([g[:cut] for g, cut in zip(groups, cuts)])
        train = np.concatenate([g[cut:] for g, cut in zip(groups, cuts)])
        test, train = rng.permutation(test), rng.permutation(train)
    else:
        order = rng.permutation(m)
        n_test = round(test_size * m)
        test, train = order[:n_test], order[n_test:]
    if test.size == 0 or train.size == 0:
        msg = f"test_size={test_size} leaves {train.size} training and {test.size} held-out rows of {m}; both need rows"
        raise ValueError(msg)
    return train, test


def select_columns(
    X: np.ndarray, names: tuple[str, ...], wanted: tuple[str, ...] | list[str], *, label: str = "the data"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The columns of X named ``wanted``, in that order (matching by name, not position).

    Parameters
    ----------
    X : numpy.ndarray, shape (m, n)
    names : tuple of str
        The name of each column of X (a CSV header).
    wanted : sequence of str
        The names a model was trained on, in its input order.
    label : str
        How messages name the data (its file name).

    Returns
    -------
    X_selected : numpy.ndarray, shape (m, len(wanted))
    extra : tuple of str
        Columns of X that are not wanted (ignored).

    Raises
    ------
    ValueError
        A wanted name is missing; the message lists the missing names and the columns
        that match none (renamed or unknown columns).
    """
    if len(set(names)) != len(names):
        msg = f"{label}: column names must be distinct to be matched by name, got {list(names)}"
        raise ValueError(msg)
    index = {name: j for j, name in enumerate(names)}
    missing = [w for w in wanted if w not in index]
    extra = tuple(n for n in names if n not in set(wanted))
    if missing:
        unknown = f"; columns the model does not know: {', '.join(extra)}" if extra else ""
        msg = (
            f"{label} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)} that the model was "
            f"trained on (it expects {', '.join(wanted)}){unknown}; columns are matched by name"
        )
        raise ValueError(msg)
    return X[:, [index[w] for w in wanted]], extra
