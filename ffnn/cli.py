"""The ``ffnn`` command: train, evaluate, predict, info, gradcheck, and subcommands of other modules."""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import importlib.util
import io
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from backends import (
    KNOWN_BACKENDS,
    Backend,
    BackendUnavailableError,
    backend_status,
    get_backend,
    gpu_available,
)

from . import _argtypes as argtypes
from ._files import check_target, write_atomically
from .activations import get_activation
from .datasets import BUILTIN_DATASETS, TASKS, Dataset, Standardizer, load_dataset, read_inputs, train_test_split
from .gradcheck import gradcheck
from .layers import Dense
from .losses import get_loss
from .network import Network
from .optimizers import OPTIMIZERS

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "PLUGINS",
    "CommandError",
    "build_parser",
    "confusion_matrix",
    "fold_standardization",
    "main",
]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

PLUGINS: tuple[str, ...] = ("ffnn.parity",)
"""Modules that add a subcommand: each has ``add_parser(subparsers)`` (returning the
subcommand's parser) and ``run(args) -> int`` (the exit status). A plug-in module that
does not exist is skipped."""

_OUTPUT_FOR_LOSS = {"categorical_crossentropy": "softmax", "binary_crossentropy": "sigmoid", "mse": "linear"}
_LOSS_FOR_OUTPUT = {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}
_PLOT_HINT = "install it with: pip install 'ffnn[plot]'"


class CommandError(Exception):
    """A failure the command reports in one or two lines, with its exit status.

    Parameters
    ----------
    message : str
        What went wrong, naming the bad value.
    hint : str, optional
        The way out, printed on a second line.
    code : int
        :data:`EXIT_USAGE` (2, the default) or :data:`EXIT_FAILURE` (1).
    """

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@contextlib.contextmanager
def _usage() -> Iterator[None]:
    """Report bad input (values, files, backends) as usage errors, exit status 2."""
    try:
        yield
    except CommandError:
        raise
    except (ValueError, TypeError, OSError, BackendUnavailableError) as exc:
        raise CommandError(str(exc)) from exc


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are two short lines, exit status 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n{self.prog}: hint: see {self.prog} --help\n")


# ---------------------------------------------------------------------- shared helpers
def _select_backend(name: str, device: str | None) -> Backend:
    """The backend for ``--backend``/``--device``; a GPU request without a GPU is a usage error."""
    try:
        return get_backend(name, device)
    except BackendUnavailableError as exc:
        wants_gpu = name == "cupy" or (device or "cpu") != "cpu"
        if wants_gpu and name in ("numpy", "array_api_strict"):
            msg = f"--backend {name} runs on the CPU only, not on --device {device}"
            raise CommandError(msg, hint="use --device cpu, or --backend auto, cupy or torch for a GPU") from exc
        if wants_gpu and not gpu_available("cupy" if name == "auto" else name):
            status = None if name == "auto" else backend_status(name)
            why = status.reason if status is not None and not status.installed else "no usable CUDA device was found"
            flags = f"--backend {name}" + (f" --device {device}" if device else "")
            hint = "run on the CPU with --backend numpy or --backend auto" + (", without --device" if device else "")
            raise CommandError(f"{flags} needs a CUDA GPU, but none is usable here: {why}", hint=hint) from exc
        raise CommandError(str(exc)) from exc


def _check_new_file(path: str, overwrite: bool, option: str) -> None:
    """Refuse to replace an existing file unless ``--overwrite``; the folder must exist."""
    try:
        check_target(path, replace=overwrite)
    except FileExistsError as exc:
        raise CommandError(f"{option}: {exc}", hint="choose another name, or pass --overwrite to replace it") from exc
    except OSError as exc:
        raise CommandError(f"{option}: {exc}") from exc


def _require_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        msg = "--plot needs matplotlib, which is not installed"
        raise CommandError(msg, hint=_PLOT_HINT)


def _class_count(net: Network) -> int:
    """Classes a classifier network tells apart (2 for one sigmoid output)."""
    return 2 if net.n_out == 1 else net.n_out


