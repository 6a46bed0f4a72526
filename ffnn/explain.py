"""Seed H worked through for one parameter: each factor of H's chain, their product,
backpropagation's value and the central finite difference, side by side (MATH.md §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends import get_backend

from ._validation import is_integer
from .gradcheck import numerical_partial
from .network import Network

__all__ = ["ChainFactor", "ExplainedGradient", "explain_gradient"]


@dataclass(frozen=True)
class ChainFactor:
    """One factor of H's chain.

    Attributes
    ----------
    label : str
        What it is, e.g. ``"σ'(z^[3])"`` or ``"W^[3]ᵀ (H) = W^[3] (ffnn)"``.
    values : list of numpy arrays
        Its value for each example e (a scalar, a row or a matrix), in float64.
    """

    label: str
    values: list[np.ndarray]


@dataclass(frozen=True)
class ExplainedGradient:
    """H's derivation of dJ/dθ for one parameter θ, next to backpropagation and the
    finite difference. ``str()`` gives the table.

    Attributes
    ----------
    parameter : str
        θ in ffnn's 0-based indices, e.g. ``"W^[2][0, 1]"`` or ``"b^[3][0]"``.
    h_parameter : str
        The same θ in H's notation, e.g. ``"w^[2]_{2,1}"`` (H's z = Wᵀa + b: H's
        w^[l]_{i,j} is ffnn's W^[l][j−1, i−1]).
    factors : list of ChainFactor
        In H's order: loss factor ∂loss/∂ŷ, σ'(z^[L]), then W^[k]ᵀ and g^[k−1]'(z^[k−1])
        for k = L..l+1, then a^[l−1]_i (weights) or 1 (biases).
    per_example : numpy array (m,)
        The product of the factors for each example (the chain, then θ's entry).
    chain : float
        (1/m) Σ_e per_example — H's dJ/dθ.
    backprop : float
        dJ/dθ by ffnn's backpropagation (float64, on the network's backend).
    finite_difference : float
        (J(θ + ε) − J(θ − ε)) / 2ε (ffnn's gradient check; H has none).
    eps : float
    """

    parameter: str
    h_parameter: str
    factors: list[ChainFactor]
    per_example: np.ndarray
    chain: float
    backprop: float
    finite_difference: float
    eps: float
    max_examples: int = field(default=6, repr=False)

    def __str__(self) -> str:
        m = len(self.per_example)
        shown = min(m, self.max_examples)
        head = [
            (
                f"dJ/dθ for θ = {self.parameter} (ffnn, 0-based) = {self.h_parameter} (seed H, whose z = Wᵀa + b: "
                f"H's w^[l]_{{i,j}} is ffnn's W^[l][j−1, i−1])"
            ),
            f"H's chain, per example e (MATH.md §7); {shown} of {m} examples shown",
        ]
        labels = [f.label for f in self.factors] + ["product"]
        cells = [[_fmt(f.values[e]) if e == 0 or f.values[e] is not f.values[0] else "(same)" for e in range(shown)]
                 for f in self.factors]
        cells.append([_fmt(self.per_example[e]) for e in range(shown)])
        width = max(len(s) for s in labels)
        cols = [max(len(f"e={e + 1}"), *(len(row[e]) for row in cells)) for e in range(shown)]
        lines = [" " * width + " | " + " | ".join(f"e={e + 1}".ljust(cols[e]) for e in range(shown))]
        lines.append("-" * len(lines[0]))
        for label, row in zip(labels, cells):
            lines.append(label.ljust(width) + " | " + " | ".join(c.ljust(cols[e]) for e, c in enumerate(row)))
        diff = abs(self.chain - self.backprop)
        fd, bp = self.finite_difference, self.backprop
        rel = abs(fd - bp) / max(abs(fd) + abs(bp), 1e-300)
        tail = [
            f"H's chain (1/m) Σ_e product  = {self.chain: .15e}",
            f"backpropagation (P1)         = {self.backprop: .15e}   |chain − backprop| = {diff:.1e}",
            f"finite difference (ε={self.eps:g})  = {self.finite_difference: .15e}   "
            f"relative error vs backprop = {rel:.1e}",
        ]
        return "\n".join(head + lines + tail)


def _fmt(v: Any) -> str:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0 or a.size == 1:
        return f"{float(a.reshape(())):.6g}"
    return np.array2string(a, precision=4, separator=" ", max_line_width=10_000).replace("\n", "")


def explain_gradient(
    net: Network,
    X: Any,
    y: Any,
    /,
    *,
    layer: int,
    row: int = 0,
    col: int = 0,
    bias: bool = False,
    eps: float = 1e-5,
    max_examples: int = 6,
) -> ExplainedGradient:
    """Reproduce seed H's derivation of dJ/dθ for one parameter θ (MATH.md §7).

    H's network has a sigmoid output with one node and the 2-class negative
    log-likelihood (binary cross-entropy); H shows 3 layers, and the same chain
    holds for any depth with element-wise hidden activations:
    dJ/dθ^[l] = (1/m) Σ_e ((1 − y)/(1 − ŷ) − y/ŷ) · σ'(z^[L]) · W^[L]ᵀ · g^[L−1]'(z^[L−1])
    · … · W^[l+1]ᵀ · g^[l]'(z^[l]) · {a^[l−1]_i for w^[l]_{i,j}, 1 for b^[l]_j},
    where the Wᵀ are H's (z = Wᵀa + b), i.e. ffnn's W^[k]. All factors are computed
    in float64 on the host from the network's weights.

    Parameters
    ----------
    net : Network
        Sigmoid output with one node, binary_crossentropy, element-wise hidden
        activations (any backend or dtype: a float64 copy is used).
    X : array_like, shape (m, n_in)
    y : array_like, shape (m,) or (m, 1), 0/1 labels
    layer : int
        The seeds' l, 1..L (not a 0-based index into ``net.layers``).
    row, col : int
        θ = W^[l][row, col] in ffnn's 0-based indices (H's w^[l]_{col+1, row+1});
        with ``bias=True``, θ = b^[l][row] (H's b^[l]_{row+1}) and ``col`` is ignored.
    bias : bool, default False
    eps : float
        Finite-difference step.
    max_examples : int
        Examples shown by ``str()`` (all are in the result).

    Returns
    -------
    ExplainedGradient

    Raises
    ------
    ValueError
        Another architecture (the message says what H's chain needs), a layer or
        index outside the network, bad X or y.
    """
    _check_h_architecture(net)
    L = len(net.layers)
    if not is_integer(layer) or not 1 <= layer <= L:
        msg = f"layer must be the seeds' l in 1..{L}, got {layer!r}"
        raise ValueError(msg)
    layer = int(layer)
    target = net.layers[layer - 1]
    shape = (target.n_out, 1) if bias else (target.n_out, target.n_in)
    index = (row, 0) if bias else (row, col)
    if not all(is_integer(i) and 0 <= i < n for i, n in zip(index, shape)):
        name = "b" if bias else "W"
        shown, bounds = (index[:1], shape[:1]) if bias else (index, shape)
        msg = f"index {shown} is outside {name}^[{layer}] of shape {bounds}"
        raise ValueError(msg)
    index = (int(index[0]), int(index[1]))
    check = net.copy(dtype="float64")
    x = check.inputs(X)
    Y = check.targets(y, x.shape[0])
    _, grads = check.loss_and_gradients(X, y)
    backprop = float(check.backend.to_numpy(grads[layer - 1][1 if bias else 0])[index])
    fd = numerical_partial(check, X, y, layer - 1, "b" if bias else "W", index, eps=eps)
    factors, per_example = _chain(check, check.backend.to_numpy(x).T, check.backend.to_numpy(Y).T, layer, index, bias)
    if bias:
        parameter, h_parameter = f"b^[{layer}][{row}]", f"b^[{layer}]_{row + 1}"
    else:
        parameter, h_parameter = f"W^[{layer}][{row}, {col}]", f"w^[{layer}]_{{{col + 1},{row + 1}}}"
    return ExplainedGradient(
        parameter=parameter,
        h_parameter=h_parameter,
        factors=factors,
        per_example=per_example,
        chain=float(np.mean(per_example)),
        backprop=backprop,
        finite_difference=fd,
        eps=eps,
        max_examples=max_examples,
    )


def _check_h_architecture(net: Network) -> None:
    problems = []
    if net.loss.name != "binary_crossentropy":
        problems.append(f"loss {net.loss.name} (H uses binary_crossentropy)")
    out = net.layers[-1]
    if out.activation.name != "sigmoid" or out.n_out != 1:
        problems.append(f"output {out.activation.name} with {out.n_out} nodes (H: sigmoid, 1 node)")
    hidden = [la.activation.name for la in net.layers[:-1] if not la.activation.elementwise]
    if hidden:
        problems.append(f"hidden activations {', '.join(hidden)} (H's chain needs element-wise ones)")
    if problems:
        msg = (
            "H's chain (MATH.md §7) is derived for a sigmoid output with one node, binary cross-entropy and "
            f"element-wise hidden activations; this network has {'; '.join(problems)}. "
            "Use ffnn.gradcheck for other architectures"
        )
        raise ValueError(msg)


def _chain(
    net: Network, X: np.ndarray, Y: np.ndarray, l: int, index: tuple[int, int], bias: bool
) -> tuple[list[ChainFactor], np.ndarray]:
    """H's factors per example, from a host float64 forward pass (numpy namespace)."""
    xp = get_backend("numpy").xp
    Ws = [np.asarray(w) for w in net.get_weights()]
    A, Z = [X], [None]
    for k, layer in enumerate(net.layers):
        z = Ws[2 * k] @ A[-1] + Ws[2 * k + 1]
        Z.append(z)
        A.append(np.asarray(layer.activation.forward(z, xp=xp)))
    L, m = len(net.layers), X.shape[1]
    yhat, yy = A[L][0], Y[0]
    loss = (1 - yy) / (1 - yhat) - yy / yhat
    sig = np.asarray(net.layers[-1].activation.derivative(A[L], Z[L], xp=xp))[0]
    factors = [
        ChainFactor("loss factor (1−y)/(1−ŷ) − y/ŷ", list(loss)),
        ChainFactor(f"σ'(z^[{L}]) = σ(1 − σ)", list(sig)),
    ]
    v = (loss * sig)[None, :]  # (1, m): dloss/dz^[L], one column per example
    for k in range(L, l, -1):
        W = Ws[2 * (k - 1)]
        d = np.asarray(net.layers[k - 2].activation.derivative(A[k - 1], Z[k - 1], xp=xp))
        factors.append(ChainFactor(f"W^[{k}]ᵀ (H) = W^[{k}] (ffnn)", [W] * m))
        factors.append(ChainFactor(f"{net.layers[k - 2].activation.name}'(z^[{k - 1}])", list(d.T)))
        v = (W.T @ v) * d
    j, i = index
    end = np.ones(m) if bias else A[l - 1][i]
    factors.append(ChainFactor("1 (bias)" if bias else f"a^[{l - 1}]_{i + 1} (H) = A^[{l - 1}][{i}]", list(end)))
    return factors, v[j] * end
