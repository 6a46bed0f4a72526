"""Peak memory of training steps (NumPy backend, tracemalloc) against the theoretical minimum."""

from __future__ import annotations

import functools
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from .configs import Config
from .reference import reference_step
from .subject import FfnnStep, make_batch

__all__ = ["peak_memory", "theoretical_minimum"]


def theoretical_minimum(config: Config, *, itemsize: int = 4, optimizer_state: int = 0) -> dict[str, int]:
    """Bytes that a training step cannot do without.

    Parameters W, b; their gradients; the optimizer state (none for plain SGD); the
    cached activations A^[0..L] (A^[0] is the input batch); the one-hot targets.
    """
    m = config.batch
    parts = {
        "parameters": config.n_params * itemsize,
        "gradients": config.n_params * itemsize,
        "optimizer_state": optimizer_state,
        "activations": m * sum(config.sizes) * itemsize,
        "targets": m * config.sizes[-1] * itemsize,
    }
    parts["total"] = sum(parts.values())
    return parts


def _traced_peak(setup: Callable[[], Callable[[], Any]], steps: int) -> tuple[int, int]:
    """(bytes traced before the first step, peak bytes during ``steps`` steps)."""
    setup()()  # an untraced run first, so that lazy imports and caches are not counted
    gc.collect()
    tracemalloc.start()
    try:
        step = setup()
        gc.collect(0)
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(steps):
            step()
        return baseline, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _ffnn_setup(config: Config, lr: float) -> Callable[[], Any]:
    X, labels = make_batch(config)
    return FfnnStep(config, None, X, labels, lr=lr).step


def _reference_setup(config: Config, lr: float) -> Callable[[], Any]:
    X, labels = make_batch(config)
    case = FfnnStep(config, None, X, labels, lr=lr)
    params = [[layer.W, layer.b] for layer in case.net.layers]
    X_cols, Y_cols = case.X_cols, case.Y_cols
    del case
    return lambda: reference_step(params, X_cols, Y_cols, lr=lr, np=np)


def peak_memory(config: Config, *, lr: float, steps: int = 2) -> dict[str, Any]:
    """Traced peak of ffnn (numpy backend, float32) and of the hand-written reference.

    Both start from the same state (parameters, the batch in column layout, one-hot
    targets). ``ratio`` is the peak divided by the theoretical minimum.
    """
    minimum = theoretical_minimum(config)
    out: dict[str, Any] = {"theoretical_bytes": minimum, "steps": steps}
    for name, setup in (("ffnn-numpy", _ffnn_setup), ("reference-numpy", _reference_setup)):
        baseline, peak = _traced_peak(functools.partial(setup, config, lr), steps)
        out[name] = {"baseline_bytes": baseline, "peak_bytes": peak, "ratio": peak / minimum["total"]}
    return out