def _encode_targets(y: np.ndarray, net: Network) -> np.ndarray:
    """Targets in the form the network's loss takes: class indices for softmax +
    cross-entropy and single-output classifiers, one-hot rows for several sigmoids."""
    if net.task == "multilabel":
        return np.eye(net.n_out)[y]
    return y


def _model_classes(net: Network, model: str) -> tuple[str, ...] | None:
    """The class names saved with a classifier (``ffnn train --save`` records them in the
    model's metadata under "classes"), or None."""
    names = net.metadata.get("classes")
    if names is None or net.task == "regression":
        return None
    count = _class_count(net)
    if not (
        isinstance(names, list) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names) == count
    ):
        msg = f"{model}: its metadata 'classes' must list {count} distinct class names, got {names!r:.120}"
        raise CommandError(msg)
    return tuple(names)


def _saved_task(task: str, net: Network) -> str:
    """``--task``, or with ``auto`` the reading the model's metadata implies (train records it)."""
    saved = net.metadata.get("task")
    if task != "auto" or saved not in ("binary", "multiclass", "regression"):
        return task
    return "regression" if saved == "regression" else "classification"


def _match_classes(data: Dataset, net: Network, model: str) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    """Check that the data's targets suit the model. For a classifier, return the model's
    output index of each of the data's classes, and the model's class names.

    A model saved with class names matches labels by name, so the data may hold only
    some of its classes; without names, the data's classes are matched to the outputs
    in sorted order, so all must be present. Regression: (None, None).
    """
    if data.classes is None:
        if net.task != "regression":
            msg = f"{data.name}: the target is numeric (regression), but {model} is a classifier; use --task classification"
            raise CommandError(msg)
        if data.n_targets != net.n_out:
            msg = f"{data.name} has {data.n_targets} target column(s) but {model} predicts {net.n_out}"
            raise CommandError(msg)
        return None, None
    if net.task == "regression":
        msg = f"{data.name}: the target holds class labels, but {model} is a regression model; use --task regression"
        raise CommandError(msg)
    names = _model_classes(net, model)
    if names is None:
        if len(data.classes) != _class_count(net):
            msg = (
                f"{data.name} has {len(data.classes)} classes ({', '.join(data.classes)}) but {model} tells "
                f"{_class_count(net)} apart; classes are matched to outputs in sorted order, so all must be present"
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


def _load_model(path: str, backend: str, device: str | None) -> Network:
    from .serialization import load

    if not os.path.isfile(path):
        raise CommandError(
            f"model file {path!r} not found" if not os.path.exists(path) else f"model {path!r} is not a file"
        )
    target = _select_backend(backend, device)
    with _usage():
        return load(path, backend=target)


# ---------------------------------------------------------------------- train
def _add_backend_options(parser: argparse.ArgumentParser, *, dtype: bool) -> None:
    group = parser.add_argument_group("backend")
    group.add_argument("--backend", choices=KNOWN_BACKENDS, default="auto", help="array library (default: auto)")
    group.add_argument("--device", type=argtypes.device, default=None, help="cpu, gpu or cuda:N (default: the backend's)")
    if dtype:
        group.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="(default: float32)")


