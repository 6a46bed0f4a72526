"""Explicit Jacobian matrices (L6, P1 (18), P2) for teaching and verification.

Nothing here is used on the training path: the tests prove that each vectorized
rule of :mod:`ffnn.activations`, :mod:`ffnn.losses` and :mod:`ffnn.layers` equals
the product with these matrices. Vectors of a batch are stacked example by example:
vec(A)[i·n + j] = A[j, i] (column i is example i).
"""

from __future__ import annotations

from typing import Any

from .activations import Activation, get_activation
from .losses import Loss, get_loss
from .network import Network

__all__ = [
    "activation_jacobian",
    "batch_activation_jacobian",
    "dense_jacobians",
    "cost_jacobian",
    "network_input_jacobian",
    "vec",
]


def vec(A: Any, /, *, xp: Any) -> Any:
    """Stack the columns (examples) of A (n, m) into one vector of length n·m."""
    return xp.reshape(A.T, (-1,))


def activation_jacobian(activation: str | Activation, a: Any, /, *, xp: Any) -> Any:
    """∂a/∂z for one example, from its output a (1-D, length n): (n, n).

    Element-wise g: diag(g'(z)) (L6). Softmax: diag(a) − a aᵀ (P2).
    """
    return get_activation(activation).jacobian(a, xp=xp)


def batch_activation_jacobian(activation: str | Activation, A: Any, /, *, xp: Any) -> Any:
    """∂vec(A)/∂vec(Z) over a mini-batch, from A (n, m): (n·m, n·m), block diagonal.

    For element-wise g it is diagonal (L6, "artificial neuron with mini-batches");
    vec(dJ/dZ) = Jᵀ vec(dJ/dA) is what P1 (17)/(18) and P2 compute column by column.
    """
    g = get_activation(activation)
    n, m = A.shape
    blocks = xp.stack([g.jacobian(A[:, i], xp=xp) for i in range(m)])
    eye = xp.reshape(xp.eye(m, dtype=A.dtype, device=A.device), (m, 1, m, 1))
    return xp.reshape(eye * xp.reshape(blocks, (m, n, 1, n)), (n * m, n * m))


def dense_jacobians(W: Any, x: Any, /, *, xp: Any) -> dict[str, Any]:
    """Jacobians of z = W x + b for one example x (1-D, length n_in) (L6).

    Returns ``{"x": W, "b": I, "W": M}``: ∂z/∂x = W (n_out, n_in), ∂z/∂b = I
    (n_out, n_out), and ∂z/∂vec_rows(W) (n_out, n_out·n_in), whose row j holds xᵀ
    in the columns of W's row j and zeros elsewhere.
    """
    n_out, n_in = W.shape
    eye = xp.eye(n_out, dtype=W.dtype, device=W.device)
    dW = xp.reshape(xp.reshape(eye, (n_out, n_out, 1)) * xp.reshape(x, (1, 1, n_in)), (n_out, n_out * n_in))
    return {"x": W, "b": eye, "W": dW}


def cost_jacobian(loss: str | Loss, A: Any, Y: Any, /, *, xp: Any) -> Any:
    """∂J/∂vec(Ŷ) for the batch cost J = (1/m) Σ_i J0^(i): a row (1, n·m).

    Built example by example from the per-example derivative ∂J0^(i)/∂ŷ^(i) (L6:
    the loss Jacobian over a batch is (1/m)·diag(∂J0^(i)/∂ŷ^(i))).
    """
    f = get_loss(loss)
    m = A.shape[1]
    parts = [f.example_gradient(A[:, i], Y[:, i], xp=xp) for i in range(m)]
    return xp.reshape(xp.concat(parts), (1, -1)) * (1 / m)


def network_input_jacobian(net: Network, x: Any, /) -> Any:
    """∂ŷ/∂x of the whole network at one input x (1-D, length n_in): (n_out, n_in).

    The chain rule as products of explicit Jacobians: Π_l (∂a^[l]/∂z^[l]) W^[l].
    """
    xp = net.xp
    a = net.inputs(xp.reshape(net.backend.asarray(x), (1, -1)) if hasattr(x, "shape") else [list(x)])
    cache, _ = net.forward_columns(a.T)
    J = xp.eye(net.n_in, dtype=cache[0].dtype, device=cache[0].device)
    for l, layer in enumerate(net.layers):
        J = layer.activation.jacobian(cache[l + 1][:, 0], xp=xp) @ (layer.W @ J)
    return J
