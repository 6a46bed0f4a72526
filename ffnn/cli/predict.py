"""``ffnn predict``: a saved model's predictions for new data, written to CSV or .npy."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from .._files import write_atomically
from ..datasets import read_inputs, read_npy_rows
from ._common import EXIT_OK, CommandError, add_model_command, check_new_file, load_model, usage
from ._data import match_columns, model_classes
from ._report import write_csv


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn predict``."""
    return add_model_command(
        subparsers,
        "predict",
        run,
        _options,
        help="predictions of a saved model for new data (CSV or .npy)",
        description=(
            "Read examples (a CSV file with a header, .npy or .npz), write one prediction per row: the "
            "class name for classifiers saved with class names (ffnn train records them), else the class "
            "index (with --proba, the class probabilities and then the predicted class), the predicted "
            "values for regression. CSV columns are matched to the model's features by name when it "
            "recorded them; other columns are ignored with a note."
        ),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="FILE", help=".csv, .npy or .npz")
    parser.add_argument("--output", required=True, metavar="FILE", help="predictions file: .csv or .npy")
    parser.add_argument(
        "--target", default=None, metavar="COLUMN", help="a CSV column to ignore (the labels of a labelled file)"
    )
    parser.add_argument(
        "--proba", action="store_true", help="write class probabilities, then the predicted class (CSV)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    """``ffnn predict``: returns the exit status."""
    suffix = os.path.splitext(args.output)[1].lower()
    if suffix not in (".csv", ".npy"):
        raise CommandError(f"--output {args.output}: unsupported file type {suffix or '(none)'!r}; use .csv or .npy")
    check_new_file(args.output, args.overwrite, "--output")
    net = load_model(args.model, args.backend, args.device, args.threads)
    with usage():
        X: Any
        if args.input.lower().endswith(".npy") and _two_d(args.input):
            X, names = read_npy_rows(args.input)  # read by rows, one batch at a time
        else:
            X, names = read_inputs(args.input, drop=args.target)
        label = os.path.basename(args.input)
        X = match_columns(X, names, args.input, net, args.model, label=label)
        if args.proba and net.task == "regression":
            raise CommandError(f"--proba needs a classifier, but {args.model} is a regression model")
        columns, header = _predictions(net, X, args.proba, model_classes(net, args.model))
    if suffix == ".npy":
        values = columns[0]  # probabilities, classes or values; the class column goes to CSV only
        array = values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
        write_atomically(args.output, lambda handle: np.save(handle, array, allow_pickle=False))
    else:
        write_atomically(args.output, lambda handle: write_csv(handle, header, columns))
    print(f"{X.shape[0]} predictions written to {args.output}")
    return EXIT_OK


def _two_d(path: str) -> bool:
    """Whether ``path`` is a readable 2-D .npy file (then read by rows; 1-D ones and
    unreadable ones go through :func:`read_inputs` and its messages)."""
    from ..sources import RowSource

    try:
        with RowSource(path) as rows:
            return len(rows.shape) == 2
    except (OSError, ValueError):
        return False


def _predictions(
    net: Any, X: Any, proba: bool, classes: tuple[str, ...] | None
) -> tuple[list[np.ndarray], list[str]]:
    """(columns, header): regression outputs; the predicted class (its name when the
    model has class names, else its index), preceded by the class probabilities with
    ``proba``."""
    if net.task == "regression":
        values = net.backend.to_numpy(net.predict(X))
        return [values], ["prediction"] if values.shape[1] == 1 else [f"prediction{j}" for j in range(values.shape[1])]
    predicted = net.predict_classes(X)
    labels = predicted if classes is None else np.asarray(classes)[predicted]
    if not proba:
        return [labels], ["class"]
    values = net.backend.to_numpy(net.predict_proba(X))
    if classes is None:
        names = [f"p{j}" for j in range(values.shape[1])]
    else:
        names = [f"p({name})" for name in classes[-values.shape[1] :]]  # one sigmoid: p of the second class
    return [values, labels], [*names, "class"]