def _add_data_options(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        default=default,
        required=default is None,
        metavar="NAME|FILE",
        help=f"built-in ({', '.join(BUILTIN_DATASETS)}) or a .csv/.npy/.npz file"
        + (f" (default: {default})" if default else ""),
    )
    group.add_argument(
        "--target",
        default=None,
        help="target of a file: CSV column name (default: target), .npy column index (default: -1), .npz array (default: y)",
    )
    group.add_argument("--task", choices=TASKS, default="auto", help="how to read the target (default: auto)")
    group.add_argument("--test-size", type=argtypes.fraction, default=0.2, help="held-out fraction (default: 0.2)")
    group.add_argument(
        "--seed", type=argtypes.non_negative_int, default=0, help="seeds the split, the weights and the shuffles (default: 0)"
    )


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a network and report held-out results",
        description=(
            "Train a feedforward network on a built-in data set or a file and report the cost and accuracy "
            "on a held-out test split. Features are standardized with the training split's statistics; "
            "a saved model has that scaling folded into its first layer, so it takes raw features."
        ),
    )
    _add_data_options(parser, default="digits")
    parser.add_argument(
        "--val-size",
        type=argtypes.fraction_or_zero,
        default=0.1,
        help="fraction of the training split used for validation (default: 0.1)",
    )
    net = parser.add_argument_group("network")
    net.add_argument(
        "--hidden", type=argtypes.layer_sizes, default=(128, 64), help="hidden layer sizes, e.g. 128,64 (default), or none"
    )
    net.add_argument(
        "--activation", default="relu", help="hidden activation: relu, tanh, sigmoid, linear (default: relu)"
    )
    net.add_argument(
        "--output", default=None, help="output activation (default: softmax, sigmoid or linear from the task)"
    )
    net.add_argument("--loss", default=None, help="mse, bce or cce (default: from the task)")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=argtypes.positive_int, default=30, help="(default: 30)")
    fit.add_argument("--batch-size", type=argtypes.positive_int, default=32, help="(default: 32)")
    fit.add_argument("--optimizer", default="adam", help=f"{', '.join(OPTIMIZERS.names())} (default: adam)")
    fit.add_argument("--lr", type=argtypes.positive_float, default=None, help="learning rate (default: the optimizer's)")
    fit.add_argument("--l2", type=argtypes.non_negative_float, default=0.0, help="L2 penalty λ (default: 0)")
    fit.add_argument(
        "--patience", type=argtypes.positive_int, default=None, help="stop after this many epochs without improvement"
    )
    _add_backend_options(parser, dtype=True)
    out = parser.add_argument_group("output")
    out.add_argument(
        "--save",
        metavar="MODEL.npz",
        default=None,
        help="write the trained model here, with its task, feature and class names",
    )
    out.add_argument(
        "--plot", metavar="CURVES.png", default=None, help="write the cost/accuracy curves here (needs matplotlib)"
    )
    out.add_argument("--overwrite", action="store_true", help="replace existing --save/--plot files")
    out.add_argument("--quiet", action="store_true", help="no progress bar; one result line instead of the table")
    parser.set_defaults(func=run_train)
    return parser


@dataclass
class _Split:
    """The rows of one training run: fit / validation / test parts, raw and scaled."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    x_scaler: Standardizer
    y_scaler: Standardizer | None

    def scaled(self, X: np.ndarray, y: np.ndarray, net: Network) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) standardized as the network trains on them, y in the loss's form."""
        y = y if self.y_scaler is None else self.y_scaler.transform(y)
        return self.x_scaler.transform(X), _encode_targets(y, net)


def _head(data: Dataset, output: str | None, loss: str | None) -> tuple[str, str, int]:
    """(output activation, loss, n_out) from the task and the --output/--loss choices."""
    loss_name = None if loss is None else get_loss(loss).name
    out_name = None if output is None else get_activation(output).name
    if data.classes is None:
        loss_name = loss_name or "mse"
        if loss_name != "mse":
            msg = f"--loss {loss} needs class labels, but the target of {data.name} is numeric (regression)"
            raise CommandError(msg, hint="use --loss mse, or --task classification to read the target as labels")
        return out_name or "linear", loss_name, data.n_targets
    if loss_name is None:
        loss_name = _LOSS_FOR_OUTPUT.get(
            out_name or "", "binary_crossentropy" if data.task == "binary" else "categorical_crossentropy"
        )
    if loss_name == "mse":
        msg = f"--loss mse is for regression, but the target of {data.name} holds class labels"
        raise CommandError(msg, hint="use --loss cce or bce, or --task regression to read the target as numbers")
    k = len(data.classes)
    n_out = 1 if loss_name == "binary_crossentropy" and k == 2 else k
    return out_name or _OUTPUT_FOR_LOSS[loss_name], loss_name, n_out


