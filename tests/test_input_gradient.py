"""dJ/dX, P1 (22) carried down to l = 1 (MATH.md §3; issue 12 §3): Network.input_gradient
against central finite differences on every backend, and training still skipping it."""

from __future__ import annotations

import numpy as np
import pytest

import ffnn.network
from backends import Backend, to_numpy
from ffnn import Dense, Network
from tests.helpers import assert_on_backend

CASES = [
    (["tanh", "relu"], "softmax", "categorical_crossentropy"),
    (["sigmoid"], "sigmoid", "binary_crossentropy"),
    (["silu", "elu"], "linear", "mse"),
    ([], "linear", "mse"),  # linear regression: dJ/dX = (2/m)(Ŷ − Y) W
]


def _problem(hidden: list[str], output: str, loss: str, backend, m: int = 6):
    rng = np.random.default_rng(8)
    sizes = [3] + [4] * len(hidden) + [2]
    layers = [Dense(a, b, activation=g) for a, b, g in zip(sizes[:-1], sizes[1:], [*hidden, output])]
    net = Network(layers, loss=loss, backend=backend, dtype="float64", seed=2)
    X = rng.normal(size=(m, 3))
    if loss == "categorical_crossentropy":
        y = rng.integers(0, 2, size=m)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, size=(m, 2)).astype(float)
    else:
        y = rng.normal(size=(m, 2))
    return net, X, y


def _cost(net: Network, X, y, weights) -> float:
    if weights is None:
        return net.cost(X, y)
    x = net.inputs(X)
    cache, Z_L = net.forward_columns(x.T)
    w = net.xp.reshape(net.backend.asarray(weights), (1, -1))
    return float(net.cost_columns(cache, Z_L, net.targets(y, x.shape[0]).T, weights=w))


@pytest.mark.parametrize("weighted", [False, True], ids=["mean", "weighted"])
@pytest.mark.parametrize(("hidden", "output", "loss"), CASES)
def test_input_gradient_equals_finite_differences(backend: Backend, hidden, output, loss, weighted) -> None:
    net, X, y = _problem(hidden, output, loss, backend)
    weights = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 3.0]) if weighted else None
    dX = net.input_gradient(X, y, sample_weight=weights)
    assert_on_backend(dX, backend, X.shape, "float64")
    got, eps, worst = to_numpy(dX), 1e-5, 0.0
    for idx in np.ndindex(X.shape):
        values = []
        for step in (eps, -eps):
            Xb = X.copy()
            Xb[idx] += step
            values.append(_cost(net, Xb, y, weights))
        fd = (values[0] - values[1]) / (2 * eps)
        worst = max(worst, abs(got[idx] - fd) / max(abs(got[idx]) + abs(fd), 1e-10))
    assert worst <= 1e-6
    if weighted:
        assert np.all(got[3] == 0)  # a zero-weight row has no gradient


def test_linear_regression_input_gradient_is_p1_22() -> None:
    net, X, y = _problem([], "linear", "mse", "numpy")
    W, b = net.get_weights()
    expected = (2 / X.shape[0]) * ((X @ W.T + b.T) - y) @ W  # rows: (dJ/dZ)ᵀ W, P1 (22) transposed
    np.testing.assert_allclose(to_numpy(net.input_gradient(X, y)), expected, rtol=1e-13, atol=1e-15)


def test_input_gradient_validates_its_arguments() -> None:
    net, X, y = _problem(["tanh"], "sigmoid", "binary_crossentropy", "numpy")
    with pytest.raises(ValueError, match="3"):
        net.input_gradient(X[:, :2], y)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        net.input_gradient(X, y, sample_weight=np.ones(2))


def test_training_never_computes_the_input_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    original = ffnn.network.affine_backward

    def recording(dZ, A_prev, W, sum_along, need_input_grad, /):
        asked.append((tuple(W.shape) == (4, 3), need_input_grad))  # layer 1's W is the only 4 × 3
        return original(dZ, A_prev, W, sum_along, need_input_grad)

    net, X, y = _problem(["tanh"], "softmax", "categorical_crossentropy", "numpy")
    monkeypatch.setattr(ffnn.network, "affine_backward", recording)
    net.fit(X, y, epochs=2, batch_size=3)
    first = [need for is_first, need in asked if is_first]
    assert len(first) == 4 and not any(first)
    asked.clear()
    net.input_gradient(X, y)
    assert (True, True) in asked
