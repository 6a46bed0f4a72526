"""argparse value types shared by the ``ffnn`` subcommands: each refuses bad text with
"expected <what>, got <text>"."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

_DEVICE = re.compile(r"^(cpu|gpu|cuda(:\d+)?)$")


def layer_sizes(text: str) -> tuple[int, ...]:
    """'128,64' → (128, 64); '' or 'none' → () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        msg = f"expected comma-separated positive layer sizes such as 128,64 (or 'none'), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return tuple(int(p) for p in parts)


def network_shape(text: str) -> tuple[int, ...]:
    """At least two layer sizes, inputs to outputs: '4,5,3' → (4, 5, 3)."""
    sizes = layer_sizes(text)
    if len(sizes) < 2:
        msg = f"expected at least two comma-separated layer sizes (inputs,...,outputs) such as 4,5,3, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return sizes


def _number(text: str, kind: type, check: Callable[[Any], bool], want: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not check(value):
        msg = f"expected {want}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_int(text: str) -> int:
    """An integer > 0."""
    return _number(text, int, lambda v: v > 0, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer ≥ 0 (seeds, step counts)."""
    return _number(text, int, lambda v: v >= 0, "a non-negative integer")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _number(text, float, lambda v: 0 < v < float("inf"), "a positive number")


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0."""
    return _number(text, float, lambda v: 0 <= v < float("inf"), "a non-negative number")


def fraction(text: str) -> float:
    """A number in (0, 1)."""
    return _number(text, float, lambda v: 0 < v < 1, "a fraction between 0 and 1 (exclusive)")


def fraction_or_zero(text: str) -> float:
    """A number in [0, 1)."""
    return _number(text, float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def device(text: str) -> str:
    """cpu, gpu or cuda:N, lower-cased."""
    if not _DEVICE.match(text.strip().lower()):
        msg = f"expected cpu, gpu or cuda:N, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text.strip().lower()
