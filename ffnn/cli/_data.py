"""Data for a saved model: its task, class names and feature names, and the columns
and labels of a data file matched to them (by name where the model has names)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Dataset, select_columns
from ._common import CommandError


def class_count(net: Any) -> int:
    """Classes a classifier network tells apart (2 for one sigmoid output)."""
    return 2 if net.n_out == 1 else net.n_out


def encode_targets(y: np.ndarray, net: Any) -> np.ndarray:
    """Targets in the form the network's loss takes: class indices for softmax +
    cross-entropy and single-output classifiers, one-hot rows for several sigmoids."""
    if net.task == "multilabel":
        return np.eye(net.n_out)[y]
    return y


def model_classes(net: Any, model: str) -> tuple[str, ...] | None:
    """The class names saved with a classifier (``ffnn train --save`` records them in the
    model's metadata under "classes"), or None."""
    names = net.metadata.get("classes")
    if names is None or net.task == "regression":
        return None
    count = class_count(net)
    if not (
        isinstance(names, list) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names) == count
    ):
        msg = f"{model}: its metadata 'classes' must list {count} distinct class names, got {names!r:.120}"
        raise CommandError(msg)
    return tuple(names)


def model_features(net: Any, model: str) -> tuple[str, ...] | None:
    """The feature names saved with a model (metadata "feature_names"), or None."""
    names = net.metadata.get("feature_names")
    if names is None:
        return None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names) and len(names) == net.n_in):
        msg = f"{model}: its metadata 'feature_names' must list {net.n_in} names, got {names!r:.120}"
        raise CommandError(msg)
    return tuple(names)


def saved_task(task: str, net: Any) -> str:
    """``--task``, or with ``auto`` the reading the model's metadata implies (train records it)."""
    saved = net.metadata.get("task")
    if task != "auto" or saved not in ("binary", "multiclass", "regression"):
        return task
    return "regression" if saved == "regression" else "classification"


def has_column_names(source: str) -> bool:
    """Whether data from ``source`` (a --dataset/--input value) has real column names:
    a CSV header or a built-in set, not the x0, x1, … given to .npy/.npz columns."""
    return Path(source).suffix.lower() not in (".npy", ".npz")


def match_columns(
    X: Any, names: tuple[str, ...], source: str, net: Any, model: str, *, label: str
) -> Any:
    """X with the model's input columns, in its order: matched by name when the model
    recorded feature names and the data has a header (reordering is fine, extra columns
    are ignored with a note on stderr, missing ones are an error listing them);
    otherwise by position, and then the column count must match."""
    wanted = model_features(net, model)
    if wanted is not None and has_column_names(source):
        X, extra = select_columns(X, names, wanted, label=label)
        if extra:
            print(
                f"note: {label}: ignoring column{'s' if len(extra) > 1 else ''} {', '.join(extra)} "
                f"(not a feature of {model})",
                file=sys.stderr,
            )
    if X.shape[1] != net.n_in:
        msg = f"{label} has {X.shape[1]} features but the network expects {net.n_in} ({model})"
        raise CommandError(msg)
    return X


def match_classes(data: Dataset, net: Any, model: str) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    """Check that the data's targets suit the model. For a classifier, return the model's
    output index of each of the data's classes, and the model's class names.

    A model saved with class names matches labels by name, so the data may hold only
    some of its classes; without names, the data's classes are matched to the outputs
    in sorted order, so all must be present. Regression: (None, None).
    """
    if data.classes is None:
        if net.task != "regression":
            msg = (
                f"{data.name}: the target is numeric (regression), but {model} is a classifier; "
                "use --task classification"
            )
            raise CommandError(msg)
        if data.n_targets != net.n_out:
            msg = f"{data.name} has {data.n_targets} target column(s) but {model} predicts {net.n_out}"
            raise CommandError(msg)
        return None, None
    if net.task == "regression":
        msg = f"{data.name}: the target holds class labels, but {model} is a regression model; use --task regression"
        raise CommandError(msg)
    names = model_classes(net, model)
    if names is None:
        if len(data.classes) != class_count(net):
            msg = (
                f"{data.name} has {len(data.classes)} classes ({', '.join(data.classes)}) but {model} tells "
                f"{class_count(net)} apart; classes are matched to outputs in sorted order, so all must be present"
            )
            raise CommandError(msg)
        return np.arange(len(data.classes)), data.classes
    unknown = [repr(c) for c in data.classes if c not in names]
    if unknown:
        shown = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        msg = (
            f"{data.name} has {len(data.classes)} classes, but {model} tells {len(names)} apart "
            f"({', '.join(names)}) and {shown} {'is' if len(unknown) == 1 else 'are'} not among them; "
            "labels are matched to the model's classes by name"
        )
        raise CommandError(msg)
    return np.array([names.index(c) for c in data.classes], dtype=np.int64), names


def check_range(X: Any, dtype: str, label: str) -> None:
    """Refuse features whose magnitude the network's dtype cannot hold (float32 tops
    out at 3.4e38), rather than letting them become infinite on the device. X is an
    array, or rows read from a file whose reader recorded their peak (``X.peak``)."""
    limit = float(np.finfo(np.dtype(dtype)).max)
    known = getattr(X, "peak", None)
    peak = float(np.max(np.abs(X), initial=0.0)) if known is None else float(known)
    if peak > limit:
        msg = f"{label} holds values up to {peak:.3g}, beyond the {dtype} range (±{limit:.3g})"
        raise CommandError(msg, hint="use --dtype float64, or rescale the data")
