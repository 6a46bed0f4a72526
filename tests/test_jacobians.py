"""Explicit Jacobians (L6) against the vectorized dense-layer rules and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import ffnn
from backends import Backend, to_numpy
from ffnn import Dense, Network, jacobians
from tests.helpers import assert_allclose


def test_dense_jacobian_products_equal_p1_rules(backend: Backend) -> None:
    """For one example: dJ/dx = Wᵀ dJ/dz (P1 (22)), dJ/db = dJ/dz (P1 (16)),
    dJ/dW = dJ/dz xᵀ (P1 (15)), each as (∂z/∂·)ᵀ · dJ/dz with L6's matrices."""
    xp = backend.xp
    rng = np.random.default_rng(0)
    layer = Dense(4, 3, activation="linear")
    layer.W = backend.asarray(rng.normal(size=(3, 4)))
    x = backend.asarray(rng.normal(size=4))
    dz = backend.asarray(rng.normal(size=(3, 1)))
    J = jacobians.dense_jacobians(layer.W, x, xp=xp)
    dW, db, dx = layer.backward(dz, xp.reshape(x, (4, 1)), xp=xp)
    assert_allclose(J["x"].T @ dz, dx)
    assert_allclose(J["b"].T @ dz, db)
    assert_allclose(xp.reshape(J["W"].T @ dz, (3, 4)), dW)


def test_first_layer_skips_input_gradient(backend: Backend) -> None:
    layer = Dense(2, 2)
    layer.W = backend.asarray(np.eye(2))
    *_, dx = layer.backward(backend.asarray(np.ones((2, 3))), backend.asarray(np.ones((2, 3))), xp=backend.xp, need_input_grad=False)
    assert dx is None


def test_network_input_jacobian_matches_finite_differences(backend: Backend) -> None:
    net = Network(
        [Dense(3, 5, activation="tanh"), Dense(5, 4, activation="sigmoid"), Dense(4, 2, activation="softmax")],
        loss="cce", backend=backend, dtype="float64", seed=2,
    )
    x = np.array([0.4, -0.3, 1.1])
    J = jacobians.network_input_jacobian(net, x)
    h = 1e-6
    cols = [(net.predict((x + h * e)[None, :]) - net.predict((x - h * e)[None, :])) / (2 * h) for e in np.eye(3)]
    numeric = np.concatenate([to_numpy(c).T for c in cols], axis=1)
    assert tuple(J.shape) == (2, 3)
    assert_allclose(J, numeric, rtol=1e-6, atol=1e-9)


def test_numerical_partial_is_seed_h_directional_derivative(backend: Backend) -> None:
    """(J(θ+ε) − J(θ−ε)) / 2ε for one weight equals that entry of backprop's dW."""
    net = Network([Dense(3, 4, activation="tanh"), Dense(4, 1, activation="sigmoid")], loss="bce",
                  backend=backend, dtype="float64", seed=5)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    _, grads = net.loss_and_gradients(X, Y)
    before = net.get_weights()
    value = ffnn.numerical_partial(net, X, Y, 0, "W", (2, 1))
    assert value == pytest.approx(float(to_numpy(grads[0][0])[2, 1]), rel=1e-7)
    for a, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the parameter was restored


def test_softmax_jacobian_structure(backend: Backend) -> None:
    xp = backend.xp
    a = backend.asarray([0.2, 0.3, 0.5])
    J = jacobians.activation_jacobian("softmax", a, xp=xp)
    expected = np.diag([0.2, 0.3, 0.5]) - np.outer([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])
    assert_allclose(J, expected)
    assert_allclose(xp.sum(J, axis=0), np.zeros(3), atol=1e-15)