def _split(data: Dataset, args: argparse.Namespace, scale_target: bool) -> _Split:
    classify = data.classes is not None
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=args.test_size, seed=args.seed, stratify=classify
    )
    X_val = y_val = None
    if args.val_size:
        X_train, X_val, y_train, y_val = train_test_split(
            X_train, y_train, test_size=args.val_size, seed=args.seed, stratify=classify
        )
    return _Split(
        X_train,
        y_train,
        X_val,
        y_val,
        X_test,
        y_test,
        Standardizer.fit(X_train),
        Standardizer.fit(y_train) if scale_target else None,
    )


def _build_network(data: Dataset, args: argparse.Namespace, backend: Backend) -> Network:
    output, loss, n_out = _head(data, args.output, args.loss)
    sizes = (data.n_features, *args.hidden)
    layers = [Dense(a, b, activation=args.activation) for a, b in itertools.pairwise(sizes)]
    layers.append(Dense(sizes[-1], n_out, activation=output))
    return Network(layers, loss=loss, backend=backend, dtype=args.dtype, seed=args.seed)


def _optimizer(name: str, lr: float | None) -> Any:
    cls = OPTIMIZERS.get(name)
    return cls() if lr is None else cls(lr)


def fold_standardization(net: Network, x_scaler: Standardizer, y_scaler: Standardizer | None = None) -> None:
    """Fold input (and output) standardization into the first (and last) layer, so
    that ``net`` takes raw features and returns targets in their own units.

    With x̃ = (x − μ)/s, P1 (5) gives Z^[1] = W (x − μ)/s + b = W' x + b' with
    W' = W diag(1/s) and b' = b − W' μ. With ỹ = (y − ν)/t predicted by a linear
    output, y = t ỹ + ν gives W^[L]' = diag(t) W^[L] and b^[L]' = t b^[L] + ν.
    The arithmetic is done in float64 on the host, then cast to the network's dtype.

    Raises
    ------
    ValueError
        ``y_scaler`` given for an output layer that is not linear (the scaling
        would not commute with its activation).
    """
    weights = [np.asarray(w, dtype=np.float64) for w in net.get_weights()]
    W, b = weights[0], weights[1]
    weights[0] = W / x_scaler.scale[np.newaxis, :]
    weights[1] = b - weights[0] @ x_scaler.mean[:, np.newaxis]
    if y_scaler is not None:
        if net.layers[-1].activation.name != "linear":
            msg = f"target scaling folds only into a linear output layer, not {net.layers[-1].activation.name}"
            raise ValueError(msg)
        weights[-2] = y_scaler.scale[:, np.newaxis] * weights[-2]
        weights[-1] = y_scaler.scale[:, np.newaxis] * weights[-1] + y_scaler.mean[:, np.newaxis]
    net.set_weights(weights)


def _prepare_train(args: argparse.Namespace) -> tuple[Dataset, Network, _Split, Any]:
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path is not None:
            _check_new_file(path, args.overwrite, option)
    if args.plot is not None:
        _require_matplotlib()
    backend = _select_backend(args.backend, args.device)
    with _usage():
        data = load_dataset(args.dataset, target=args.target, task=args.task, seed=args.seed)
        net = _build_network(data, args, backend)
        split = _split(data, args, scale_target=data.classes is None and net.layers[-1].activation.name == "linear")
        optimizer = _optimizer(args.optimizer, args.lr)
    return data, net, split, optimizer


