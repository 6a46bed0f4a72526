"""MLP's costs, written with ffnn's losses: the value it reports and the seed dJ/dZ^[L] it
backpropagates (they differ by 1/n_outputs for the squared error), its L2 term, and the
exponential output of the Poisson loss.

Arrays use the seeds' layout (one example per column): A, Y of shape (n^[L], m); sample
weights s are a (1, m) row or None.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..activations import Activation
from ..losses import BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError, clamp_probability

__all__ = ["Exp", "MLPLoss", "l2_gradient", "l2_penalty", "mlp_loss"]

_MSE = MeanSquaredError()
_BCE = BinaryCrossEntropy()
_CCE = CategoricalCrossEntropy()


class Exp(Activation):
    """A = exp(Z), dJ/dZ = dJ/dA ⊙ A: the output of MLPRegressor(loss="poisson")."""

    name = "exp"

    def forward(self, Z: Any, /, *, xp: Any) -> Any:
        return xp.exp(Z)

    def backward(self, A: Any, dA: Any, /, *, xp: Any) -> Any:
        return dA * A

    def derivative(self, A: Any, /, *, xp: Any) -> Any:
        return A


class MLPLoss:
    """One of MLP's costs for its output activation (the canonical pairs).

    ``value`` is the number MLP reports (``loss_``, ``loss_curve_``, what L-BFGS sees);
    ``seed`` is what MLP backpropagates: (Ŷ − Y) ⊙ s / Σs (s = 1 without weights),
    the fused dJ/dZ^[L] of ffnn's losses (MATH.md §4).

    Parameters
    ----------
    name : {"squared_error", "poisson", "log_loss", "binary_log_loss"}
    """

    _OUTPUT: ClassVar[dict[str, str]] = {
        "squared_error": "identity",
        "poisson": "exp",
        "log_loss": "softmax",
        "binary_log_loss": "logistic",
    }

    def __init__(self, name: str) -> None:
        self.name = name
        self.out_activation = self._OUTPUT[name]

    def value(self, A: Any, Y: Any, weights: Any = None, /, *, xp: Any) -> Any:
        """MLP's data cost, a 0-d array.

        - squared_error: ½ · (1/n_out) · ffnn's MSE = Σ (y − ŷ)² / (2 m n_out);
        - log_loss / binary_log_loss: ffnn's categorical / binary cross-entropy on
          probabilities clamped to [ε, 1 − ε] (seed H), summed over outputs;
        - poisson: half the Poisson deviance, Σ (y log(y/ŷ) − y + ŷ) / m.

        With ``weights`` s (1, m) the mean over examples becomes Σ s_i J0_i / Σ s_i.
        """
        if weights is not None:
            return _weighted_value(self.name, A, Y, weights, xp=xp)
        n_out = A.shape[0]
        if self.name == "squared_error":
            return _MSE.cost(A, Y, xp=xp) * (0.5 / n_out)
        if self.name == "binary_log_loss":
            return _BCE.cost(A, Y, xp=xp)
        if self.name == "log_loss":
            return _CCE.cost(A, Y, xp=xp)
        return xp.sum(_poisson_terms(A, Y, xp=xp)) * (1 / A.shape[1])

    def seed(self, A: Any, Y: Any, weights: Any = None, /, *, xp: Any) -> Any:
        """dJ/dZ^[L] = (Ŷ − Y)/m, or (Ŷ − Y) ⊙ s / Σs with weights (no 1/n_out)."""
        if weights is None:
            return _BCE.fused_gradient(A, Y, xp=xp)
        return (A - Y) * weights / xp.sum(weights)


def mlp_loss(estimator_loss: str, out_activation: str) -> MLPLoss:
    """The MLP cost for an estimator's ``loss`` and output activation (log_loss with a
    logistic output is the binary log loss, summed over labels)."""
    if estimator_loss == "log_loss" and out_activation == "logistic":
        return MLPLoss("binary_log_loss")
    return MLPLoss(estimator_loss)


def _poisson_terms(A: Any, Y: Any, /, *, xp: Any) -> Any:
    """y log(y/ŷ) − y + ŷ element-wise, with 0 log 0 = 0."""
    ratio = xp.where(Y > 0, Y / A, xp.ones_like(A))
    return Y * xp.log(ratio) - Y + A


def _weighted_value(name: str, A: Any, Y: Any, weights: Any, /, *, xp: Any) -> Any:
    """Σ s_i J0_i / Σ s_i for MLP's per-example costs J0 (the one place that weights a cost;
    to become ffnn's loss(..., weights=) once the core has it)."""
    if name == "squared_error":
        D = Y - A
        J0 = xp.sum(D * D, axis=0, keepdims=True) * (0.5 / A.shape[0])
    elif name == "binary_log_loss":
        P = clamp_probability(A, xp=xp)
        J0 = -xp.sum(Y * xp.log(P) + (1 - Y) * xp.log(1 - P), axis=0, keepdims=True)
    elif name == "log_loss":
        J0 = -xp.sum(Y * xp.log(clamp_probability(A, xp=xp)), axis=0, keepdims=True)
    else:
        J0 = xp.sum(_poisson_terms(A, Y, xp=xp), axis=0, keepdims=True)
    return xp.sum(J0 * weights) / xp.sum(weights)


def l2_penalty(weights: list[Any], alpha: float, denominator: Any, /, *, xp: Any) -> Any:
    """MLP's L2 term (α/2) Σ_l ‖W^[l]‖² / d, d = m or Σ s_i (biases are not penalised)."""
    total = sum(xp.sum(W * W) for W in weights)
    return total * (0.5 * alpha) / denominator


def l2_gradient(grads: dict[str, Any], params: dict[str, Any], alpha: float, denominator: Any) -> None:
    """Add (α/d) W^[l] to each dW^[l] in place (MLP's gradient hook), d = m or Σ s_i."""
    if alpha == 0:
        return
    for name, W in params.items():
        if name.startswith("W"):
            grads[name] += W * (alpha / denominator)