# ---------------------------------------------------------------- the rest of L6
def _fd_jacobian(f, x: np.ndarray, backend: Backend, h: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of the array function f at x (any shape in, any out):
    rows follow f's output flattened row-major, columns x flattened row-major."""
    cols = []
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        cols.append((to_numpy(f(backend.asarray(up))) - to_numpy(f(backend.asarray(down)))).reshape(-1) / (2 * h))
    return np.stack(cols, axis=1)


def test_diagonal_identities(backend: Backend) -> None:
    """L6: diag(a) + diag(b) = diag(a + b), diag(a) diag(b) = diag(a ⊙ b),
    diag(a)⁻¹ = diag(1/a), diag(a) v = a ⊙ v."""
    xp = backend.xp
    rng = np.random.default_rng(3)
    a, b, v = (backend.asarray(rng.uniform(0.5, 2.0, size=4)) for _ in range(3))
    D = jacobians.diag
    assert_allclose(D(a, xp=xp) + D(b, xp=xp), D(a + b, xp=xp))
    assert_allclose(D(a, xp=xp) @ D(b, xp=xp), D(a * b, xp=xp))
    assert_allclose(D(a, xp=xp) @ D(1 / a, xp=xp), np.eye(4))
    assert_allclose(D(a, xp=xp) @ v, a * v)
    assert_allclose(D(a, xp=xp), np.diag(to_numpy(a)), rtol=0, atol=0)


def test_unary_jacobian_l6_exercises(backend: Backend) -> None:
    """L6's exercises: f(x) = x → I; f(x) = ln x + eˣ → diag(1/x + eˣ); both against
    central differences of f and against the vectorized rule f'(x) ⊙ v."""
    xp = backend.xp
    x_host = np.array([0.5, 1.3, 2.2])
    x = backend.asarray(x_host)
    J_id = jacobians.unary_jacobian(lambda t: xp.ones_like(t), x, xp=xp)
    assert_allclose(J_id, np.eye(3), rtol=0, atol=0)
    J = jacobians.unary_jacobian(lambda t: 1 / t + xp.exp(t), x, xp=xp)
    assert_allclose(J, np.diag(1 / x_host + np.exp(x_host)))
    assert_allclose(J, _fd_jacobian(lambda t: xp.log(t) + xp.exp(t), x_host, backend), rtol=1e-8)
    v = backend.asarray([1.0, -2.0, 0.5])
    assert_allclose(J.T @ v, (1 / x + xp.exp(x)) * v)


@pytest.mark.parametrize("op", ["add", "subtract", "multiply"])
def test_binary_jacobians(backend: Backend, op: str) -> None:
    """L6: u + v → (I, I); u − v → (I, −I); u ⊙ v → (diag(v), diag(u)); against central
    differences and the vectorized backward dJ/du = (∂w/∂u)ᵀ g (g ⊙ v for ⊙)."""
    xp = backend.xp
    rng = np.random.default_rng(4)
    u_h, v_h = rng.normal(size=3), rng.normal(size=3)
    u, v = backend.asarray(u_h), backend.asarray(v_h)
    f = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b}[op]
    Ju, Jv = jacobians.binary_jacobians(op, u, v, xp=xp)
    assert_allclose(Ju, _fd_jacobian(lambda t: f(t, v), u_h, backend), rtol=1e-8, atol=1e-10)
    assert_allclose(Jv, _fd_jacobian(lambda t: f(u, t), v_h, backend), rtol=1e-8, atol=1e-10)
    expected = {"add": (np.eye(3), np.eye(3)), "subtract": (np.eye(3), -np.eye(3)),
                "multiply": (np.diag(v_h), np.diag(u_h))}[op]
    assert_allclose(Ju, expected[0], rtol=0, atol=0)
    assert_allclose(Jv, expected[1], rtol=0, atol=0)
    g = backend.asarray(rng.normal(size=3))
    rule = {"add": (g, g), "subtract": (g, -g), "multiply": (g * v, g * u)}[op]
    assert_allclose(Ju.T @ g, rule[0])
    assert_allclose(Jv.T @ g, rule[1])


