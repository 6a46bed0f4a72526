"""The ``ffnn parity`` command (now :mod:`ffnn.cli.parity`), kept importable here."""

from __future__ import annotations

from .cli.parity import DEFAULT_LEARNING_RATE, add_parser, main, run

__all__ = ["DEFAULT_LEARNING_RATE", "add_parser", "main", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
