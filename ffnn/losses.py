"""Cost functions J (mean over the batch), their backpropagation seeds dJ/dA^[L], and
the fused output gradients dJ/dZ^[L] (MATH.md §4: P3, L6, H).

Arrays use the seeds' layout, one example per COLUMN: A, Y, Z of shape (n^[L], m).
The 1/m of the mean cost lives here, in the seed, never in P1 (15)/(16).
"""

from __future__ import annotations

from typing import Any

from ._registry import Registry

__all__ = [
    "Loss",
    "MeanSquaredError",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "get_loss",
    "LOSSES",
    "clamp_probability",
]


def clamp_probability(A: Any, /, *, xp: Any) -> Any:
    """Clamp probabilities into [ε, 1 − ε], ε = the dtype's machine epsilon (seed H).

    Keeps log and the divisions of the BCE/CCE seeds finite.
    """
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1 - eps)


class Loss:
    """Base class of a cost J = (1/m) Σ_i J0^(i) over the m columns of a batch.

    Attributes
    ----------
    name : str
        Registry name.
    fused_activation : str
        The output activation whose pairing with this loss has the exact, fused
        gradient dJ/dZ^[L] (:meth:`fused_gradient`) and a cost computed stably from
        Z^[L] (:meth:`cost_from_logits`).
    """

    name: str = ""
    fused_activation: str = ""

    def cost(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        """J for predictions A and targets Y, both (n, m); a 0-d array."""
        raise NotImplementedError

    def gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        """The backpropagation seed dJ/dA^[L], shape (n, m)."""
        raise NotImplementedError

    def cost_from_logits(self, Z: Any, Y: Any, /, *, xp: Any) -> Any:
        """J computed from Z^[L] for the fused output activation; a 0-d array."""
        raise NotImplementedError

    def fused_gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        """dJ/dZ^[L] for the fused output activation: (1/m)(A − Y) (MATH.md §4)."""
        return (A - Y) * (1 / A.shape[1])

    def example_gradient(self, a: Any, y: Any, /, *, xp: Any) -> Any:
        """∂J0/∂ŷ for ONE example (1-D ``a``, ``y``), written per element as L6 does.

        Used only by :mod:`ffnn.jacobians` to build the explicit batch Jacobian.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """MSE (L6): J = (1/m) Σ_i Σ_j (y_ji − ŷ_ji)²; seed dJ/dŶ = −(2/m)(Y − Ŷ).

    With a linear output the fused dJ/dZ^[L] is the same −(2/m)(Y − Ŷ).
    """

    name = "mse"
    fused_activation = "linear"

    def cost(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        D = Y - A
        return xp.sum(D * D) * (1 / A.shape[1])

    def gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        return (A - Y) * (2 / A.shape[1])

    def cost_from_logits(self, Z: Any, Y: Any, /, *, xp: Any) -> Any:
        return self.cost(Z, Y, xp=xp)

    def fused_gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        return self.gradient(A, Y, xp=xp)

    def example_gradient(self, a: Any, y: Any, /, *, xp: Any) -> Any:
        return -2 * (y - a)


class BinaryCrossEntropy(Loss):
    """Binary (and multi-label) cross-entropy (L6, H, P3).

    J = −(1/m) Σ (Y ⊙ log Ŷ + (1 − Y) ⊙ log(1 − Ŷ)), summed over output nodes;
    seed dJ/dŶ = (1/m)(Ŷ − Y) / (Ŷ ⊙ (1 − Ŷ)), with Ŷ clamped to [ε, 1 − ε] (H).
    Fused with sigmoid: dJ/dZ = (1/m)(Ŷ − Y), and J from Z by the softplus form
    J = (1/m) Σ (max(Z, 0) − Y ⊙ Z + log(1 + exp(−|Z|))).
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def cost(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        P = clamp_probability(A, xp=xp)
        return -xp.sum(Y * xp.log(P) + (1 - Y) * xp.log(1 - P)) * (1 / A.shape[1])

    def gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        P = clamp_probability(A, xp=xp)
        return (P - Y) / (P * (1 - P)) * (1 / A.shape[1])

    def cost_from_logits(self, Z: Any, Y: Any, /, *, xp: Any) -> Any:
        zero = xp.zeros((), dtype=Z.dtype, device=Z.device)
        softplus = xp.maximum(Z, zero) + xp.log1p(xp.exp(-xp.abs(Z)))
        return xp.sum(softplus - Y * Z) * (1 / Z.shape[1])

    def example_gradient(self, a: Any, y: Any, /, *, xp: Any) -> Any:
        p = clamp_probability(a, xp=xp)
        return (1 - y) / (1 - p) - y / p


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy (P3): J = −(1/m) Σ Y ⊙ log Ŷ for one-hot (or soft) Y.

    Seed dJ/dŶ = −(1/m) Y / Ŷ, Ŷ clamped to [ε, 1 − ε]. Fused with softmax:
    dJ/dZ = (1/m)(Ŷ − Y) and J from Z by log-sum-exp,
    J = −(1/m) Σ Y ⊙ (Z − max − log Σ_{axis=0} exp(Z − max)).
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def cost(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        return -xp.sum(Y * xp.log(clamp_probability(A, xp=xp))) * (1 / A.shape[1])

    def gradient(self, A: Any, Y: Any, /, *, xp: Any) -> Any:
        return -Y / clamp_probability(A, xp=xp) * (1 / A.shape[1])

    def cost_from_logits(self, Z: Any, Y: Any, /, *, xp: Any) -> Any:
        S = Z - xp.max(Z, axis=0, keepdims=True)
        minus_log_softmax = xp.log(xp.sum(xp.exp(S), axis=0, keepdims=True)) - S
        return xp.sum(Y * minus_log_softmax) * (1 / Z.shape[1])

    def example_gradient(self, a: Any, y: Any, /, *, xp: Any) -> Any:
        return -y / clamp_probability(a, xp=xp)


LOSSES: Registry[Loss] = Registry("loss", Loss)
for _cls in (MeanSquaredError, BinaryCrossEntropy, CategoricalCrossEntropy):
    LOSSES.register(_cls.name, _cls())
for _alias, _name in (("bce", "binary_crossentropy"), ("cce", "categorical_crossentropy"),
                      ("mean_squared_error", "mse"), ("crossentropy", "categorical_crossentropy")):
    LOSSES.register(_alias, LOSSES.get(_name))


def get_loss(spec: str | Loss) -> Loss:
    """The loss named ``spec``: mse, binary_crossentropy (bce), categorical_crossentropy (cce).

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    return LOSSES.get(spec)