def run_train(args: argparse.Namespace) -> int:
    """``ffnn train``: returns the exit status."""
    data, net, split, optimizer = _prepare_train(args)
    X_fit, y_fit = split.scaled(split.X_fit, split.y_fit, net)
    validation = None if split.X_val is None else split.scaled(split.X_val, split.y_val, net)
    stopper = None
    if args.patience is not None:
        from .training import EarlyStopping

        stopper = EarlyStopping(patience=args.patience, monitor="val_cost" if validation else "train_cost")
    start = time.perf_counter()
    history = net.fit(
        X_fit,
        y_fit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=optimizer,
        l2=args.l2,
        validation_data=validation,
        early_stopping=stopper,
        verbose=not args.quiet,
    )
    seconds = time.perf_counter() - start
    if history.stop_reason == "diverged":
        msg = f"training diverged in epoch {history.epochs + 1} (a cost or weight became infinite or NaN)"
        raise CommandError(msg, hint="try a smaller --lr, a larger --batch-size or --dtype float64", code=EXIT_FAILURE)
    fold_standardization(net, split.x_scaler, split.y_scaler)
    results = {
        "train": net.evaluate(split.X_fit, _encode_targets(split.y_fit, net)),
        "test": net.evaluate(split.X_test, _encode_targets(split.y_test, net)),
    }
    if args.save is not None:
        net.metadata = _data_record(data)
        net.save(args.save, include_optimizer=False, overwrite=True)  # --overwrite was checked up front
    if args.plot is not None:
        _plot(history, args.plot, f"{data.name}: {_describe(net)}")
    if args.quiet:
        test = results["test"]
        accuracy = "" if test["accuracy"] is None else f" accuracy={test['accuracy']:.4f}"
        print(f"test cost={test['cost']:.6g}{accuracy}")
    else:
        _print_summary(data, net, split, history, seconds, results, args)
    return EXIT_OK


def _data_record(data: Dataset) -> dict[str, Any]:
    """What a saved model keeps of its data (its metadata): the task ("binary",
    "multiclass" or "regression"), the feature names and, for classifiers, the class
    names in output order."""
    record: dict[str, Any] = {"task": data.task, "feature_names": list(data.feature_names)}
    if data.classes is not None:
        record["classes"] = list(data.classes)
    return record


def _describe(net: Network) -> str:
    sizes = "-".join(str(n) for n in (net.n_in, *(la.n_out for la in net.layers)))
    hidden = net.layers[0].activation.name if len(net.layers) > 1 else ""
    return f"{sizes} {hidden + ' → ' if hidden else ''}{net.layers[-1].activation.name}, {net.loss.name}"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _print_summary(
    data: Dataset,
    net: Network,
    split: _Split,
    history: Any,
    seconds: float,
    results: dict[str, dict[str, float | None]],
    args: argparse.Namespace,
) -> None:
    n_val = 0 if split.X_val is None else split.X_val.shape[0]
    classes = f", {len(data.classes)} classes" if data.classes else ""
    rows = [
        (
            "data",
            f"{data.name}: {split.X_fit.shape[0]} train / {n_val} validation / {split.X_test.shape[0]} test, {data.n_features} features{classes}",
        ),
        ("network", _describe(net)),
        ("backend", net.backend.name),
        ("device", net.backend.device_name),
        ("dtype", net.dtype),
        ("parameters", f"{net.n_params:,}"),
        ("epochs", f"{history.epochs} of {args.epochs} ({_stop_reason(net, history)})"),
        ("time", f"{seconds:.2f} s"),
    ]
    print(_table(rows))
    print()
    metrics = [("", "cost", "accuracy")]
    for part in ("train", "test"):
        value = results[part]
        accuracy = "-" if value["accuracy"] is None else f"{value['accuracy']:.4f}"
        metrics.append((part, f"{value['cost']:.6g}", accuracy))
    print(_table(metrics))
    written = [f"{what} written to {path}" for what, path in (("model", args.save), ("curves", args.plot)) if path]
    if written:
        print("\n" + "\n".join(written))


def _stop_reason(net: Network, history: Any) -> str:
    if history.stop_reason == "early_stopping":
        return f"early stopping; weights of epoch {net.training_state.best_epoch} kept"
    return history.stop_reason.replace("_", " ")


