"""``ffnn gradcheck``: backpropagation against finite differences on a random network."""

from __future__ import annotations

import argparse
import itertools
import re
from typing import Any

import numpy as np

from .. import _argtypes as argtypes
from ..activations import get_activation
from ..explain import explain_gradient
from ..gradcheck import gradcheck
from ..layers import Dense
from ..losses import get_loss
from ..network import Network
from ..tasks import default_output
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_backend_options,
    check_network_size,
    describe,
    select_backend,
    table,
    usage,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
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
        "--shape",
        type=argtypes.network_shape,
        default=None,
        help="layer sizes from inputs to outputs (default: 4,5,3; with --explain 3,4,3,1, seed H's shape)",
    )
    parser.add_argument("--activation", default="tanh", help="hidden activation (default: tanh)")
    parser.add_argument(
        "--output-activation", default=None, metavar="NAME", help="output activation (default: the loss's pairing)"
    )
    parser.add_argument("--loss", default=None, help="mse, bce or cce (default: cce; bce with --explain)")
    parser.add_argument(
        "--explain",
        type=_parameter,
        default=None,
        metavar="PARAM",
        help=(
            "work seed H's chain through for one parameter (MATH.md §7): Wl:row:col for W^[l][row, col] or "
            "bl:row for b^[l][row] (l = 1..L, 0-based row/col, e.g. W2:0:1 or b3:0); prints each factor, "
            "their product, backpropagation and the finite difference. Needs H's architecture: a sigmoid "
            "output with one node and bce"
        ),
    )
    parser.add_argument("--samples", type=argtypes.positive_int, default=8, help="random examples (default: 8)")
    parser.add_argument(
        "--eps", type=argtypes.positive_float, default=1e-5, help="finite-difference step (default: 1e-5)"
    )
    parser.add_argument(
        "--tolerance",
        type=argtypes.positive_float,
        default=1e-6,
        help="largest accepted relative error (default: 1e-6)",
    )
    parser.add_argument(
        "--seed", type=argtypes.non_negative_int, default=0, help="seeds the weights and the data (default: 0)"
    )
    add_backend_options(parser, dtype=False)
    parser.set_defaults(func=run)
    return parser


_PARAMETER = re.compile(r"^\s*([Wb])(\d+)\s*:\s*(\d+)\s*(?::\s*(\d+)\s*)?$")


def _parameter(text: str) -> tuple[str, int, int, int]:
    """``W2:0:1`` → ("W", 2, 0, 1); ``b3:0`` → ("b", 3, 0, 0)."""
    match = _PARAMETER.match(text)
    if match is None or (match[1] == "W") != (match[4] is not None):
        msg = f"{text!r} names no parameter; write Wl:row:col (e.g. W2:0:1) or bl:row (e.g. b3:0), l from 1"
        raise argparse.ArgumentTypeError(msg)
    return match[1], int(match[2]), int(match[3]), int(match[4] or 0)


def _random_targets(rng: np.random.Generator, loss: str, m: int, n_out: int) -> np.ndarray:
    if loss == "categorical_crossentropy":
        return rng.integers(0, n_out, size=m)
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(m, n_out)).astype(np.float64)
    return rng.normal(size=(m, n_out))


def run(args: argparse.Namespace) -> int:
    """``ffnn gradcheck``: returns the exit status."""
    backend = select_backend(args.backend, args.device, args.threads)
    sizes = args.shape or ((3, 4, 3, 1) if args.explain else (4, 5, 3))
    with usage():
        loss = get_loss(args.loss or ("bce" if args.explain else "cce")).name
        output = get_activation(args.output_activation).name if args.output_activation else default_output(loss)
        check_network_size(sizes, args.samples, 8, copies=3, option="--shape")
        layers = [Dense(a, b, activation=args.activation) for a, b in itertools.pairwise(sizes[:-1])]
        layers.append(Dense(sizes[-2], sizes[-1], activation=output))
        net = Network(layers, loss=loss, backend=backend, dtype="float64", seed=args.seed)
        rng = np.random.default_rng(args.seed)
        X = rng.normal(size=(args.samples, sizes[0]))
        if args.explain:
            kind, l, row, col = args.explain
            y = _random_targets(rng, loss, args.samples, sizes[-1])
            explained = explain_gradient(net, X, y, layer=l, row=row, col=col, bias=kind == "b", eps=args.eps)
            return _print_explained(net, backend, args, explained)
        result = gradcheck(net, X, _random_targets(rng, loss, args.samples, sizes[-1]), eps=args.eps)
    print(
        f"gradcheck: {describe(net)}, {args.samples} examples, {backend.name} on {backend.device_name}, "
        f"float64, eps={args.eps:g}"
    )
    rows = [("layer", "W", "b", "max relative error")]
    for l, (layer, error) in enumerate(zip(net.layers, result.per_layer), start=1):
        rows.append((str(l), f"{layer.n_out}x{layer.n_in}", f"{layer.n_out}x1", f"{error:.3e}"))
    print(table(rows))
    passed = result.max_error <= args.tolerance
    verdict = "PASS" if passed else "FAIL"
    print(
        f"{verdict}: {result.n_checked} partial derivatives, largest error {result.max_error:.3e} "
        f"(tolerance {args.tolerance:g})"
    )
    return EXIT_OK if passed else EXIT_FAILURE


def _print_explained(net: Network, backend: Any, args: argparse.Namespace, explained: Any) -> int:
    """Print seed H's chain next to backpropagation; PASS when the finite difference agrees."""
    print(
        f"gradcheck --explain: {describe(net)}, {args.samples} examples, {backend.name} on {backend.device_name}, "
        "float64"
    )
    print(explained)
    fd, bp = explained.finite_difference, explained.backprop
    error = abs(fd - bp) / max(abs(fd) + abs(bp), 1e-10)
    passed = error <= args.tolerance
    print(f"{'PASS' if passed else 'FAIL'}: relative error {error:.3e} (tolerance {args.tolerance:g})")
    return EXIT_OK if passed else EXIT_FAILURE
