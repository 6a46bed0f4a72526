"""Cost functions J (mean over the batch), their backpropagation seeds dJ/dA^[L], and
the fused output gradients dJ/dZ^[L] (MATH.md §4: P3, L6, H).

Arrays use the seeds' layout, one example per COLUMN: A, Y, Z of shape (n^[L], m).
The 1/m of the mean cost lives here, in the seed, never in P1 (15)/(16).

Sample weights: every cost and gradient takes ``weights=None`` or a (1, m) row s of
non-negative per-example weights, which turns the mean into the weighted mean
J = Σ_i s_i J0^(i) / Σ_i s_i, so that dJ/dŷ^(i) carries s_i / Σ s instead of 1/m.
With ``weights=None`` the code is the unweighted one (no extra array work).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from backends import Backend, constant, device_of, reductions, total

from ._numerics import softmax_and_log
from ._registry import Registry
from ._types import Array, Namespace
from ._validation import targets_with_labels

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "Loss",
    "MeanSquaredError",
    "check_cross_entropy_targets",
    "check_sample_weights",
    "checked_targets",
    "clamp_probability",
    "example_scale",
    "get_loss",
    "log_methods",
]


def clamp_probability(A: Array, /, *, xp: Namespace) -> Array:
    """Clamp probabilities into [ε, 1 − ε], ε = the dtype's machine epsilon (seed H).

    Keeps log and the divisions of the BCE/CCE seeds finite.
    """
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1 - eps)


def example_scale(m: int, weights: Array = None, /, *, xp: Namespace) -> Array:
    """The factor ∂J/∂J0^(i) of each example: 1/m (a Python float) without weights,
    else the (1, m) row s / Σ s (L6's ∂J/∂J0 = (1/N)1ᵀ, weighted). Stays on the device."""
    if weights is None:
        return 1 / m
    return weights / xp.sum(weights)


def _mean(per_entry: Array, weights: Array, /, *, xp: Namespace) -> Array:
    """(1/m) Σ of an (n, m) array, or Σ_i s_i Σ_j per_entry_{j,i} / Σ s (weighted)."""
    if weights is None:
        return total(xp)(per_entry) * constant(1 / per_entry.shape[1], per_entry)
    return xp.sum(xp.sum(per_entry, axis=0, keepdims=True) * weights) / xp.sum(weights)


def check_cross_entropy_targets(Y: Array, /, *, xp: Namespace, loss: str = "categorical_crossentropy") -> None:
    """Refuse targets a cross-entropy cannot take (issue 11).

    Both cross-entropies: negative entries (their cost has no lower bound).
    binary_crossentropy: entries above 1 (1 − y < 0, same reason). categorical_crossentropy:
    examples whose targets are all zero (their loss is 0 whatever Ŷ is, so they would
    silently not train). Non-negative targets whose columns do not sum to 1 are
    accepted: the fused softmax gradient uses P3 (6)'s general form, exact for them.

    Parameters
    ----------
    Y : array (n, m)
        Targets, one example per column, on any backend. Read from the device once
        (validation, never per batch).
    loss : {"categorical_crossentropy", "binary_crossentropy"}

    Raises
    ------
    ValueError
        Naming the first offending example (column) and the fix.
    """
    bad = xp.any(Y < 0, axis=0)
    rule = "must be non-negative"
    if loss == "binary_crossentropy":
        bad = bad | xp.any(Y > 1, axis=0)
        rule = "must lie in [0, 1]"
    if bool(xp.any(bad)):
        i = int(xp.argmax(xp.astype(bad, xp.int32)))
        msg = f"{loss} targets {rule}, but example {i} has a target outside; use probabilities or 0/1 labels"
        raise ValueError(msg)
    if loss != "binary_crossentropy":
        empty = xp.all(Y == 0, axis=0)
        if bool(xp.any(empty)):
            i = int(xp.argmax(xp.astype(empty, xp.int32)))
            msg = (
                f"{loss} targets of example {i} are all zero, so its cost does not depend on the prediction; "
                f"give each example a class label, a one-hot row or a probability row"
            )
            raise ValueError(msg)


def checked_targets(
    Y: Any, backend: Backend, dtype: str, loss_name: str, n_out: int, m: int, /, *, name: str = "Y"
) -> tuple[Array, Array | None]:
    """Targets a network with loss ``loss_name`` can train on: (targets (m, n_out) on
    ``backend`` in ``dtype``, the integer labels (m,) they were one-hot encoded from or
    None), validated by :func:`ffnn._validation.targets_with_labels` and, for the
    cross-entropies, :func:`check_cross_entropy_targets`. One-hot rows made from class
    labels meet those rules by construction (non-negative, one 1 per example), so
    only targets given as arrays of values are read again.

    Raises
    ------
    TypeError, ValueError
        As the two checks do, naming ``name``.
    """
    y, labels = targets_with_labels(Y, backend, dtype, loss_name, n_out, m, name=name)
    if labels is None and loss_name in ("categorical_crossentropy", "binary_crossentropy"):
        check_cross_entropy_targets(y.T, xp=backend.xp, loss=loss_name)
    return y, labels


def check_sample_weights(weights: Array, m: int, /, *, xp: Namespace) -> None:
    """Refuse example weights the weighted cost J = Σ_i s_i J0^(i) / Σ_i s_i cannot use.

    ``weights`` must be a (1, m) row (the layout every cost takes) of finite,
    non-negative values with a positive sum. Reads the device once (validation, never
    per batch).

    Raises
    ------
    ValueError
        Wrong shape, a negative or non-finite weight (naming the first example), or
        weights that are all zero.
    """
    if tuple(weights.shape) != (1, m):
        msg = f"sample weights must have one value per example, shape (1, {m}), got {tuple(weights.shape)}"
        raise ValueError(msg)
    bad = (weights < 0) | ~xp.isfinite(weights)
    if bool(xp.any(bad)):
        i = int(xp.argmax(xp.astype(bad[0, :], xp.int32)))
        msg = f"sample weights must be finite and non-negative, but example {i} has {float(weights[0, i])}"
        raise ValueError(msg)
    if not bool(xp.sum(weights) > 0):
        msg = "sample weights are all zero, so the weighted cost Σ s_i J0^(i) / Σ s_i is undefined; give some example a positive weight"
        raise ValueError(msg)


class Loss:
    """Base class of a cost J = (1/m) Σ_i J0^(i) over the m columns of a batch
    (weighted: J = Σ_i s_i J0^(i) / Σ_i s_i).

    Every method takes ``weights=None`` or a (1, m) row of non-negative example
    weights s (on the same device and dtype); the 1/m of the seeds becomes s_i / Σ s.

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

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        """J for predictions A and targets Y, both (n, m); a 0-d array."""
        raise NotImplementedError

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        """The backpropagation seed dJ/dA^[L], shape (n, m)."""
        raise NotImplementedError

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        """J computed from Z^[L] for the fused output activation; a 0-d array."""
        raise NotImplementedError

    def fused_gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        """dJ/dZ^[L] for the fused output activation: (1/m)(A − Y) (P3 (3)/(9))."""
        return (A - Y) * example_scale(A.shape[1], weights, xp=xp)

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        """∂J0/∂ŷ for ONE example (1-D ``a``, ``y``), written per element as L6 does
        (no 1/m: that is the separate factor ∂J/∂J0, MATH.md §6).

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

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        D = Y - A
        return _mean(D * D, weights, xp=xp)

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        if weights is None:
            return (A - Y) * (2 / A.shape[1])
        return (A - Y) * (2 * example_scale(A.shape[1], weights, xp=xp))

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return self.cost(Z, Y, xp=xp, weights=weights)

    def fused_gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return self.gradient(A, Y, xp=xp, weights=weights)

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        return -2 * (y - a)


class BinaryCrossEntropy(Loss):
    """Binary (and multi-label) cross-entropy (L6, H, P3 (1)/(7)).

    J = −(1/m) Σ (Y ⊙ log Ŷ + (1 − Y) ⊙ log(1 − Ŷ)), summed over output nodes;
    seed P3 (2)/(8) dJ/dŶ = (1/m)(Ŷ − Y) / (Ŷ ⊙ (1 − Ŷ)), with Ŷ clamped to
    [ε, 1 − ε] (H). Fused with sigmoid, P3 (3)/(9): dJ/dZ = (1/m)(Ŷ − Y), exact for
    any Y in [0, 1]; J from Z by the softplus form
    J = (1/m) Σ (max(Z, 0) − Y ⊙ Z + log(1 + exp(−|Z|))).
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        P = clamp_probability(A, xp=xp)
        return -_mean(Y * xp.log(P) + (1 - Y) * xp.log(1 - P), weights, xp=xp)

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        P = clamp_probability(A, xp=xp)
        return (P - Y) / (P * (1 - P)) * example_scale(A.shape[1], weights, xp=xp)

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        zero = xp.zeros((), dtype=Z.dtype, device=device_of(Z))
        softplus = xp.maximum(Z, zero) + xp.log1p(xp.exp(-xp.abs(Z)))
        return _mean(softplus - Y * Z, weights, xp=xp)

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        p = clamp_probability(a, xp=xp)
        return (1 - y) / (1 - p) - y / p


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy, P3 (4): J = −(1/m) Σ Y ⊙ log Ŷ for one-hot or soft Y.

    Seed P3 (5): dJ/dŶ = −(1/m) Y / Ŷ, Ŷ clamped to [ε, 1 − ε]. Fused with softmax,
    P3 (6) in its general form (MATH.md §4):
    dJ/dZ = (1/m)(Ŷ ⊙ broadcast(Σ_{axis=0} Y) − Y), exact for every non-negative Y
    (it is (1/m)(Ŷ − Y) when each column of Y sums to 1). J from Z by log-sum-exp,
    J = −(1/m) Σ Y ⊙ (Z − max − log Σ_{axis=0} exp(Z − max)).
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return -_mean(Y * xp.log(clamp_probability(A, xp=xp)), weights, xp=xp)

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return -Y / clamp_probability(A, xp=xp) * example_scale(A.shape[1], weights, xp=xp)

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return self.cost_from_log_probabilities(softmax_and_log(Z, xp=xp)[1], Y, xp=xp, weights=weights)

    def cost_from_log_probabilities(
        self, log_A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None
    ) -> Array:
        """P3 (4) J = −(1/m) Σ Y ⊙ log Ŷ from log Ŷ itself (the log-softmax the forward pass
        computed alongside Ŷ: :meth:`ffnn.activations.Softmax.forward_log`), so the
        cost of a training step costs no second exp. Equal, bit for bit, to
        :meth:`cost_from_logits` of the same Z."""
        return -_mean(Y * log_A, weights, xp=xp)

    def fused_gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        dZ = A * reductions(xp)[0](Y, 0)
        dZ -= Y
        dZ *= constant(1 / A.shape[1], dZ) if weights is None else example_scale(A.shape[1], weights, xp=xp)
        return dZ

    def log_kernels(self, like: Array, /, *, xp: Namespace) -> tuple[Callable[..., Array], Callable[..., Array]]:
        """``(cost(log_A, Y), gradient(A, Y))``: :meth:`cost_from_log_probabilities`
        (P3 (4), J = −(1/m) Σ Y ⊙ log Ŷ, a 0-d array) and :meth:`fused_gradient` (P3 (6),
        dJ/dZ = (1/m)(Ŷ ⊙ Σ_{axis=0} Y − Y), (n^[L], m)) without example weights, for
        ``log_A``, ``A`` and ``Y`` of shape (n^[L], m), as functions of the arrays alone
        for arrays of namespace ``xp`` with ``like``'s dtype and device: the namespace's
        calls found once, 1/m from :func:`backends.constant` of the operand as the
        methods take it; the same operations, bit for bit. The plain training pass calls
        them at every batch (:meth:`ffnn.network.Passes.train_plain`). A subclass that
        redefines either method gets :func:`log_methods`."""
        own, cls = CategoricalCrossEntropy, type(self)
        if cls.cost_from_log_probabilities is not own.cost_from_log_probabilities or (
            cls.fused_gradient is not own.fused_gradient
        ):
            return log_methods(self, xp)
        sum_all, sum_along = total(xp), reductions(xp)[0]

        def cost(log_A: Array, Y: Array) -> Array:
            per_entry = Y * log_A
            return -(sum_all(per_entry) * constant(1 / per_entry.shape[1], per_entry))

        def gradient(A: Array, Y: Array) -> Array:
            dZ = A * sum_along(Y, 0)
            dZ -= Y
            dZ *= constant(1 / A.shape[1], dZ)
            return dZ

        return cost, gradient

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        return -y / clamp_probability(a, xp=xp)


def log_methods(loss: Any, xp: Namespace) -> tuple[Callable[..., Array], Callable[..., Array]]:
    """``loss``'s :meth:`~CategoricalCrossEntropy.cost_from_log_probabilities` and
    ``fused_gradient`` with ``xp`` bound: the calling convention of
    :meth:`CategoricalCrossEntropy.log_kernels`, for arrays of any dtype and for a loss
    whose own rules the kernels do not state."""
    return functools.partial(loss.cost_from_log_probabilities, xp=xp), functools.partial(loss.fused_gradient, xp=xp)


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


class HalfSquaredError(Loss):
    """Half the squared error: J = (1/2m) Σ_i Σ_j (y_ji − ŷ_ji)² (L6 with a factor ½);
    seed dJ/dŶ = (1/m)(Ŷ − Y), which is also the fused dJ/dZ^[L] with a linear
    output (P3's (1/m)(A − Y) form). It is MSE / 2: same minimiser, unit seed.
    Weighted: J = Σ_i s_i J0^(i) / Σ_i s_i.
    """

    name = "half_squared_error"
    fused_activation = "linear"

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        D = Y - A
        return _mean(D * D, weights, xp=xp) * 0.5

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return (A - Y) * example_scale(A.shape[1], weights, xp=xp)

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return self.cost(Z, Y, xp=xp, weights=weights)

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        return a - y


def poisson_terms(A: Array, Y: Array, /, *, xp: Namespace) -> Array:
    """y log(y/ŷ) − y + ŷ element-wise (half the Poisson deviance), with 0 log 0 = 0."""
    ratio = xp.where(Y > 0, Y / A, xp.ones_like(A))
    return Y * xp.log(ratio) - Y + A


class Poisson(Loss):
    """Half the Poisson deviance for counts/rates y ≥ 0 and predictions ŷ > 0:
    J = (1/m) Σ_i Σ_j (y log(y/ŷ) − y + ŷ) (0 log 0 = 0); seed dJ/dŶ = (1/m)(1 − Y/Ŷ).
    Fused with the exponential output (ŷ = eᶻ, :class:`ffnn.activations.Exp`):
    dJ/dZ = (1/m)(Ŷ − Y). Weighted: J = Σ_i s_i J0^(i) / Σ_i s_i.
    """

    name = "poisson"
    fused_activation = "exp"

    def cost(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return _mean(poisson_terms(A, Y, xp=xp), weights, xp=xp)

    def gradient(self, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return (1 - Y / A) * example_scale(A.shape[1], weights, xp=xp)

    def cost_from_logits(self, Z: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
        return self.cost(xp.exp(Z), Y, xp=xp, weights=weights)

    def example_gradient(self, a: Array, y: Array, /, *, xp: Namespace) -> Array:
        return 1 - y / a


for _new in (HalfSquaredError(), Poisson()):
    LOSSES.register(_new.name, _new)
__all__ += ["HalfSquaredError", "Poisson", "poisson_terms"]  # noqa: PLE0605