def _plot(history: Any, path: str, title: str) -> None:
    """Write a PNG of the train/validation cost (and accuracy) per epoch, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("cost", history.train_cost, history.val_cost)]
    if history.train_accuracy:
        panels.append(("accuracy", history.train_accuracy, history.val_accuracy))
    figure = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    FigureCanvasAgg(figure)
    epochs = np.arange(1, history.epochs + 1)
    for k, (name, train, validation) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), k + 1)
        axes.plot(epochs, train, marker=".", label="train")
        if validation:
            axes.plot(epochs, validation, marker=".", label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    write_atomically(path, lambda handle: figure.savefig(handle, format="png", dpi=100))


# ---------------------------------------------------------------------- evaluate and predict
def _add_model_command(
    subparsers: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    options: Callable[[argparse.ArgumentParser], None],
    **texts: str,
) -> argparse.ArgumentParser:
    """Register ``ffnn NAME MODEL``: a command on a saved model with its own ``options``,
    then the backend options."""
    parser = subparsers.add_parser(name, **texts)
    parser.add_argument("model", metavar="MODEL", help="a model file written by ffnn train --save")
    options(parser)
    _add_backend_options(parser, dtype=False)
    parser.set_defaults(func=run)
    return parser


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn evaluate``."""
    return _add_model_command(
        subparsers,
        "evaluate",
        run_evaluate,
        _evaluate_options,
        help="cost, accuracy and confusion matrix of a saved model on a data set",
        description=(
            "Evaluate a saved model on a data set (all of it, or the train/test part of the split "
            "`ffnn train` makes with the same --test-size and --seed). Class labels are matched to the "
            "model's classes by name when it was saved with them (ffnn train records them), otherwise to "
            "its outputs in sorted order. --task auto reads the target as the model's task."
        ),
    )


