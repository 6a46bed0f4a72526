"""Explicit Jacobian matrices (L6, P1 (18), P2) for teaching and verification.

Nothing here is used on the training path: the tests prove that each vectorized
rule of :mod:`ffnn.activations`, :mod:`ffnn.losses` and :mod:`ffnn.layers` equals
the product with these matrices. Vectors of a batch are stacked example by example:
vec(A)[i·n + j] = A[j, i] (column i is example i). A weight matrix is flattened row
by row: vec_rows(W)[j·n_in + k] = W[j, k].

Diagonal matrices (L6, MATH.md §6) obey diag(a) + diag(b) = diag(a + b),
diag(a) diag(b) = diag(a ⊙ b), diag(a)⁻¹ = diag(1/a) for non-zero a and
diag(a) v = a ⊙ v; the last is why no training rule ever builds a diagonal matrix
(the tests check all four with :func:`diag`).
"""

from __future__ import annotations

from collections.abc import Callable

from backends import device_of

from ._types import Array, Namespace
from .activations import Activation, get_activation
from .losses import Loss, example_scale, get_loss
from .network import Network

__all__ = [
    "activation_jacobian",
    "batch_activation_jacobian",
    "batch_dense_jacobians",
    "binary_jacobians",
    "cost_jacobian",
    "dense_activation_jacobians",
    "dense_jacobians",
    "diag",
    "loss_split_jacobians",
    "network_input_jacobian",
    "neuron_jacobians",
    "unary_jacobian",
    "vec",
]


def diag(v: Array, /, *, xp: Namespace) -> Array:
    """L6's diag(v): the (n, n) matrix with the 1-D ``v`` on its diagonal."""
    n = v.shape[0]
    return xp.eye(n, dtype=v.dtype, device=device_of(v)) * xp.reshape(v, (1, n))


def vec(A: Array, /, *, xp: Namespace) -> Array:
    """Stack the columns (examples) of A (n, m) into one vector of length n·m."""
    return xp.reshape(A.T, (-1,))


def unary_jacobian(df: Callable[[Array], Array], x: Array, /, *, xp: Namespace) -> Array:
    """∂f(x)/∂x = diag(f_1'(x_1), …, f_n'(x_n)) for a unary element-wise f (L6).

    Parameters
    ----------
    df : callable
        f' applied element-wise to a 1-D array (e.g. ``lambda x: 1 / x + xp.exp(x)``
        for L6's exercise f(x) = ln x + eˣ).
    x : array (n,)

    Returns
    -------
    array (n, n)
        Diagonal: f_i depends on x_i alone, so every off-diagonal partial is 0.
    """
    return diag(df(x), xp=xp)


_BINARY_OPS: dict[str, tuple[Callable[[Array, Array, Namespace], Array], Callable[[Array, Array, Namespace], Array]]] = {
    "add": (lambda u, v, xp: xp.ones_like(u), lambda u, v, xp: xp.ones_like(v)),
    "subtract": (lambda u, v, xp: xp.ones_like(u), lambda u, v, xp: -xp.ones_like(v)),
    "multiply": (lambda u, v, xp: v, lambda u, v, xp: u),
}


def binary_jacobians(op: str | tuple[Callable[..., Array], Callable[..., Array]], u: Array, v: Array, /, *, xp: Namespace) -> tuple[Array, Array]:
    """(∂w/∂u, ∂w/∂v) of a binary element-wise w_i = f_i(u_i, v_i) (L6).

    The general form is (diag(∂f_i/∂u_i), diag(∂f_i/∂v_i)); L6's cases:
    w = u + v → (I, I); w = u − v → (I, −I); w = u ⊙ v → (diag(v), diag(u)).

    Parameters
    ----------
    op : {"add", "subtract", "multiply"} or (df_du, df_dv)
        A named case, or two callables ``df(u, v, xp)`` giving the element-wise
        partials as 1-D arrays.
    u, v : array (n,)

    Returns
    -------
    tuple of two arrays (n, n)

    Raises
    ------
    ValueError
        An unknown operation name.
    """
    if isinstance(op, str):
        if op not in _BINARY_OPS:
            msg = f"unknown element-wise operation {op!r}; known: {', '.join(_BINARY_OPS)}, or a pair (df_du, df_dv)"
            raise ValueError(msg)
        op = _BINARY_OPS[op]
    df_du, df_dv = op
    return diag(df_du(u, v, xp), xp=xp), diag(df_dv(u, v, xp), xp=xp)


def activation_jacobian(activation: str | Activation, a: Array, z: Array = None, /, *, xp: Namespace) -> Array:
    """∂a/∂z for one example, from its output a (1-D, length n), and z when the
    activation needs it (SiLU, GELU): (n, n).

    Element-wise g: diag(g'(z)) (L6, MATH.md §6, §9). Softmax: diag(a) − a aᵀ (P2).
    ReLU uses P2's I(z > 0) on the diagonal (L6 writes z ≥ 0; MATH.md §5).
    """
    return get_activation(activation).jacobian(a, z, xp=xp)


