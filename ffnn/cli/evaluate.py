"""``ffnn evaluate``: a saved model's cost and accuracy (confusion matrix) or, for
regression, R², MAE and RMSE in the target's units, on a data set."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..datasets import load_dataset, load_npy_rows, split_rows, train_test_split
from ..metrics import confusion_matrix, regression_report
from ..preprocessing import ScaledRows
from ._common import EXIT_OK, add_model_command, describe, load_model, usage
from ._data import encode_targets, match_classes, match_columns, saved_task
from .train import add_data_options


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn evaluate``."""
    return add_model_command(
        subparsers,
        "evaluate",
        run,
        _options,
        help="cost, accuracy and confusion matrix (regression: R², MAE, RMSE) of a saved model",
        description=(
            "Evaluate a saved model on a data set (all of it, or the train/test part of the split "
            "`ffnn train` makes with the same --test-size and --seed). Columns are matched to the model's "
            "features by name when it recorded them and the data has a header (ffnn train records them); "
            "class labels are matched to the model's classes by name when it was saved with them, otherwise "
            "to its outputs in sorted order. --task auto reads the target as the model's task."
        ),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    add_data_options(
        parser,
        default=None,
        seed_help="with --split train or test: the --seed the model was trained with, to rebuild its split "
        "(default: 0)",
    )
    parser.add_argument(
        "--split", choices=("all", "train", "test"), default="all", help="which rows to evaluate (default: all)"
    )


def run(args: argparse.Namespace) -> int:
    """``ffnn evaluate``: returns the exit status."""
    net = load_model(args.model, args.backend, args.device, args.threads)
    with usage():
        task = saved_task(args.task, net)
        if str(args.dataset).lower().endswith(".npy"):  # read by rows, one batch at a time
            data = load_npy_rows(args.dataset, target=args.target, task=task)
        else:
            data = load_dataset(args.dataset, target=args.target, task=task, seed=args.seed)
        outputs, classes = match_classes(data, net, args.model)
        X = match_columns(data.X, data.feature_names, args.dataset, net, args.model, label=data.name)
        y = data.y
        if args.split != "all" and isinstance(X, ScaledRows):
            train, test = split_rows(
                X.shape[0], y, test_size=args.test_size, seed=args.seed, stratify=data.classes is not None
            )
            rows = train if args.split == "train" else test
            X, y = X.select(rows), y[rows]
        elif args.split != "all":
            parts = train_test_split(X, y, test_size=args.test_size, seed=args.seed, stratify=data.classes is not None)
            X, y = (parts[0], parts[2]) if args.split == "train" else (parts[1], parts[3])
        if outputs is not None:
            y = outputs[y]
        result = net.evaluate(X, encode_targets(y, net))
    print(f"model     {args.model}: {describe(net)} ({net.backend.name} on {net.backend.device_name})")
    print(f"data      {data.name} ({args.split}): {X.shape[0]} examples")
    print(f"cost      {result['cost']:.6g}")
    if classes is None:
        report = regression_report(y, net.backend.to_numpy(net.predict(X)))
        print(f"R²        {report['r2']:.6g}")
        print(f"MAE       {report['mae']:.6g}  (target units)")
        print(f"RMSE      {report['rmse']:.6g}  (target units)")
        return EXIT_OK
    if result["accuracy"] is not None:
        print(f"accuracy  {result['accuracy']:.4f}")
        print("\nconfusion matrix (rows: true class, columns: predicted class)")
        print(_confusion_table(y, net.predict_classes(X), classes))
    return EXIT_OK


def _confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> str:
    counts = confusion_matrix(y_true, y_pred, len(classes))
    rows = [("", *classes)] + [(name, *(str(c) for c in row)) for name, row in zip(classes, counts)]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)