def test_binary_jacobians_general_form(backend: Backend) -> None:
    """A user-given w_i = u_i² v_i: (diag(2uv), diag(u²)), against central differences."""
    xp = backend.xp
    u_h, v_h = np.array([0.3, -1.0]), np.array([2.0, 0.7])
    u, v = backend.asarray(u_h), backend.asarray(v_h)
    Ju, Jv = jacobians.binary_jacobians((lambda a, b, _: 2 * a * b, lambda a, b, _: a * a), u, v, xp=xp)
    assert_allclose(Ju, _fd_jacobian(lambda t: t * t * v, u_h, backend), rtol=1e-8)
    assert_allclose(Jv, _fd_jacobian(lambda t: u * u * t, v_h, backend), rtol=1e-8)
    with pytest.raises(ValueError, match="unknown element-wise operation 'divide'"):
        jacobians.binary_jacobians("divide", u, v, xp=xp)


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "gelu_tanh"])
def test_neuron_over_a_mini_batch(backend: Backend, activation: str) -> None:
    """L6's artificial neuron, N examples as rows: z = X w + b·1. Each Jacobian against
    central differences, and (∂·/∂w)ᵀ, (∂·/∂b)ᵀ against Dense's P1 (15)/(16)/(22)."""
    xp = backend.xp
    rng = np.random.default_rng(5)
    N, n = 6, 3
    X_h, w_h, b = rng.normal(size=(N, n)), rng.normal(size=n), 0.4
    X, w = backend.asarray(X_h), backend.asarray(w_h)
    g = ffnn.get_activation(activation)
    out = jacobians.neuron_jacobians(X, w, b, activation=activation, xp=xp)

    def a_of(Xb, wb, bb):
        return g.forward(xp.reshape(Xb @ wb + bb, (1, -1)), xp=xp)[0, :]

    assert_allclose(out["z_w"], _fd_jacobian(lambda t: X @ t + b, w_h, backend), rtol=1e-8)
    assert_allclose(out["z_b"], np.ones((N, 1)))
    assert_allclose(out["a_w"], _fd_jacobian(lambda t: a_of(X, t, b), w_h, backend), rtol=1e-7, atol=1e-10)
    assert_allclose(out["a_b"], _fd_jacobian(lambda t: a_of(X, w, t[0]), np.array([b]), backend), rtol=1e-7, atol=1e-10)
    for i in (0, N - 1):
        row = _fd_jacobian(lambda t: a_of(xp.reshape(t, (1, n)), w, b), X_h[i], backend)
        assert_allclose(out["a_x"][i : i + 1, :], row, rtol=1e-7, atol=1e-10)
        assert_allclose(out["z_x"], _fd_jacobian(lambda t: xp.reshape(t, (1, n)) @ w + b, X_h[i], backend), rtol=1e-8)
    if activation == "sigmoid":  # L6's written form: diag(a ⊙ (1 − a)) X
        a = out["a"]
        assert_allclose(out["a_w"], xp.reshape(a * (1 - a), (N, 1)) * X)
    # The training rule: the neuron is a Dense(n, 1) layer on the columns Xᵀ.
    layer = ffnn.Dense(n, 1, activation=activation)
    layer.W, layer.b = xp.reshape(w, (1, n)), backend.asarray([[b]])
    dJ_da = backend.asarray(rng.normal(size=(1, N)))
    Z, A = layer.forward(X.T, xp=xp)
    dZ = g.backward(dJ_da, A, Z, xp=xp)
    dW, db, dX = layer.backward(dZ, X.T, xp=xp)
    assert_allclose(xp.reshape(out["a_w"].T @ dJ_da[0, :], (1, n)), dW)
    assert_allclose(out["a_b"].T @ dJ_da[0, :], xp.reshape(db, (1,)))
    assert_allclose(out["a_x"] * xp.reshape(dJ_da, (N, 1)), dX.T)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "softmax", "silu", "elu"])
