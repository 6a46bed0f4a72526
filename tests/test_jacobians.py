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
