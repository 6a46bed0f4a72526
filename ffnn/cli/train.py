"""``ffnn train``: train a network on a data set and report held-out results."""

from __future__ import annotations

import argparse
import io
import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _argtypes as argtypes
from ..activations import get_activation
from ..datasets import BUILTIN_DATASETS, TASKS, Dataset, load_dataset, load_npy_rows, split_rows, train_test_split
from ..layers import Dense
from ..losses import get_loss
from ..metrics import regression_report
from ..network import Network
from ..optimizers import OPTIMIZERS, get_optimizer
from ..preprocessing import ScaledRows, Standardizer, fold_standardization
from ..tasks import head_for
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    add_backend_options,
    check_network_size,
    check_new_file,
    describe,
    select_backend,
    table,
    usage,
)
from ._data import check_range, encode_targets
from ._progress import Progress

PLOT_HINT = "install it with: pip install 'ffnn[plot]'"


def add_data_options(parser: argparse.ArgumentParser, *, default: str | None, seed_help: str) -> None:
    """--dataset, --target, --task, --test-size, --seed (train and evaluate)."""
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
        help="target of a file: CSV column name (default: target), .npy column index (default: -1), "
        ".npz array (default: y)",
    )
    group.add_argument("--task", choices=TASKS, default="auto", help="how to read the target (default: auto)")
    group.add_argument("--test-size", type=argtypes.fraction, default=0.2, help="held-out fraction (default: 0.2)")
    group.add_argument("--seed", type=argtypes.non_negative_int, default=0, help=seed_help)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a network and report held-out results",
        description=(
            "Train a feedforward network on a built-in data set or a file and report the cost and accuracy "
            "(regression: R², MAE and RMSE in the target's units) on the training, validation and held-out "
            "test rows. Features are standardized with the training split's statistics; a saved model has "
            "that scaling folded into its first layer, so it takes raw features. Progress: a bar on a "
            "terminal, one line per epoch when the output is piped or logged."
        ),
    )
    add_data_options(parser, default="digits", seed_help="seeds the split, the weights and the shuffles (default: 0)")
    parser.add_argument(
        "--val-size",
        type=argtypes.fraction_or_zero,
        default=0.1,
        help="fraction of the training split used for validation (default: 0.1)",
    )
    net = parser.add_argument_group("network")
    net.add_argument(
        "--hidden",
        type=argtypes.layer_sizes,
        default=(128, 64),
        help="hidden layer sizes, e.g. 128,64 (default), or none",
    )
    net.add_argument(
        "--activation",
        default="relu",
        help=(
            "hidden activation: relu, tanh, sigmoid, linear, leaky_relu, elu, softplus, silu, gelu; "
            "leaky_relu/elu take α as leaky_relu(alpha=0.2) (default: relu)"
        ),
    )
    net.add_argument(
        "--output-activation",
        default=None,
        metavar="NAME",
        help="output layer activation (default: softmax, sigmoid or linear from the task)",
    )
    net.add_argument("--loss", default=None, help="mse, bce or cce (default: from the task)")
    net.add_argument(
        "--dropout",
        type=_dropout,
        default=None,
        metavar="P|L:P,...",
        help=(
            "inverted dropout while training (MATH.md §8), given as KEEP probabilities in (0, 1]: P for every "
            "hidden layer, or layer:P pairs such as 0:0.9,1:0.5 (layer 0 is the input). Saved with the model; "
            "prediction never drops (default: none)"
        ),
    )
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=argtypes.positive_int, default=30, help="(default: 30)")
    fit.add_argument("--batch-size", type=argtypes.positive_int, default=32, help="(default: 32)")
    fit.add_argument("--optimizer", default="adam", help=f"{', '.join(OPTIMIZERS.names())} (default: adam)")
    fit.add_argument("--learning-rate", type=argtypes.positive_float, default=None, help="(default: the optimizer's)")
    fit.add_argument("--lr", dest="learning_rate", type=argtypes.positive_float, help=argparse.SUPPRESS)
    fit.add_argument("--l2", type=argtypes.non_negative_float, default=0.0, help="L2 penalty λ (default: 0)")
    fit.add_argument(
        "--patience", type=argtypes.positive_int, default=None, help="stop after this many epochs without improvement"
    )
    fit.add_argument(
        "--distributed",
        nargs="?",
        const="auto",
        default=None,
        choices=("auto", "mpi", "nccl"),
        help="data-parallel training over the ranks of `mpiexec -n N ffnn train --distributed ...` "
        "(--batch-size is the global batch; rank 0 prints and saves; default transport: auto)",
    )
    fit.add_argument(
        "--compile",
        action="store_true",
        help="compile the whole training step (jax: jax.jit, torch: torch.compile; needs --backend jax or torch)",
    )
    add_backend_options(parser, dtype=True)
    out = parser.add_argument_group("output")
    out.add_argument(
        "--save",
        metavar="MODEL.npz",
        default=None,
        help="write the trained model here, with its task, feature and class names",
    )
    out.add_argument(
        "--plot", metavar="CURVES.png", default=None, help="write the learning curves here (needs matplotlib)"
    )
    out.add_argument("--log-cost", action="store_true", help="plot the cost (or RMSE) on a logarithmic axis")
    out.add_argument("--overwrite", action="store_true", help="replace existing --save/--plot files")
    out.add_argument("--quiet", action="store_true", help="no progress; one result line instead of the table")
    parser.set_defaults(func=run)
    parser.see_also = {"--output": ("--save",), "--model": ("--save",)}  # predict's output file is train's --save
    return parser