def test_dense_layer_with_activation(backend: Backend, activation: str) -> None:
    """L6: ∂a/∂W = (∂a/∂z)(∂z/∂W), ∂a/∂b = ∂a/∂z, ∂a/∂x = (∂a/∂z) W, against central
    differences and against Dense.backward after the activation's backward."""
    xp = backend.xp
    rng = np.random.default_rng(6)
    W_h, b_h, x_h = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    W, b, x = backend.asarray(W_h), backend.asarray(b_h), backend.asarray(x_h)
    g = ffnn.get_activation(activation)
    J = jacobians.dense_activation_jacobians(W, b, x, activation, xp=xp)

    def a_of(Wt, bt, xt):
        return g.forward(xp.reshape(Wt @ xt + bt, (-1, 1)), xp=xp)[:, 0]

    assert_allclose(J["W"], _fd_jacobian(lambda t: a_of(t, b, x), W_h, backend), rtol=1e-7, atol=1e-10)
    assert_allclose(J["b"], _fd_jacobian(lambda t: a_of(W, t, x), b_h, backend), rtol=1e-7, atol=1e-10)
    assert_allclose(J["x"], _fd_jacobian(lambda t: a_of(W, b, t), x_h, backend), rtol=1e-7, atol=1e-10)
    layer = ffnn.Dense(4, 3, activation=activation)
    layer.W, layer.b = W, xp.reshape(b, (3, 1))
    Z, A = layer.forward(xp.reshape(x, (4, 1)), xp=xp)
    da = backend.asarray(rng.normal(size=(3, 1)))
    dW, db, dx = layer.backward(g.backward(da, A, Z, xp=xp), xp.reshape(x, (4, 1)), xp=xp)
    assert_allclose(xp.reshape(J["W"].T @ da, (3, 4)), dW)
    assert_allclose(J["b"].T @ da, db)
    assert_allclose(J["x"].T @ da, dx)


def test_bias_sum_and_batch_dense_rules_over_a_mini_batch(backend: Backend) -> None:
    """P1 (16) with m > 1: (∂vec(Z)/∂b)ᵀ vec(dJ/dZ) = Σ_{axis=1} dJ/dZ; likewise P1 (15)
    and (22) over the batch; each Jacobian against central differences of Z = W X + b."""
    xp = backend.xp
    rng = np.random.default_rng(7)
    m = 5
    W_h, b_h, X_h = rng.normal(size=(3, 4)), rng.normal(size=(3, 1)), rng.normal(size=(4, m))
    W, b, X = backend.asarray(W_h), backend.asarray(b_h), backend.asarray(X_h)
    J = jacobians.batch_dense_jacobians(W, X, xp=xp)
    vecZ = lambda Wt, bt, Xt: jacobians.vec(Wt @ Xt + xp.reshape(bt, (3, 1)), xp=xp)
    assert_allclose(J["b"], _fd_jacobian(lambda t: vecZ(W, t, X), b_h[:, 0], backend), rtol=1e-8, atol=1e-10)
    assert_allclose(J["W"], _fd_jacobian(lambda t: vecZ(t, b, X), W_h, backend), rtol=1e-8, atol=1e-10)
    XT = X_h.T.copy()  # vec(X) stacks examples: the finite differences run over Xᵀ row-major
    assert_allclose(J["X"], _fd_jacobian(lambda t: vecZ(W, b, t.T), XT, backend), rtol=1e-8, atol=1e-10)
    layer = ffnn.Dense(4, 3, activation="linear")
    layer.W = W
    dZ = backend.asarray(rng.normal(size=(3, m)))
    dW, db, dX = layer.backward(dZ, X, xp=xp)
    v = jacobians.vec(dZ, xp=xp)
    assert_allclose(xp.reshape(J["b"].T @ v, (3, 1)), db)
    assert_allclose(xp.reshape(J["W"].T @ v, (3, 4)), dW)
    assert_allclose(J["X"].T @ v, jacobians.vec(dX, xp=xp))


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy"])
@pytest.mark.parametrize("n_out", [1, 3])
def test_loss_split_into_two_factors(backend: Backend, loss: str, n_out: int) -> None:
    """L6: ∂J/∂J0 = (1/N)1ᵀ and ∂J0/∂ŷ diagonal (block diagonal for n > 1) with no 1/N;
    their product equals central differences of J and the seed dJ/dŶ (vectorized)."""
    xp = backend.xp
    rng = np.random.default_rng(8)
    N = 4
    A_h = rng.uniform(0.1, 0.9, size=(n_out, N))
    Y_h = rng.integers(0, 2, size=(n_out, N)).astype(float) if loss != "mse" else rng.normal(size=(n_out, N))
    A, Y = backend.asarray(A_h), backend.asarray(Y_h)
    f = ffnn.get_loss(loss)
    dJ_dJ0, dJ0_dy = jacobians.loss_split_jacobians(loss, A, Y, xp=xp)
    assert_allclose(dJ_dJ0, np.full((1, N), 1 / N), rtol=0, atol=0)
    assert tuple(dJ0_dy.shape) == (N, n_out * N)
    per_example = lambda t: xp.stack([f.cost(t[:, i : i + 1], Y[:, i : i + 1], xp=xp) for i in range(N)])
    # J0^(i) = 1·cost of example i alone (cost of one column is J0 with m = 1): no 1/N inside
    numeric = _fd_jacobian(lambda t: per_example(xp.reshape(t, (N, n_out)).T), A_h.T.copy(), backend)
    assert_allclose(dJ0_dy, numeric, rtol=1e-7, atol=1e-9)
    if n_out == 1:
        off = to_numpy(dJ0_dy) - np.diag(np.diag(to_numpy(dJ0_dy)))
        assert np.all(off == 0)
    row = jacobians.cost_jacobian(loss, A, Y, xp=xp)
    assert_allclose(row, dJ_dJ0 @ dJ0_dy)
    assert_allclose(xp.reshape(row, (-1,)), jacobians.vec(f.gradient(A, Y, xp=xp), xp=xp))


