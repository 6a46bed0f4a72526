"""Weight initializers, drawn on the host with NumPy's Generator so that one seed gives
bit-identical weights on every backend (DESIGN.md §2)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._registry import Registry

__all__ = ["Initializer", "get_initializer", "INITIALIZERS", "default_initializer"]


class Initializer:
    """A named rule drawing W^[l] of shape (n_out, n_in) as float64 on the host.

    Parameters
    ----------
    name : str
        Registry name.
    draw : callable
        ``draw(rng, n_in, n_out) -> np.ndarray`` of shape (n_out, n_in).
    """

    def __init__(self, name: str, draw: Callable[[np.random.Generator, int, int], np.ndarray]) -> None:
        self.name = name
        self._draw = draw

    def __call__(self, rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
        """Draw W of shape (n_out, n_in), float64, from ``rng``."""
        return self._draw(rng, n_in, n_out)

    def __repr__(self) -> str:
        return f"Initializer({self.name!r})"


def _normal(scale: Callable[[int, int], float]) -> Callable[[np.random.Generator, int, int], np.ndarray]:
    return lambda rng, n_in, n_out: rng.standard_normal((n_out, n_in)) * scale(n_in, n_out)


def _uniform(limit: Callable[[int, int], float]) -> Callable[[np.random.Generator, int, int], np.ndarray]:
    return lambda rng, n_in, n_out: rng.uniform(-1.0, 1.0, (n_out, n_in)) * limit(n_in, n_out)


INITIALIZERS: Registry[Initializer] = Registry("initializer", Initializer)
for _init in (
    Initializer("he_normal", _normal(lambda i, o: math.sqrt(2.0 / i))),
    Initializer("he_uniform", _uniform(lambda i, o: math.sqrt(6.0 / i))),
    Initializer("glorot_normal", _normal(lambda i, o: math.sqrt(2.0 / (i + o)))),
    Initializer("glorot_uniform", _uniform(lambda i, o: math.sqrt(6.0 / (i + o)))),
):
    INITIALIZERS.register(_init.name, _init)
INITIALIZERS.register("he", INITIALIZERS.get("he_normal"))
INITIALIZERS.register("glorot", INITIALIZERS.get("glorot_uniform"))
INITIALIZERS.register("xavier", INITIALIZERS.get("glorot_uniform"))


def get_initializer(spec: str | Initializer) -> Initializer:
    """The initializer named ``spec``: he_normal (he), he_uniform, glorot_normal,
    glorot_uniform (glorot, xavier).

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    return INITIALIZERS.get(spec)


RECTIFIERS = ("relu", "leaky_relu", "elu")
"""Activations whose layers start from He initialization by default."""


def default_initializer(activation_name: str) -> Initializer:
    """He (normal) for rectifier layers (relu, leaky_relu, elu), Glorot (uniform) for the others.

    He et al., "Delving Deep into Rectifiers" (ICCV 2015), §2.2, derive Var(W) = 2/n_in
    so that a rectifier keeps the forward signal's variance; for a leaky slope a their
    gain is 2/(1 + a²), within 1% of 2 at the usual a ≤ 0.1. ELU is the identity for
    positive inputs and saturates for negative ones as ReLU does, and Clevert et al.,
    "Fast and Accurate Deep Network Learning by Exponential Linear Units" (ICLR 2016),
    train their ELU networks from He's initialization. Glorot & Bengio (AISTATS 2010)
    suit the symmetric, saturating activations (tanh, sigmoid, softmax) and linear.
    """
    return INITIALIZERS.get("he_normal" if activation_name in RECTIFIERS else "glorot_uniform")
