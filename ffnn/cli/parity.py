"""The `ffnn parity` command: train one network on several backends and report how far they drift apart."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from backends import KNOWN_BACKENDS

from .. import _argtypes as argtypes
from ..testing import TRAINING_RTOL, ParityConfig, ParityResult, compare_backends
from ._common import DATA_ERRORS, Parser, add_threads_option, apply_threads, data_error, pipe_guard

__all__ = ["add_parser", "main", "run"]

#: Learning rates the command uses when none is given: large enough that 100 steps
#: move the weights visibly, small enough that the small default network stays stable.
DEFAULT_LEARNING_RATE = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01}

EXIT_OK, EXIT_EXCEEDED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = (
    "Build the same network from the same seed on each backend, train it on the same batches, and "
    "print the largest cost and weight differences from the first backend (the reference) at step 0, "
    "a few intermediate steps and the last. TF32 and other reduced-precision modes of GPU libraries are "
    "switched off for the comparison. Exit status: 0 all within tolerance, 1 a tolerance exceeded, "
    "2 bad usage."
)


def _backend_list(text: str) -> list[str]:
    """'numpy,torch:cuda:0' → ['numpy', 'torch:cuda:0'], each name checked."""
    specs = [part.strip() for part in text.split(",") if part.strip()]
    known = [name for name in KNOWN_BACKENDS if name != "auto"]
    for spec in specs:
        if spec.partition(":")[0].lower() not in known:
            msg = f"unknown backend {spec!r}; known backends: {', '.join(known)}"
            raise argparse.ArgumentTypeError(msg)
    if len(specs) < 2:
        msg = f"list at least two backends, the reference first (e.g. numpy,torch); got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return specs


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=["numpy", "cupy", "torch"],
        help="comma-separated backends, the reference first; NAME or NAME:DEVICE (torch:cpu, torch:cuda:0); "
        "a bare torch or jax uses the GPU when one is usable (default: numpy,cupy,torch)",
    )
    parser.add_argument("--steps", type=argtypes.non_negative_int, default=100, help="training steps (default: 100)")
    parser.add_argument("--dtype", choices=sorted(TRAINING_RTOL), default="float64", help="(default: float64)")
    parser.add_argument("--inputs", type=argtypes.positive_int, default=6, help="input features n^[0] (default: 6)")
    parser.add_argument("--hidden", type=argtypes.layer_sizes, default=(8, 5), help="hidden layer sizes (default: 8,5)")
    parser.add_argument("--outputs", type=argtypes.positive_int, default=3, help="outputs n^[L] (default: 3)")
    parser.add_argument("--activation", default="tanh", help="hidden activation (default: tanh)")
    parser.add_argument(
        "--output-activation", default=None, metavar="NAME", help="output activation (default: the loss's pairing)"
    )
    parser.add_argument("--loss", default="mse", help="mse, bce or cce (default: mse)")
    parser.add_argument("--optimizer", default="sgd", help="sgd, adam or adamw (default: sgd)")
    parser.add_argument(
        "--learning-rate",
        type=argtypes.non_negative_float,
        default=None,
        help="(default: 0.1 for sgd, 0.01 for adam and adamw)",
    )
    parser.add_argument("--lr", dest="learning_rate", type=argtypes.non_negative_float, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=16, help="examples per step (default: 16)")
    parser.add_argument(
        "--seed", type=argtypes.non_negative_int, default=0, help="seed of the initial weights (default: 0)"
    )
    parser.add_argument(
        "--data-seed", type=argtypes.non_negative_int, default=1, help="seed of the batches (default: 1)"
    )
    parser.add_argument("--no-fuse", action="store_true", help="use the general (unfused) output backward path")
    parser.add_argument("--rtol", type=argtypes.non_negative_float, default=None, help="float64: 1e-10, float32: 1e-4")
    parser.add_argument("--atol", type=argtypes.non_negative_float, default=None, help="(default: 0)")
    parser.add_argument(
        "--allow-reduced-precision",
        action="store_true",
        help="leave TF32 and similar GPU modes as they are (to measure their effect)",
    )
    add_threads_option(parser)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``parity`` subcommand on an ``argparse`` subparsers object.

    Sets ``func=run`` as the subcommand's default, so a CLI can dispatch with
    ``args.func(args)``.
    """
    parser = subparsers.add_parser(
        "parity",
        help="check that backends train the same network to the same numbers",
        description=_DESCRIPTION,
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _config(args: argparse.Namespace) -> ParityConfig:
    optimizer = args.optimizer.strip().lower()
    rate = args.learning_rate if args.learning_rate is not None else DEFAULT_LEARNING_RATE.get(optimizer, 0.01)
    return ParityConfig(
        sizes=(args.inputs, *args.hidden, args.outputs),
        activation=args.activation,
        output_activation=args.output_activation,
        loss=args.loss,
        optimizer=optimizer,
        optimizer_kwargs={"learning_rate": rate},
        batch_size=args.batch_size,
        seed=args.seed,
        data_seed=args.data_seed,
        fuse_output=not args.no_fuse,
    )


def _report(result: ParityResult, out: TextIO, allow_reduced_precision: bool) -> None:
    print(f"ffnn parity: {result.config.describe()}", file=out)
    print(
        f"{result.steps} steps in {result.dtype}; reference {result.reference}; per array and step "
        f"max|a - ref| <= atol + rtol * max|ref| with rtol={result.rtol:g}, atol={result.atol:g}; "
        "initial weights must be bit-identical",
        file=out,
    )
    if allow_reduced_precision:
        print("precision: reduced-precision modes (TF32, ...) left as they are", file=out)
    elif result.precision:
        for line in result.precision:
            print(f"precision: {line}", file=out)
    else:
        print("precision: none of these backends has a reduced-precision mode to switch off", file=out)
    print(
        f"reference weights moved by up to {result.reference_change[-1]:.3g} (max|W_k - W_0|); "
        f"cost {result.reference_cost[0]:.6g} at step 0, {result.reference_cost[-1]:.6g} at step {result.steps}",
        file=out,
    )
    print(file=out)
    print(result.summary(), file=out)
    print(file=out)
    failed = [label for label, run in result.backends.items() if not run.passed]
    counts = f"{len(result.backends)} compared, {len(result.skipped)} skipped"
    if failed:
        print(f"FAIL: beyond tolerance: {', '.join(failed)} ({counts})", file=out)
    elif not result.backends:
        print(f"PASS (vacuous): no backend besides the reference could run here ({counts})", file=out)
    else:
        print(f"PASS: all within tolerance ({counts})", file=out)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``ffnn parity`` with parsed arguments; returns the exit status.

    Returns
    -------
    int
        0 when every compared backend stays within the tolerance at every step,
        1 when one does not, 2 for bad usage (an unknown activation, loss or
        optimizer, a network the loss cannot take, a reference backend that cannot
        run here, a backend listed twice).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        config = _config(args)
        apply_threads(getattr(args, "threads", None))
        result = compare_backends(
            args.backends,
            config=config,
            steps=args.steps,
            dtype=args.dtype,
            rtol=args.rtol,
            atol=args.atol,
            allow_reduced_precision=args.allow_reduced_precision,
        )
    except DATA_ERRORS as exc:
        print(f"ffnn parity: error: {data_error(exc).message}", file=err)
        return EXIT_USAGE
    _report(result, out, args.allow_reduced_precision)
    return EXIT_OK if result.passed else EXIT_EXCEEDED


def main(argv: Sequence[str] | None = None) -> int:
    """``ffnn parity`` as a function: parse ``argv`` (default ``sys.argv[1:]``), run, return the exit status."""
    parser = Parser(prog="ffnn parity", description=_DESCRIPTION)
    _add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 after --help
        return int(exc.code or 0)
    with pipe_guard():
        return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
