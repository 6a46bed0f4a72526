"""MLP's costs, written with ffnn's core losses (:mod:`ffnn.losses`).

Each MLP loss is a core loss with the same backpropagation seed (Ŷ − Y) ⊙ s / Σs
(s = 1 without weights), MATH.md §4:

- squared_error: ``half_squared_error`` after a linear output;
- poisson: ``poisson`` after an ``exp`` output;
- log_loss: ``categorical_crossentropy`` after softmax, ``binary_crossentropy`` (summed
  over labels) after a logistic output.

What differs is only the number MLP reports (``loss_``, ``loss_curve_``, what L-BFGS
sees): :class:`MLPReportedLoss` computes it from the probabilities clamped to
[ε, 1 − ε] (not from the logits) and divides the squared error by n_outputs. The L2
term with MLP's denominator (m, or Σ s with sample weights) is :class:`MLPPenalty`,
the training loop's penalty protocol (:data:`ffnn.training.step.Penalty`).

Arrays use the seeds' layout (one example per column): A, Y of shape (n^[L], m); sample
weights s are a (1, m) row or None.
"""

from __future__ import annotations

from typing import Any

from ..activations import get_activation
from ..losses import Loss, get_loss

__all__ = ["CORE_LOSSES", "MLPPenalty", "MLPReportedLoss", "l2_gradient", "l2_penalty"]

CORE_LOSSES = {
    "identity": "half_squared_error",
    "exp": "poisson",
    "logistic": "binary_crossentropy",
    "softmax": "categorical_crossentropy",
}
"""The core loss (:mod:`ffnn.losses`) of each of MLP's output activations."""


class MLPReportedLoss(Loss):
    """A core loss whose cost is the value MLP reports; its seeds are the core loss's.

    The cost is the core loss's ``cost`` of the output probabilities (clamped; from
    Z^[L] on the fused path by applying the output activation, which recomputes A^[L]
    bit for bit) times ``scale`` (1/n_outputs for the squared error). The gradients
    (``fused_gradient``, ``gradient``) are the core loss's unchanged. It keeps the core
    loss's ``name`` (the network's task) and is installed as ``net.loss`` only while
    the estimator trains.

    Parameters
    ----------
    out_activation : {"identity", "exp", "logistic", "softmax"}
    n_outputs : int
    """

    def __init__(self, out_activation: str, n_outputs: int) -> None:
        self.core = get_loss(CORE_LOSSES[out_activation])
        self.name, self.fused_activation = self.core.name, self.core.fused_activation
        self.output = get_activation(self.fused_activation)
        self.scale = 1 / n_outputs if out_activation == "identity" else 1.0

    def cost(self, A: Any, Y: Any, /, *, xp: Any, weights: Any = None) -> Any:
        J = self.core.cost(A, Y, xp=xp, weights=weights)
        return J if self.scale == 1 else J * self.scale

    def cost_from_logits(self, Z: Any, Y: Any, /, *, xp: Any, weights: Any = None) -> Any:
        return self.cost(self.output.forward(Z, xp=xp), Y, xp=xp, weights=weights)

    def gradient(self, A: Any, Y: Any, /, *, xp: Any, weights: Any = None) -> Any:
        return self.core.gradient(A, Y, xp=xp, weights=weights)

    def fused_gradient(self, A: Any, Y: Any, /, *, xp: Any, weights: Any = None) -> Any:
        return self.core.fused_gradient(A, Y, xp=xp, weights=weights)


class MLPPenalty:
    """MLP's L2 term as the training loop's penalty: (α/2d) Σ_l ‖W^[l]‖² added to the
    batch cost and (α/d) W^[l] to each dW^[l], d = m rows or Σ s with sample weights
    (biases are not penalised)."""

    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)

    def __call__(self, params: dict[str, Any], grads: dict[str, Any], m: int, weights: Any, /, *, xp: Any) -> Any:
        d = m if weights is None else xp.sum(weights)
        value = l2_penalty([W for k, W in params.items() if k.startswith("W")], self.alpha, d, xp=xp)
        l2_gradient(grads, params, self.alpha, d)
        return value


def l2_penalty(weights: list[Any], alpha: float, denominator: Any, /, *, xp: Any) -> Any:
    """MLP's L2 term (α/2) Σ_l ‖W^[l]‖² / d, d = m or Σ s_i (biases are not penalised)."""
    total = sum(xp.sum(W * W) for W in weights)
    return total * (0.5 * alpha) / denominator


def l2_gradient(grads: dict[str, Any], params: dict[str, Any], alpha: float, denominator: Any) -> None:
    """Add (α/d) W^[l] to each dW^[l] in place, d = m or Σ s_i."""
    if alpha == 0:
        return
    for name, W in params.items():
        if name.startswith("W"):
            grads[name] += W * (alpha / denominator)