def batch_activation_jacobian(activation: str | Activation, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
    """∂vec(A)/∂vec(Z) over a mini-batch, from A (and Z, when needed) (n, m):
    (n·m, n·m), block diagonal.

    For element-wise g it is diagonal (L6, "artificial neuron with mini-batches");
    vec(dJ/dZ) = Jᵀ vec(dJ/dA) is what P1 (17)/(18) and P2 compute column by column.
    """
    g = get_activation(activation)
    m = A.shape[1]
    blocks = xp.stack([g.jacobian(A[:, i], None if Z is None else Z[:, i], xp=xp) for i in range(m)])
    return _block_diagonal(blocks, xp=xp)


def _block_diagonal(blocks: Array, /, *, xp: Namespace) -> Array:
    """(m, r, c) blocks → the (m·r, m·c) block-diagonal matrix."""
    m, r, c = blocks.shape
    eye = xp.reshape(xp.eye(m, dtype=blocks.dtype, device=device_of(blocks)), (m, 1, m, 1))
    return xp.reshape(eye * xp.reshape(blocks, (m, r, 1, c)), (m * r, m * c))


def _row_jacobian(x: Array, n_out: int, /, *, xp: Namespace) -> Array:
    """∂z/∂vec_rows(W) of z = W x: (n_out, n_out·n_in), row j holds xᵀ in W's row j."""
    n_in = x.shape[0]
    eye = xp.eye(n_out, dtype=x.dtype, device=device_of(x))
    return xp.reshape(xp.reshape(eye, (n_out, n_out, 1)) * xp.reshape(x, (1, 1, n_in)), (n_out, n_out * n_in))


def dense_jacobians(W: Array, x: Array, /, *, xp: Namespace) -> dict[str, Array]:
    """Jacobians of z = W x + b for one example x (1-D, length n_in) (L6).

    Returns ``{"x": W, "b": I, "W": M}``: ∂z/∂x = W (n_out, n_in), ∂z/∂b = I
    (n_out, n_out), and ∂z/∂vec_rows(W) (n_out, n_out·n_in), whose row j holds xᵀ
    in the columns of W's row j and zeros elsewhere.
    """
    n_out = W.shape[0]
    eye = xp.eye(n_out, dtype=W.dtype, device=device_of(W))
    return {"x": W, "b": eye, "W": _row_jacobian(x, n_out, xp=xp)}


def dense_activation_jacobians(W: Array, b: Array, x: Array, activation: str | Activation, /, *, xp: Namespace) -> dict[str, Array]:
    """Jacobians of a = g(W x + b), the dense layer with its activation, for one
    example x (1-D) (L6; MATH.md §6):

    ∂a/∂vec_rows(W) = (∂a/∂z) ∂z/∂vec_rows(W), ∂a/∂b = ∂a/∂z, ∂a/∂x = (∂a/∂z) W,
    with ∂a/∂z = diag(g'(z)) for element-wise g (diag(a) − a aᵀ for softmax).
    ``b`` is (n_out,) or (n_out, 1). L6 drops the ∂a/∂z factor in one row of ∂a/∂w
    and ∂a/∂x; these are the full products. Returns ``{"W", "b", "x", "z", "a"}``.
    """
    g = get_activation(activation)
    z = W @ x + xp.reshape(b, (-1,))
    a = g.forward(xp.reshape(z, (-1, 1)), xp=xp)[:, 0]
    Jz = g.jacobian(a, z, xp=xp)
    return {"W": Jz @ _row_jacobian(x, W.shape[0], xp=xp), "b": Jz, "x": Jz @ W, "z": z, "a": a}


def batch_dense_jacobians(W: Array, X: Array, /, *, xp: Namespace) -> dict[str, Array]:
    """Jacobians of Z = W X + broadcast(b) over a mini-batch X (n_in, m), P1 (5):

    ``"b"``: ∂vec(Z)/∂b (n_out·m, n_out), the identity stacked m times, so
    (∂vec(Z)/∂b)ᵀ vec(dJ/dZ) = Σ_{axis=1} dJ/dZ — the bias-gradient sum of P1 (16);
    ``"W"``: ∂vec(Z)/∂vec_rows(W) (n_out·m, n_out·n_in), example i's block as in
    :func:`dense_jacobians` — its product gives P1 (15) dJ/dZ Xᵀ;
    ``"X"``: ∂vec(Z)/∂vec(X) (n_out·m, n_in·m), block diagonal with W — P1 (22).
    """
    n_out = W.shape[0]
    m = X.shape[1]
    eye = xp.eye(n_out, dtype=W.dtype, device=device_of(W))
    return {
        "b": xp.concat([eye] * m, axis=0),
        "W": xp.concat([_row_jacobian(X[:, i], n_out, xp=xp) for i in range(m)], axis=0),
        "X": _block_diagonal(xp.stack([W] * m), xp=xp),
    }


def neuron_jacobians(X: Array, w: Array, b: Array, /, *, activation: str | Activation = "linear", xp: Namespace) -> dict[str, Array]:
    """The artificial neuron over a mini-batch (L6), in L6's layout: the N examples
    are the ROWS of X (N, n), z = X w + b·1 (N,), a = g(z) for an element-wise g.

    Returns a dict with
    ``"z"``, ``"a"`` (N,);
    ``"z_w"`` = ∂z/∂w = X (N, n); ``"z_b"`` = ∂z/∂b = 1 (N, 1);
    ``"z_x"`` = ∂z^(i)/∂x^(i) = wᵀ (1, n), the same for every example;
    ``"a_w"`` = ∂a/∂w = diag(g'(z)) X (N, n); ``"a_b"`` = ∂a/∂b = g'(z) (N, 1);
    ``"a_x"`` (N, n): row i is ∂a^(i)/∂x^(i) = g'(z^(i)) wᵀ.
    With the sigmoid, g'(z) = a ⊙ (1 − a) (MATH.md §6). ∂a/∂z = diag(g'(z)) is N×N
    diagonal: example i's output depends on its own z^(i) only.

    Raises
    ------
    ValueError
        A coupled activation (softmax): a neuron has one output.
    """
    g = get_activation(activation)
    if not g.elementwise:
        msg = f"a single neuron needs an element-wise activation, got {g.name}"
        raise ValueError(msg)
    N = X.shape[0]
    z = X @ w + b
    Zr = xp.reshape(z, (1, N))
    a = g.forward(Zr, xp=xp)
    d = g.derivative(a, Zr, xp=xp)[0, :]
    wt = xp.reshape(w, (1, -1))
    ones = xp.ones((N, 1), dtype=X.dtype, device=device_of(X))
    return {
        "z": z, "a": a[0, :], "z_w": X, "z_b": ones, "z_x": wt,
        "a_w": diag(d, xp=xp) @ X, "a_b": xp.reshape(d, (N, 1)), "a_x": xp.reshape(d, (N, 1)) * wt,
    }


def loss_split_jacobians(loss: str | Loss, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> tuple[Array, Array]:
    """The batch cost's two factors (L6; MATH.md §6): J = (1/N) Σ_i J0^(i).

    Returns
    -------
    dJ_dJ0 : array (1, N)
        ∂J/∂J0 = (1/N)·1ᵀ (with example weights s: sᵀ / Σ s).
    dJ0_dyhat : array (N, n·N)
        ∂J0/∂vec(Ŷ): row i holds ∂J0^(i)/∂ŷ^(i) in example i's block and zeros
        elsewhere — diagonal (N×N) for one output, block diagonal in general. It has
        NO 1/N inside; L6 labels it ∂J/∂J0^(i), a typo.
    Their product is :func:`cost_jacobian`.
    """
    f = get_loss(loss)
    n, N = A.shape
    rows = xp.stack([xp.reshape(f.example_gradient(A[:, i], Y[:, i], xp=xp), (1, n)) for i in range(N)])
    scale = example_scale(N, weights, xp=xp)
    ones = xp.ones((1, N), dtype=A.dtype, device=device_of(A))
    return ones * scale, _block_diagonal(rows, xp=xp)


def cost_jacobian(loss: str | Loss, A: Array, Y: Array, /, *, xp: Namespace, weights: Array = None) -> Array:
    """∂J/∂vec(Ŷ) for the batch cost J = (1/m) Σ_i J0^(i): a row (1, n·m).

    L6's product ∂J/∂J0 · ∂J0/∂ŷ = (1/m)·1ᵀ · diag(∂J0^(i)/∂ŷ^(i)): the 1/m is the
    first factor, the diagonal holds the per-example derivatives without it
    (:func:`loss_split_jacobians`). With example weights, 1/m becomes s_i / Σ s.
    """
    dJ_dJ0, dJ0_dyhat = loss_split_jacobians(loss, A, Y, xp=xp, weights=weights)
    return dJ_dJ0 @ dJ0_dyhat


def network_input_jacobian(net: Network, x: Array, /) -> Array:
    """∂ŷ/∂x of the whole network at one input x (1-D, length n_in): (n_out, n_in).

    The chain rule as products of explicit Jacobians: Π_l (∂a^[l]/∂z^[l]) W^[l].
    """
    xp = net.xp
    a = net.inputs(xp.reshape(net.backend.asarray(x), (1, -1)) if hasattr(x, "shape") else [list(x)]).T
    J = xp.eye(net.n_in, dtype=a.dtype, device=device_of(a))
    for layer in net.layers:
        z = layer.W @ a + layer.b
        a = layer.activation.forward(z, xp=xp)
        J = layer.activation.jacobian(a[:, 0], z[:, 0], xp=xp) @ (layer.W @ J)
    return J