def _evaluate_options(parser: argparse.ArgumentParser) -> None:
    _add_data_options(parser, default=None)
    parser.add_argument(
        "--split", choices=("all", "train", "test"), default="all", help="which rows to evaluate (default: all)"
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """``ffnn evaluate``: returns the exit status."""
    net = _load_model(args.model, args.backend, args.device)
    with _usage():
        data = load_dataset(args.dataset, target=args.target, task=_saved_task(args.task, net), seed=args.seed)
        outputs, classes = _match_classes(data, net, args.model)
        X, y = data.X, data.y
        if args.split != "all":
            parts = train_test_split(X, y, test_size=args.test_size, seed=args.seed, stratify=data.classes is not None)
            X, y = (parts[0], parts[2]) if args.split == "train" else (parts[1], parts[3])
        net.inputs(X[:1])  # the feature count, reported as a usage error
    if outputs is not None:
        y = outputs[y]
    result = net.evaluate(X, _encode_targets(y, net))
    print(f"model     {args.model}: {_describe(net)} ({net.backend.name} on {net.backend.device_name})")
    print(f"data      {data.name} ({args.split}): {X.shape[0]} examples")
    print(f"cost      {result['cost']:.6g}")
    if result["accuracy"] is not None and classes is not None:
        print(f"accuracy  {result['accuracy']:.4f}")
        print("\nconfusion matrix (rows: true class, columns: predicted class)")
        print(_confusion_table(y, _predicted_classes(net, X), classes))
    return EXIT_OK


def _predicted_classes(net: Network, X: np.ndarray) -> np.ndarray:
    """Class indices: the most probable output (one sigmoid: p > 0.5)."""
    probabilities = net.backend.to_numpy(net.predict_proba(X))
    if net.n_out == 1:
        return (probabilities[:, 0] > 0.5).astype(np.int64)
    return np.argmax(probabilities, axis=1)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts C[i, j] of examples of true class i predicted as class j, shape (k, k), int64."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> str:
    counts = confusion_matrix(y_true, y_pred, len(classes))
    rows = [("", *classes)] + [(name, *(str(c) for c in row)) for name, row in zip(classes, counts)]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn predict``."""
    return _add_model_command(
        subparsers,
        "predict",
        run_predict,
        _predict_options,
        help="predictions of a saved model for new data (CSV or .npy)",
        description=(
            "Read examples (a CSV file with a header, .npy or .npz), write one prediction per row: the "
            "class name for classifiers saved with class names (ffnn train records them), else the class "
            "index (or, with --proba, the class probabilities), the predicted values for regression."
        ),
    )


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="FILE", help=".csv, .npy or .npz")
    parser.add_argument("--output", required=True, metavar="FILE", help=".csv or .npy")
    parser.add_argument(
        "--target", default=None, metavar="COLUMN", help="a CSV column to ignore (the labels of a labelled file)"
    )
    parser.add_argument("--proba", action="store_true", help="write class probabilities instead of classes")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run_predict(args: argparse.Namespace) -> int:
    """``ffnn predict``: returns the exit status."""
    suffix = os.path.splitext(args.output)[1].lower()
    if suffix not in (".csv", ".npy"):
        raise CommandError(f"--output {args.output}: unsupported file type {suffix or '(none)'!r}; use .csv or .npy")
    _check_new_file(args.output, args.overwrite, "--output")
    net = _load_model(args.model, args.backend, args.device)
    with _usage():
        X, _ = read_inputs(args.input, drop=args.target)
        net.inputs(X[:1])
        if args.proba and net.task == "regression":
            raise CommandError(f"--proba needs a classifier, but {args.model} is a regression model")
    values, header = _predictions(net, X, args.proba, _model_classes(net, args.model))
    if suffix == ".npy":
        array = values[:, 0] if values.shape[1] == 1 else values
        write_atomically(args.output, lambda handle: np.save(handle, array, allow_pickle=False))
    else:
        write_atomically(args.output, lambda handle: _write_csv(handle, header, values))
    print(f"{X.shape[0]} predictions written to {args.output}")
    return EXIT_OK


def _predictions(
    net: Network, X: np.ndarray, proba: bool, classes: tuple[str, ...] | None
) -> tuple[np.ndarray, list[str]]:
    """(values (m, k), column names): regression outputs, class probabilities, or the
    predicted class (its name when the model has class names, else its index)."""
    if net.task == "regression":
        values = net.backend.to_numpy(net.predict(X))
        return values, ["prediction"] if values.shape[1] == 1 else [f"prediction{j}" for j in range(values.shape[1])]
    if proba:
        values = net.backend.to_numpy(net.predict_proba(X))
        if classes is None:
            return values, [f"p{j}" for j in range(values.shape[1])]
        return values, [f"p({name})" for name in classes[-values.shape[1] :]]  # one sigmoid: p of the second class
    predicted = _predicted_classes(net, X)
    return (predicted if classes is None else np.asarray(classes)[predicted])[:, np.newaxis], ["class"]


def _write_csv(handle: IO[bytes], header: list[str], values: np.ndarray) -> None:
    """A header row, then one row of ``values`` per line: integers as such, floats with
    9 significant digits, strings quoted where CSV needs it."""
    cell = (lambda v: f"{v:.9g}") if values.dtype.kind == "f" else str
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in values.tolist())
    text.flush()
    text.detach()  # the caller syncs and closes the file


# ---------------------------------------------------------------------- info
def add_info_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn info``."""
    parser = subparsers.add_parser(
        "info", help="version, backends and devices", description="Show ffnn's version and every backend's status."
    )
    parser.set_defaults(func=run_info)
    return parser


def run_info(args: argparse.Namespace) -> int:
    """``ffnn info``: returns the exit status."""
    from . import __version__

    print(f"ffnn {__version__} (Python {platform.python_version()}, NumPy {np.__version__})")
    print()
    rows = [("backend", "status", "version", "devices")]
    notes = []
    for name in (n for n in KNOWN_BACKENDS if n != "auto"):
        status = backend_status(name)
        state = "usable" if status.usable else ("no device" if status.installed else "not installed")
        rows.append((name, state, status.version or "-", ", ".join(status.device_labels) or "-"))
        if not status.installed:
            notes.append(f"{name}: {status.install}")
        elif not status.usable:
            notes.append(f"{name}: {status.reason}")
    print(_table(rows))
    if notes:
        print("\n" + "\n".join(notes))
    try:
        auto = get_backend("auto")
        print(f"\n--backend auto uses {auto.name} on {auto.device_name}")
    except BackendUnavailableError as exc:
        print(f"\n--backend auto: {exc}")
    return EXIT_OK


# ---------------------------------------------------------------------- gradcheck
def add_gradcheck_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn gradcheck``."""
    parser = subparsers.add_parser(
        "gradcheck",
        help="compare backpropagation with finite differences on a small random network",
        description=(
            "Build a random network, draw random inputs and targets, and compare every gradient entry of "
            "backpropagation with the central difference (J(θ+ε) − J(θ−ε)) / 2ε in float64. Prints the "
            "largest relative error per layer. Exit status 0 when all are within --tolerance, 1 otherwise."
        ),
    )
    parser.add_argument(
        "--shape", type=argtypes.network_shape, default=(4, 5, 3), help="layer sizes from inputs to outputs (default: 4,5,3)"
    )
    parser.add_argument("--activation", default="tanh", help="hidden activation (default: tanh)")
    parser.add_argument("--output", default=None, help="output activation (default: the loss's pairing)")
    parser.add_argument("--loss", default="cce", help="mse, bce or cce (default: cce)")
    parser.add_argument("--samples", type=argtypes.positive_int, default=8, help="random examples (default: 8)")
    parser.add_argument("--eps", type=argtypes.positive_float, default=1e-5, help="finite-difference step (default: 1e-5)")
    parser.add_argument(
        "--tolerance", type=argtypes.positive_float, default=1e-6, help="largest accepted relative error (default: 1e-6)"
    )
    parser.add_argument("--seed", type=argtypes.non_negative_int, default=0, help="seeds the weights and the data (default: 0)")
    _add_backend_options(parser, dtype=False)
    parser.set_defaults(func=run_gradcheck)
    return parser


def _random_targets(rng: np.random.Generator, loss: str, m: int, n_out: int) -> np.ndarray:
    if loss == "categorical_crossentropy":
        return rng.integers(0, n_out, size=m)
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(m, n_out)).astype(np.float64)
    return rng.normal(size=(m, n_out))


def run_gradcheck(args: argparse.Namespace) -> int:
    """``ffnn gradcheck``: returns the exit status."""
    backend = _select_backend(args.backend, args.device)
    with _usage():
        loss = get_loss(args.loss).name
        output = get_activation(args.output).name if args.output else _OUTPUT_FOR_LOSS[loss]
        sizes = args.shape
        layers = [Dense(a, b, activation=args.activation) for a, b in itertools.pairwise(sizes[:-1])]
        layers.append(Dense(sizes[-2], sizes[-1], activation=output))
        net = Network(layers, loss=loss, backend=backend, dtype="float64", seed=args.seed)
    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(args.samples, sizes[0]))
    result = gradcheck(net, X, _random_targets(rng, loss, args.samples, sizes[-1]), eps=args.eps)
    print(
        f"gradcheck: {_describe(net)}, {args.samples} examples, {backend.name} on {backend.device_name}, float64, eps={args.eps:g}"
    )
    rows = [("layer", "W", "b", "max relative error")]
    for l, (layer, error) in enumerate(zip(net.layers, result.per_layer), start=1):
        rows.append((str(l), f"{layer.n_out}x{layer.n_in}", f"{layer.n_out}x1", f"{error:.3e}"))
    print(_table(rows))
    passed = result.max_error <= args.tolerance
    verdict = "PASS" if passed else "FAIL"
    print(
        f"{verdict}: {result.n_checked} partial derivatives, largest error {result.max_error:.3e} (tolerance {args.tolerance:g})"
    )
    return EXIT_OK if passed else EXIT_FAILURE


# ---------------------------------------------------------------------- entry point
_COMMANDS = (add_train_parser, add_evaluate_parser, add_predict_parser, add_info_parser, add_gradcheck_parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``ffnn`` argument parser: the built-in subcommands, then each importable
    module of :data:`PLUGINS`."""
    from . import __version__

    parser = _Parser(
        prog="ffnn",
        description="Train and use feedforward neural networks on NumPy, CuPy, PyTorch, JAX or array-api-strict.",
        epilog="Exit status: 0 success, 1 runtime failure, 2 bad usage. `ffnn COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subparsers)
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_parser(subparsers).set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ffnn`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on a runtime failure (training diverged, a failed gradient
        check, an error while running), 2 on bad usage (unknown options or data set,
        missing or malformed files, a GPU asked for where none is usable). Errors are
        printed as one or two lines on stderr, without a traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 after a usage error, 0 after --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    prefix = f"ffnn {args.command}"
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"{prefix}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"{prefix}: hint: {exc.hint}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is a readable line, never a traceback
        print(f"{prefix}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
