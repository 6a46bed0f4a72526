"""Activation functions g: forward P2 (1)(3)(5)(7), backward P2 (2)(4)(6)(8), Jacobians (L6).

Arrays use the seeds' layout: one example per COLUMN, shape (n, m). Every backward
rule needs only the cached output ``A`` (MATH.md §5), so the forward pass caches A
and never Z.
"""

from __future__ import annotations

from typing import Any

from ._registry import Registry

__all__ = ["Activation", "ReLU", "Sigmoid", "Tanh", "Softmax", "Linear", "get_activation", "ACTIVATIONS"]


class Activation:
    """Base class: a layer's g^[l] with its forward, backward and Jacobian.

    Subclasses implement :meth:`forward` and :meth:`backward`, and either
    :meth:`derivative` (element-wise g) or :meth:`jacobian` (coupled g, softmax).
    """

    name: str = ""
    elementwise: bool = True

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        """A = g(Z), shape (n, m) → (n, m)."""
        raise NotImplementedError

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        """dJ/dZ from the cached output A and the upstream dJ/dA, both (n, m)."""
        raise NotImplementedError

    def backward_in_place(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        """:meth:`backward` allowed to overwrite ``dA`` (a buffer the caller owns and
        no longer needs); returns dJ/dZ, which may be ``dA`` itself.

        The network's backward pass uses it on the fresh W^[l]ᵀ dZ^[l] product, so
        that each layer allocates no second (n, m) array. The default falls back to
        :meth:`backward`.
        """
        return self.backward(A, dA, xp=xp)

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        """g'(z) expressed through a = g(z), element-wise (element-wise g only)."""
        raise NotImplementedError

    def jacobian(self, a: Any, /, *, xp: Any) -> Any:
        """∂a/∂z for ONE example, a 1-D output ``a`` of length n → (n, n) matrix.

        Element-wise g give diag(g'(z)) (L6); softmax gives diag(a) − a aᵀ (P2).
        """
        return _diag(self.derivative(a, xp=xp), xp=xp)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _diag(v: Any, /, *, xp: Any) -> Any:
    """Diagonal matrix with 1-D ``v`` on its diagonal (L6's diag)."""
    n = v.shape[0]
    eye = xp.eye(n, dtype=v.dtype, device=_device(v))
    return eye * xp.reshape(v, (1, n))


def _device(x: Any) -> Any:
    return x.device


class ReLU(Activation):
    """ReLU, P2 (1): A = max(0, Z); P2 (2): dJ/dZ = dJ/dA ⊙ I(Z > 0).

    I(Z > 0) equals I(A > 0), so backward needs only A. At z = 0 the derivative
    is 0 (P2's convention, MATH.md §5).
    """

    name = "relu"

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        return xp.maximum(Z, 0.0)

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        # A product with the 0/1 indicator rather than xp.where: NumPy's where branches
        # per element and runs about 10× slower than the compare, cast and multiply.
        return dA * xp.astype(A > 0, dA.dtype)

    def backward_in_place(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        dA *= xp.astype(A > 0, dA.dtype)
        return dA

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        return xp.astype(A > 0, A.dtype)


class Sigmoid(Activation):
    """Sigmoid, P2 (3): A = 1 / (1 + exp(−Z)); P2 (4): dJ/dZ = dJ/dA ⊙ A ⊙ (1 − A).

    Evaluated as e = exp(−|Z|), A = 1/(1+e) for Z ≥ 0 and e/(1+e) otherwise, so no
    exp ever overflows.
    """

    name = "sigmoid"

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        e = xp.exp(-xp.abs(Z))
        r = 1 / (1 + e)
        return xp.where(Z >= 0, r, e * r)

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        return dA * A * (1 - A)

    def backward_in_place(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        dA *= A
        dA *= 1 - A
        return dA

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        return A * (1 - A)


class Tanh(Activation):
    """tanh, P2 (5): A = tanh(Z); P2 (6): dJ/dZ = dJ/dA ⊙ (1 − A ⊙ A)."""

    name = "tanh"

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        return xp.tanh(Z)

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        return dA * (1 - A * A)

    def backward_in_place(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        dA *= 1 - A * A
        return dA

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        return 1 - A * A


class Softmax(Activation):
    """Softmax over each column, P2 (7): A = exp(Z) / Σ_{axis=0} exp(Z).

    The column maximum is subtracted before exp (same value, no overflow).
    Backward, P2 (8): dJ/dZ = A ⊙ (dJ/dA − Σ_{axis=0} (dJ/dA ⊙ A)).
    Jacobian (P2): ∂a/∂z = diag(a) − a aᵀ.
    """

    name = "softmax"
    elementwise = False

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        E = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
        return E / xp.sum(E, axis=0, keepdims=True)

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        return A * (dA - xp.sum(dA * A, axis=0, keepdims=True))

    def jacobian(self, a: Any, /, *, xp: Any) -> Any:
        col = xp.reshape(a, (a.shape[0], 1))
        return _diag(a, xp=xp) - col * xp.reshape(a, (1, a.shape[0]))


class Linear(Activation):
    """Identity: A = Z; dJ/dZ = dJ/dA (the output layer of a regression)."""

    name = "linear"

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        return Z

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        return dA

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        return xp.ones_like(A)


ACTIVATIONS: Registry[Activation] = Registry("activation", Activation)
for _cls in (ReLU, Sigmoid, Tanh, Softmax, Linear):
    ACTIVATIONS.register(_cls.name, _cls())
ACTIVATIONS.register("identity", ACTIVATIONS.get("linear"))


def get_activation(spec: str | Activation) -> Activation:
    """The activation named ``spec`` (relu, sigmoid, tanh, softmax, linear/identity).

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    return ACTIVATIONS.get(spec)
