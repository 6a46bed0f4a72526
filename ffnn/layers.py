"""The dense (fully connected) layer: P1 (5)/(6) forward, P1 (15)/(16)/(22) backward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backends import reductions

from ._types import Array, Namespace
from ._validation import positive_int
from .activations import Activation, get_activation
from .initializers import Initializer, default_initializer, get_initializer

__all__ = ["BINDINGS", "Bindings", "Dense", "affine", "affine_backward"]


class Bindings:
    """A count of rebindings: of a layer's ``W``, ``b``, ``activation``, ``n_in`` or
    ``n_out`` (counted here) and of a network's ``layers``, ``loss``, ``backend``,
    ``dtype`` or ``fuse_output`` (counted by :class:`ffnn.Network`).

    Whatever is built from those attributes and kept between calls (a network's
    :class:`~ffnn.network.Passes`, the parameter dict that :func:`ffnn.training.train_step`
    hands its step) notes :attr:`count` when it is built: while the count is the same,
    none of them was rebound anywhere, and the kept object is current without being
    rebuilt or compared. Changes of values in place (``W[0, 0] = 1``) rebind nothing
    and need no notice. Holders still compare a network's ``layers`` list, which can
    change without a rebinding (``net.layers[0] = ...``).
    """

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


BINDINGS = Bindings()
"""The process's one :class:`Bindings` count."""

_COUNTED = frozenset({"W", "b", "activation", "n_in", "n_out"})


def affine(W: Array, A_prev: Array, b: Array, /) -> Array:
    """P1 (5): Z^[l] = W^[l] A^[l-1] + broadcast(b^[l]), (n_out, m) from ``W`` (n_out, n_in),
    ``A_prev`` (n_in, m) and ``b`` (n_out, 1). The one statement of the equation: the
    layer's methods and the network's passes call it."""
    Z = W @ A_prev
    Z += b
    return Z


def affine_backward(
    dZ: Array, A_prev: Array, W: Array, sum_along: Callable[..., Array], need_input_grad: bool, /
) -> tuple[Array, Array, Array]:
    """P1 (15) dW = dZ A^[l-1]ᵀ, P1 (16) db = Σ_{axis=1} dZ, P1 (22) dA^[l-1] = Wᵀ dZ.

    ``dZ`` is (n_out, m), ``A_prev`` (n_in, m), ``W`` (n_out, n_in); ``sum_along`` is the
    namespace's keepdims sum (:func:`backends.reductions`). Returns (dW, db, dA_prev),
    dA_prev None unless ``need_input_grad``. Positional only: the training hot path."""
    return dZ @ A_prev.T, sum_along(dZ, 1), (W.T @ dZ if need_input_grad else None)


class Dense:
    """A fully connected layer l with W^[l] ∈ R^{n_out × n_in}, b^[l] ∈ R^{n_out × 1}.

    Parameters
    ----------
    n_in, n_out : int
        n^[l-1] and n^[l], both ≥ 1.
    activation : str or Activation, default "relu"
        g^[l]: relu, sigmoid, tanh, softmax, linear (identity), leaky_relu, elu
        (both also as "leaky_relu(alpha=0.2)", "elu(alpha=0.5)"), softplus, silu
        (swish), gelu_tanh (gelu).
    init : str or Initializer, optional
        he_normal, he_uniform, glorot_normal, glorot_uniform; default He (normal) for
        relu, leaky_relu and elu, Glorot uniform otherwise (see
        :func:`ffnn.initializers.default_initializer`). Biases start at zero.

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

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _COUNTED:
            BINDINGS.count += 1

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        activation: str | Activation = "relu",
        init: str | Initializer | None = None,
    ) -> None:
        self.n_in = positive_int(n_in, "Dense n_in")
        self.n_out = positive_int(n_out, "Dense n_out")
        self.activation = get_activation(activation)
        self.init = default_initializer(self.activation.name) if init is None else get_initializer(init)
        self.W: Array = None
        self.b: Array = None

    @property
    def needs_z(self) -> bool:
        """Whether the activation's backward needs Z^[l] besides A^[l] (then the
        forward pass caches Z^[l] for this layer)."""
        return bool(getattr(self.activation, "needs_z", False))

    @property
    def n_params(self) -> int:
        """n_out · (n_in + 1): the entries of W and b."""
        return self.n_out * (self.n_in + 1)

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description: sizes, the activation's spec (its name with any
        parameter, e.g. ``"leaky_relu(alpha=0.2)"``) and the initializer's name."""
        return {"n_in": self.n_in, "n_out": self.n_out, "activation": self.activation.spec, "init": self.init.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        """A new layer (without parameters) from :meth:`get_config`."""
        return cls(int(config["n_in"]), int(config["n_out"]), activation=config["activation"], init=config["init"])

    def initial_parameters(self, rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """Host copies of the initial (W, b) in ``dtype``, W drawn from ``rng``."""
        W = self.init(rng, self.n_in, self.n_out).astype(dtype)
        return W, np.zeros((self.n_out, 1), dtype=dtype)

    def forward(self, A_prev: Array, /, *, xp: Namespace, W: Array = None, b: Array = None) -> tuple[Array, Array]:
        """P1 (5) Z = W A^[l-1] + broadcast(b) and P1 (6) A = g(Z).

        ``A_prev`` is (n_in, m); returns (Z, A), both (n_out, m). ``W``/``b`` default
        to the layer's own parameters (pass others to evaluate at another point).
        """
        Z = affine(self.W if W is None else W, A_prev, self.b if b is None else b)
        return Z, self.activation.forward(Z, xp=xp)

    def linear(self, A_prev: Array, /, *, xp: Namespace, W: Array = None, b: Array = None) -> Array:
        """P1 (5) alone: Z = W A^[l-1] + broadcast(b), (n_out, m) from ``A_prev`` (n_in, m)."""
        return affine(self.W if W is None else W, A_prev, self.b if b is None else b)

    def backward(
        self, dZ: Array, A_prev: Array, /, *, xp: Namespace, need_input_grad: bool = True, W: Array = None
    ) -> tuple[Array, Array, Array]:
        """P1 (15) dW = dZ A^[l-1]ᵀ, P1 (16) db = Σ_{axis=1} dZ, P1 (22) dA^[l-1] = Wᵀ dZ.

        ``dZ`` is (n_out, m), ``A_prev`` (n_in, m). Returns (dW, db, dA_prev);
        dA_prev is None when ``need_input_grad`` is False (layer 1 when dJ/dX is unused).
        """
        return affine_backward(dZ, A_prev, self.W if W is None else W, reductions(xp)[0], need_input_grad)

    def activation_backward(
        self, A: Array, dA: Array, /, *, xp: Namespace, Z: Array = None, in_place: bool = False
    ) -> Array:
        """dJ/dZ^[l] from dJ/dA^[l] through g^[l] (P2, E).

        Calls ``act.backward(dA, A, Z, xp=xp)``, or ``backward_in_place`` when
        ``in_place`` allows overwriting ``dA``. ``Z`` is passed only to activations
        that declare ``needs_z`` (E's rules for SiLU/GELU are functions of Z); the
        cache holds no Z for the others.
        """
        act = self.activation
        z = Z if self.needs_z else None
        rule: Callable[..., Array] = act.backward_in_place if in_place else act.backward
        return rule(dA, A, z, xp=xp)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}, init={self.init.name!r})"
