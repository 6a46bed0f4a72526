"""The ``ffnn`` command: ``train``, ``evaluate``, ``predict``, ``info``, ``gradcheck``
and ``parity``, one module each, and plug-in subcommands of other modules.

Layout: :mod:`._common` (exit statuses, :class:`CommandError`, the one mechanism that
turns bad input into exit status 2, the parser, backend/thread options, memory
checks), :mod:`._data` (a data file matched to a saved model: columns by name,
classes by name), :mod:`._progress` (the bar on a terminal, a line per epoch
otherwise), :mod:`._report` (plots, prediction files). The maths lives in the
library: :mod:`ffnn.preprocessing`, :mod:`ffnn.metrics`, :mod:`ffnn.tasks`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from . import evaluate, gradcheck, info, parity, predict, train
from ._common import (
    DATA_ERRORS,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Parser,
    data_error,
    pipe_guard,
    suggest,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "PLUGINS",
    "CommandError",
    "build_parser",
    "main",
]

PLUGINS: tuple[str, ...] = ()
"""Modules that add a subcommand: each has ``add_parser(subparsers)`` (returning the
subcommand's parser) and ``run(args) -> int`` (the exit status). A plug-in module that
does not exist is skipped."""

_COMMANDS = (train, evaluate, predict, info, gradcheck, parity)


def build_parser() -> Parser:
    """The ``ffnn`` argument parser: the built-in subcommands, then each importable
    module of :data:`PLUGINS`."""
    from .. import __version__

    parser = Parser(
        prog="ffnn",
        description="Train and use feedforward neural networks on NumPy, CuPy, PyTorch, JAX or array-api-strict.",
        epilog="Exit status: 0 success, 1 runtime failure, 2 bad usage. `ffnn COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for module in _COMMANDS:
        module.add_parser(subparsers)
    for name in PLUGINS:
        try:
            plugin = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        plugin.add_parser(subparsers).set_defaults(func=plugin.run)
    return parser


def _subparser(parser: Parser, command: str) -> Parser:
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        found = getattr(action, "choices", {}).get(command)
        if found is not None:
            return found
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ffnn`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on a runtime failure (training diverged, a failed gradient
        check, parity beyond tolerance), 2 on bad usage (unknown or mistyped options,
        bad values or data, missing, malformed or undecodable files, sizes too large
        to allocate, a GPU asked for where none is usable). Errors are printed as one
        or two lines on stderr, without a traceback or an exception name. A closed
        output pipe (``ffnn info | head -1``) ends the output quietly.
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            sub = _subparser(parser, args.command)
            sub.error(suggest(sub, unknown))
    except SystemExit as exc:  # argparse: 2 after a usage error, 0 after --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    prefix = f"ffnn {args.command}"
    with pipe_guard():
        try:
            return int(args.func(args))
        except CommandError as exc:
            error = exc
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130
        except DATA_ERRORS as exc:
            error = data_error(exc)
        except Exception as exc:
            error = CommandError(f"{exc or 'unexpected failure'} (unexpected; please report it)", code=EXIT_FAILURE)
    print(f"{prefix}: error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"{prefix}: hint: {error.hint}", file=sys.stderr)
    return error.code
