"""The dense (fully connected) layer: P1 (5)/(6) forward, P1 (15)/(16)/(22) backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import Activation, get_activation
from .initializers import Initializer, default_initializer, get_initializer

__all__ = ["Dense"]


class Dense:
    """A fully connected layer l with W^[l] ∈ R^{n_out × n_in}, b^[l] ∈ R^{n_out × 1}.

    Parameters
    ----------
    n_in, n_out : int
        n^[l-1] and n^[l], both ≥ 1.
    activation : str or Activation, default "relu"
        g^[l]: relu, sigmoid, tanh, softmax, linear.
    init : str or Initializer, optional
        he_normal, he_uniform, glorot_normal, glorot_uniform; default He for ReLU,
        Glorot uniform otherwise. Biases start at zero.

    Attributes
    ----------
    W : array (n_out, n_in) or None
        Set when the layer joins a :class:`~ffnn.Network` (on its backend).
    b : array (n_out, 1) or None

    Raises
    ------
    ValueError
        Non-positive sizes, unknown activation or initializer names.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        activation: str | Activation = "relu",
        init: str | Initializer | None = None,
    ) -> None:
        for label, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                msg = f"Dense {label} must be a positive integer, got {value!r}"
                raise ValueError(msg)
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.activation = get_activation(activation)
        self.init = default_initializer(self.activation.name) if init is None else get_initializer(init)
        self.W: Any = None
        self.b: Any = None

    def initial_parameters(self, rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """Host copies of the initial (W, b) in ``dtype``, W drawn from ``rng``."""
        W = self.init(rng, self.n_in, self.n_out).astype(dtype)
        return W, np.zeros((self.n_out, 1), dtype=dtype)

    def forward(self, A_prev: Any, /, *, xp: Any) -> tuple[Any, Any]:
        """P1 (5) Z = W A^[l-1] + broadcast(b) and P1 (6) A = g(Z).

        ``A_prev`` is (n_in, m); returns (Z, A), both (n_out, m).
        """
        Z = self.W @ A_prev
        Z += self.b
        return Z, self.activation.forward(Z, xp=xp)

    def backward(self, dZ: Any, A_prev: Any, /, *, xp: Any, need_input_grad: bool = True) -> tuple[Any, Any, Any]:
        """P1 (15) dW = dZ A^[l-1]ᵀ, P1 (16) db = Σ_{axis=1} dZ, P1 (22) dA^[l-1] = Wᵀ dZ.

        ``dZ`` is (n_out, m), ``A_prev`` (n_in, m). Returns (dW, db, dA_prev);
        dA_prev is None when ``need_input_grad`` is False (layer 1: dJ/dX unused).
        """
        dW = dZ @ A_prev.T
        db = xp.sum(dZ, axis=1, keepdims=True)
        dA_prev = self.W.T @ dZ if need_input_grad else None
        return dW, db, dA_prev

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}, init={self.init.name!r})"