def test_weighted_loss_split(backend: Backend) -> None:
    """With example weights s, ∂J/∂J0 = sᵀ/Σs and the product is the weighted seed."""
    xp = backend.xp
    A, Y = backend.asarray([[0.2, 0.7, 0.4]]), backend.asarray([[0.0, 1.0, 1.0]])
    s = backend.asarray([[1.0, 3.0, 0.5]])
    dJ_dJ0, _ = jacobians.loss_split_jacobians("bce", A, Y, xp=xp, weights=s)
    assert_allclose(dJ_dJ0, np.array([[1.0, 3.0, 0.5]]) / 4.5)
    row = jacobians.cost_jacobian("bce", A, Y, xp=xp, weights=s)
    assert_allclose(xp.reshape(row, (-1,)), jacobians.vec(ffnn.get_loss("bce").gradient(A, Y, xp=xp, weights=s), xp=xp))


def test_relu_jacobian_uses_p2_indicator_at_zero(backend: Backend) -> None:
    """ReLU's diag(g'(z)) has I(z > 0): 0 at z = 0 (P2), where L6 writes z ≥ 0."""
    xp = backend.xp
    J = jacobians.activation_jacobian("relu", backend.asarray([0.0, 2.0, 0.0]), xp=xp)
    assert to_numpy(J).tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("hidden", ["silu", "gelu", "leaky_relu", "elu", "softplus"])
def test_network_input_jacobian_with_e_activations(backend: Backend, hidden: str) -> None:
    net = Network([Dense(3, 4, activation=hidden), Dense(4, 2, activation="sigmoid")], loss="bce",
                  backend=backend, dtype="float64", seed=3)
    x = np.array([0.4, -0.3, 1.1])
    J = jacobians.network_input_jacobian(net, x)
    numeric = _fd_jacobian(lambda t: net.predict(xp_row(t, backend)).T, x, backend)
    assert_allclose(J, numeric.reshape(2, 3), rtol=1e-6, atol=1e-9)


def xp_row(t, backend: Backend):
    return backend.xp.reshape(t, (1, -1))
