"""The physical limit: the matrix products of one training step alone, same shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .configs import Config

__all__ = ["MatmulStep"]


class MatmulStep:
    """Every product of :meth:`Config.matmul_shapes`, in the step's operand layouts
    (transposed views where the step has them), with preallocated outputs.

    Parameters
    ----------
    config : Config
    xp : module
        ``numpy``, ``cupy`` or ``torch`` (anything with ``matmul(a, b, out=c)``).
    make : callable
        ``make(host_array) -> array`` of that library on its device.
    dtype : str
    """

    def __init__(self, config: Config, *, xp: Any, make: Callable[[np.ndarray], Any], dtype: str = "float32") -> None:
        rng = np.random.default_rng(0)
        self.xp = xp
        self.ops = []
        for _, M, K, N, a_transposed, b_transposed in config.matmul_shapes():
            a = _operand(rng, (M, K), a_transposed, make, dtype)
            b = _operand(rng, (K, N), b_transposed, make, dtype)
            c = make(np.empty((M, N), dtype=dtype))
            self.ops.append((a, b, c))
        self.flops = config.flops_per_step

    def run(self) -> None:
        for a, b, c in self.ops:
            self.xp.matmul(a, b, out=c)


def _operand(rng: np.random.Generator, shape: tuple[int, int], transposed: bool, make: Callable[[np.ndarray], Any],
             dtype: str) -> Any:
    """A (rows, cols) operand: contiguous, or the transposed view of a contiguous (cols, rows) array."""
    if transposed:
        return make(rng.standard_normal(shape[::-1]).astype(dtype)).T
    return make(rng.standard_normal(shape).astype(dtype))