def _dropout(text: str) -> float | dict[int, float]:
    """``0.5`` → 0.5; ``0:0.9,2:0.5`` → {0: 0.9, 2: 0.5} (checked against the network later)."""
    try:
        if ":" not in text:
            return float(text)
        pairs = [part.split(":") for part in text.split(",")]
        return {int(l): float(p) for l, p in pairs}
    except ValueError:
        msg = f"{text!r} is not a keep probability P or layer:P pairs such as 0:0.9,1:0.5"
        raise argparse.ArgumentTypeError(msg) from None


@dataclass
class Split:
    """The rows of one training run: fit / validation / test parts, raw and scaled."""

    X_fit: Any  # numpy arrays, or ScaledRows of a .npy file (read by batches)
    y_fit: np.ndarray
    X_val: Any
    y_val: np.ndarray | None
    X_test: Any
    y_test: np.ndarray
    x_scaler: Standardizer
    y_scaler: Standardizer | None

    def scaled(self, X: np.ndarray, y: np.ndarray, net: Network) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) standardized as the network trains on them, y in the loss's form."""
        y = y if self.y_scaler is None else self.y_scaler.transform(y)
        if isinstance(X, ScaledRows):  # scaled batch by batch as they are read
            return X.scaled(self.x_scaler), encode_targets(y, net)
        return self.x_scaler.transform(X), encode_targets(y, net)

    def parts(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(name, X, y) of train, validation (when there is one) and test."""
        found = [("train", self.X_fit, self.y_fit)]
        if self.X_val is not None and self.y_val is not None:
            found.append(("validation", self.X_val, self.y_val))
        return [*found, ("test", self.X_test, self.y_test)]


def _head(data: Dataset, output: str | None, loss: str | None) -> tuple[str, str, int]:
    """(output activation, loss, n_out) from the task and the --output-activation/--loss choices."""
    loss_name = None if loss is None else get_loss(loss).name
    out_name = None if output is None else get_activation(output).name
    task = "regression" if data.classes is None else ("binary" if data.task == "binary" else "multiclass")
    n = data.n_targets if data.classes is None else len(data.classes)
    try:
        return head_for(task, n, output=out_name, loss=loss_name)
    except ValueError as exc:
        if task == "regression":
            msg = f"--loss {loss} needs class labels, but the target of {data.name} is numeric (regression)"
            hint = "use --loss mse, or --task classification to read the target as labels"
        else:
            msg = f"--loss mse is for regression, but the target of {data.name} holds class labels"
            hint = "use --loss cce or bce, or --task regression to read the target as numbers"
        raise CommandError(msg, hint=hint) from exc


def _split(data: Dataset, args: argparse.Namespace, scale_target: bool) -> Split:
    classify = data.classes is not None
    if isinstance(data.X, ScaledRows):
        return _split_rows(data, data.X, args, scale_target)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=args.test_size, seed=args.seed, stratify=classify
    )
    X_val = y_val = None
    if args.val_size:
        X_train, X_val, y_train, y_val = train_test_split(
            X_train, y_train, test_size=args.val_size, seed=args.seed, stratify=classify
        )
    return Split(
        X_train,
        y_train,
        X_val,
        y_val,
        X_test,
        y_test,
        Standardizer.fit(X_train, names=data.feature_names),
        Standardizer.fit(y_train) if scale_target else None,
    )


def _split_rows(data: Dataset, X: ScaledRows, args: argparse.Namespace, scale_target: bool) -> Split:
    """:func:`_split` for a .npy file read by rows: the same shuffles and cuts as index
    arrays (no copies), the feature statistics streamed over the training rows in their
    order (identical on every rank)."""
    classify = data.classes is not None
    train, test = split_rows(X.shape[0], data.y, test_size=args.test_size, seed=args.seed, stratify=classify)
    val = None
    if args.val_size:
        kept, held = split_rows(train.size, data.y[train], test_size=args.val_size, seed=args.seed, stratify=classify)
        train, val = train[kept], train[held]
    X_fit = X.select(train)
    return Split(
        X_fit,
        data.y[train],
        None if val is None else X.select(val),
        None if val is None else data.y[val],
        X.select(test),
        data.y[test],
        Standardizer.fit_rows(X_fit, names=data.feature_names),
        Standardizer.fit(data.y[train]) if scale_target else None,
    )


def _load(args: argparse.Namespace) -> Dataset:
    """The data set; a .npy file is read by rows (never loaded whole)."""
    if str(args.dataset).lower().endswith(".npy"):
        return load_npy_rows(args.dataset, target=args.target, task=args.task)
    return load_dataset(args.dataset, target=args.target, task=args.task, seed=args.seed)


def _build_network(data: Dataset, args: argparse.Namespace, backend: Any) -> Network:
    output, loss, n_out = _head(data, args.output_activation, args.loss)
    sizes = (data.n_features, *args.hidden, n_out)
    itemsize = np.dtype(args.dtype).itemsize
    check_network_size(sizes, min(args.batch_size, data.n_samples), itemsize, copies=4, option="--hidden")
    layers = [Dense(a, b, activation=args.activation) for a, b in itertools.pairwise(sizes[:-1])]
    layers.append(Dense(sizes[-2], n_out, activation=output))
    return Network(layers, loss=loss, backend=backend, dtype=args.dtype, seed=args.seed, dropout=args.dropout)


def _prepare(args: argparse.Namespace) -> tuple[Dataset, Network, Split, Any]:
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path is not None:
            check_new_file(path, args.overwrite, option)
    if args.plot is not None:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise CommandError("--plot needs matplotlib, which is not installed", hint=PLOT_HINT)
    backend = select_backend(args.backend, args.device, args.threads)
    with usage():
        data = _load(args)
        check_range(data.X, args.dtype, data.name)
        net = _build_network(data, args, backend)
        split = _split(data, args, scale_target=data.classes is None and net.layers[-1].activation.name == "linear")
        options = {} if args.learning_rate is None else {"learning_rate": args.learning_rate}
        optimizer = get_optimizer(args.optimizer, **options)
    return data, net, split, optimizer


def _rmse_in_target_units(split: Split, fit: tuple[np.ndarray, np.ndarray], validation: Any) -> Any:
    """extra(net) for :class:`Progress`: train and validation RMSE in the target's units."""
    y_scaler = split.y_scaler

    def extra(net: Network) -> dict[str, float]:
        parts: list[tuple[str, Any, Any]] = [("train_rmse", fit[0], split.y_fit)]
        if validation is not None:
            parts.append(("val_rmse", validation[0], split.y_val))
        found = {}
        for key, X, y in parts:
            predicted = net.backend.to_numpy(net.predict(X))
            if y_scaler is not None:
                predicted = y_scaler.inverse(predicted)
            found[key] = regression_report(y, predicted)["rmse"]
        return found

    return extra


def run(args: argparse.Namespace) -> int:
    """``ffnn train``: returns the exit status."""
    data, net, split, optimizer = _prepare(args)
    comm = _communicator(args, net)  # every rank loads, splits and standardizes the same data (same seed)
    if not comm.is_root:  # only rank 0 prints and writes files
        args.quiet, args.plot, args.save = True, None, None
    regression = data.classes is None
    with usage():
        fit = split.scaled(split.X_fit, split.y_fit, net)
        validation = None
        if split.X_val is not None and split.y_val is not None:
            validation = split.scaled(split.X_val, split.y_val, net)
    progress = None
    if not args.quiet or args.plot is not None:
        extra = _rmse_in_target_units(split, fit, validation) if regression else None
        progress = Progress(args.epochs, extra=extra, hide_cost=regression)
        if args.quiet:
            progress.live, progress.out = False, io.StringIO()  # only the curves are wanted
    stopper = None
    if args.patience is not None:
        from ..training import EarlyStopping

        stopper = EarlyStopping(patience=args.patience, monitor="val_cost" if validation else "train_cost")
    if args.compile and not net.backend.can_compile:
        msg = f"--compile needs a backend with a compiler, but this network runs on {net.backend.name}"
        raise CommandError(msg, hint="add --backend jax or --backend torch, or drop --compile")
    start = time.perf_counter()
    history = net.fit(
        *fit,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=optimizer,
        l2=args.l2,
        validation_data=validation,
        early_stopping=stopper,
        callbacks=[] if progress is None else [progress],
        verbose=False,
        distributed=None if args.distributed is None else comm,
        compile=bool(args.compile),
    )
    seconds = time.perf_counter() - start
    if history.stop_reason == "diverged":
        msg = f"training diverged in epoch {history.epochs + 1} (a cost or weight became infinite or NaN)"
        hint = "try a smaller --learning-rate, a larger --batch-size or --dtype float64"
        raise CommandError(msg, hint=hint, code=EXIT_FAILURE)
    fold_standardization(net, split.x_scaler, split.y_scaler)
    results = {name: _results(net, X, y, regression) for name, X, y in split.parts()}
    if args.save is not None:
        net.metadata = data_record(data)
        net.save(args.save, include_optimizer=False, overwrite=True)  # --overwrite was checked up front
    best = _best_epoch(net, history)
    if args.plot is not None:
        from ._report import plot_curves

        plot_curves(history, progress, args.plot, f"{data.name}: {describe(net)}", best, args.log_cost, regression)
    if not comm.is_root:
        return EXIT_OK
    if args.quiet:
        test = results["test"]
        extras = "".join(f" {k}={v:.4g}" for k, v in test.items() if k != "cost" and v is not None)
        print(f"test cost={test['cost']:.6g}{extras}")
    else:
        _print_summary(data, net, split, history, seconds, results, args, best, comm.describe())
    return EXIT_OK


def _communicator(args: argparse.Namespace, net: Network) -> Any:
    """The communicator of ``--distributed`` (one process without it)."""
    from ..distributed import SingleProcess, get_communicator

    if getattr(args, "distributed", None) is None:
        return SingleProcess(net.backend)
    try:
        return get_communicator(args.distributed, backend=net.backend)
    except (ImportError, ValueError) as exc:
        raise CommandError(str(exc), hint="see `ffnn info` for the transports available here") from exc


def _results(net: Network, X: np.ndarray, y: np.ndarray, regression: bool) -> dict[str, float | None]:
    """Cost and accuracy, or for regression cost, R², MAE and RMSE in the target's units."""
    found = dict(net.evaluate(X, encode_targets(y, net)))
    if regression:
        found.pop("accuracy", None)
        found.update(regression_report(y, net.backend.to_numpy(net.predict(X))))
    return found


def data_record(data: Dataset) -> dict[str, Any]:
    """What a saved model keeps of its data (its metadata): the task ("binary",
    "multiclass" or "regression"), the feature names and, for classifiers, the class
    names in output order."""
    record: dict[str, Any] = {"task": data.task, "feature_names": list(data.feature_names)}
    if data.classes is not None:
        record["classes"] = list(data.classes)
    return record


def _best_epoch(net: Network, history: Any) -> int | None:
    """The epoch whose weights early stopping restored, or None."""
    if history.stop_reason != "early_stopping":
        return None
    state = getattr(net, "training_state", None)
    return getattr(state, "best_epoch", None) or None


def _print_summary(
    data: Dataset,
    net: Network,
    split: Split,
    history: Any,
    seconds: float,
    results: dict[str, dict[str, float | None]],
    args: argparse.Namespace,
    best: int | None,
    transport: str = "single process (no communication)",
) -> None:
    n_val = 0 if split.X_val is None else split.X_val.shape[0]
    classes = f", {len(data.classes)} classes" if data.classes else ""
    reason = history.stop_reason.replace("_", " ")
    if best is not None:
        reason = f"early stopping; weights of epoch {best} kept"
    sizes = f"{split.X_fit.shape[0]} train / {n_val} validation / {split.X_test.shape[0]} test"
    rows = [
        ("data", f"{data.name}: {sizes}, {data.n_features} features{classes}"),
        ("network", describe(net)),
        ("backend", net.backend.name),
        ("device", net.backend.device_name),
        ("dtype", net.dtype),
        ("transport", transport),
        ("parameters", f"{net.n_params:,}"),
        ("epochs", f"{history.epochs} of {args.epochs} ({reason})"),
        ("time", f"{seconds:.2f} s"),
    ]
    print(table(rows))
    summary = getattr(net, "summary", None)
    if callable(summary):
        print()
        print(summary())
    print()
    if data.classes is None:
        print("regression metrics in the target's units (cost: the loss on those values)")
        head: tuple[str, ...] = ("", "cost", "R²", "MAE", "RMSE")
        keys: tuple[str, ...] = ("cost", "r2", "mae", "rmse")
    else:
        head, keys = ("", "cost", "accuracy"), ("cost", "accuracy")
    metrics: list[tuple[str, ...]] = [head]
    for part, value in results.items():
        metrics.append((part, *("-" if value.get(k) is None else f"{value[k]:.6g}" for k in keys)))
    print(table(metrics))
    written = [f"{what} written to {path}" for what, path in (("model", args.save), ("curves", args.plot)) if path]
    if written:
        print("\n" + "\n".join(written))
