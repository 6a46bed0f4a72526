"""Type aliases shared by ffnn's modules, in place of ``Any``.

The Array API standard has no single array class (NumPy, CuPy, torch and JAX arrays,
array_api_strict's), so ``Array`` stays an alias of ``Any`` that names intent; the
dictionaries of parameters, gradients and optimizer state are keyed by parameter name
("W1", "b1", "W2", …; P1's superscript [l], 1-based).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["Array", "Device", "GradientHook", "Namespace", "OptState", "Params", "Sampler"]

Array: TypeAlias = Any
"""An array of the network's backend (any Array API library)."""
Namespace: TypeAlias = Any
"""An Array API namespace (``xp``), as ``backends.Backend.xp`` returns."""
Device: TypeAlias = Any
"""A device specification: None, "cpu", "gpu", "cuda:N", or a library's device object."""
Params: TypeAlias = dict[str, Array]
"""Parameters or gradients keyed by name: {"W1": W^[1], "b1": b^[1], …} in layer order."""
OptState: TypeAlias = dict[str, Any]
"""An optimizer's state: {"step": int, <slot>: Params, …}, e.g. state["m"]["W1"]."""
GradientHook: TypeAlias = Callable[[Params], Params]
"""Called on every mini-batch's gradients between backward and update (e.g. an all-reduce)."""
Sampler: TypeAlias = Callable[[int, int], Any]
"""``sampler(epoch, m)``: the host permutation of the m training rows for ``epoch``, or None (in order)."""
