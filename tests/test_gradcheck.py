"""Gradient checks beyond tests/test_network.py: the one-layer networks (logistic and
linear regression), the five E activations over every cost, torch autograd on both, and
the exact sensitivity of ffnn.gradcheck itself (issue 12 §5, §6).

The network-level tests of silu and gelu need layers that cache Z for activations with
``needs_z`` (the backward(dA, A, Z) protocol of ffnn.activations)."""

from __future__ import annotations

import numpy as np
import pytest

import ffnn
from backends import Backend, to_numpy
from ffnn import Dense, Network
from tests.helpers import assert_allclose

E_ACTIVATIONS = ["leaky_relu", "elu", "softplus", "silu", "gelu", "leaky_relu(alpha=0.3)"]
COSTS = [("linear", "mse"), ("sigmoid", "binary_crossentropy"), ("softmax", "categorical_crossentropy")]
ONE_LAYER = [
    ("linear", "mse"),  # linear regression
    ("sigmoid", "binary_crossentropy"),  # logistic regression
    ("softmax", "categorical_crossentropy"),  # softmax regression
    ("sigmoid", "mse"),
]
M, N_IN, N_OUT = 6, 4, 3


def _data(loss: str, n_out: int = N_OUT) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    X = rng.normal(size=(M, N_IN))
    if loss == "categorical_crossentropy":
        return X, rng.integers(0, n_out, size=M)
    if loss == "binary_crossentropy":
        return X, rng.integers(0, 2, size=(M, n_out)).astype(float)
    return X, rng.normal(size=(M, n_out))


def _net(backend: Backend | str, hidden: list[str], output: str, loss: str, *, fuse: bool = True, n_out: int = N_OUT) -> Network:
    sizes = [N_IN] + [5] * len(hidden) + [n_out]
    acts = [*hidden, output]
    layers = [Dense(a, b, activation=g) for a, b, g in zip(sizes[:-1], sizes[1:], acts)]
    return Network(layers, loss=loss, backend=backend, dtype="float64", seed=4, fuse_output=fuse)


def _torch_forward(torch, net: Network, X: np.ndarray):
    F = torch.nn.functional
    fns = {
        "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=0), "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "silu": F.silu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    }
    params = [torch.tensor(w, requires_grad=True) for w in net.get_weights()]
    A = torch.from_numpy(X.T.copy())
    for layer, W, b in zip(net.layers, params[::2], params[1::2]):
        g = layer.activation
        if g.name == "leaky_relu":
            A = F.leaky_relu(W @ A + b, negative_slope=g.alpha)
        elif g.name == "elu":
            A = F.elu(W @ A + b, alpha=g.alpha)
        else:
            A = fns[g.name](W @ A + b)
    return A, params


def _torch_cost(torch, A, Y, loss: str):
    m = A.shape[1]
    if loss == "mse":
        return ((Y - A) ** 2).sum() / m
    if loss == "binary_crossentropy":
        return -(Y * torch.log(A) + (1 - Y) * torch.log(1 - A)).sum() / m
    return -(Y * torch.log(A)).sum() / m


def _assert_torch_agrees(net: Network, X: np.ndarray, Y: np.ndarray) -> float:
    """Cost and every gradient against torch autograd (float64); returns the worst relative error."""
    torch = pytest.importorskip("torch", reason="torch autograd oracle needs torch")
    cost, grads = net.loss_and_gradients(X, Y)
    A, params = _torch_forward(torch, net, X)
    Yt = torch.from_numpy(to_numpy(net.targets(Y, M)).T.copy())
    J = _torch_cost(torch, A, Yt, net.loss.name)
    J.backward()
    assert cost == pytest.approx(J.item(), rel=1e-12)
    worst = 0.0
    for (dW, db), W, b in zip(grads, params[::2], params[1::2]):
        for ours, theirs in ((dW, W.grad.numpy()), (db, b.grad.numpy())):
            assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
            worst = max(worst, float(np.max(np.abs(to_numpy(ours) - theirs) / (np.abs(theirs) + 1e-300))))
    return worst


# ---------------------------------------------------------------- L = 1 (issue 12 §6)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize(("output", "loss"), ONE_LAYER)
def test_gradcheck_one_layer_networks(backend: Backend, output: str, loss: str, fuse: bool) -> None:
    """Logistic / linear / softmax regression: layer 1 is the output layer."""
    net = _net(backend, [], output, loss, fuse=fuse)
    X, Y = _data(loss)
    result = ffnn.gradcheck(net, X, Y)
    assert len(result) == 1 and result.n_checked == net.n_params == N_OUT * (N_IN + 1)
    assert result.max_error < 1e-7, result.per_layer


@pytest.mark.parametrize(("output", "loss"), ONE_LAYER)
def test_one_layer_networks_equal_torch_autograd(backend: Backend, output: str, loss: str) -> None:
    net = _net(backend, [], output, loss)
    X, Y = _data(loss)
    _assert_torch_agrees(net, X, Y)


def test_one_layer_logistic_regression_gradient_formula(backend: Backend) -> None:
    """P3 (3) then P1 (15)/(16) with A^[0] = X: dW = (1/m)(A − Y) Xᵀ, db = (1/m) Σ (A − Y)."""
    net = _net(backend, [], "sigmoid", "binary_crossentropy", n_out=1)
    X, Y = _data("binary_crossentropy", n_out=1)
    _, [(dW, db)] = net.loss_and_gradients(X, Y)
    W, b = net.get_weights()
    A = 1 / (1 + np.exp(-(W @ X.T + b)))
    assert_allclose(dW, (A - Y.T) @ X / M)
    assert_allclose(db, (A - Y.T).sum(axis=1, keepdims=True) / M)


# ---------------------------------------------------------------- the E activations (issue 12 §5)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize(("output", "loss"), COSTS)
@pytest.mark.parametrize("hidden", E_ACTIVATIONS)
def test_gradcheck_e_activations_every_cost(backend: Backend, hidden: str, output: str, loss: str, fuse: bool) -> None:
    net = _net(backend, [hidden, hidden], output, loss, fuse=fuse)
    X, Y = _data(loss)
    result = ffnn.gradcheck(net, X, Y)
    assert result.max_error < 1e-6, result.per_layer


@pytest.mark.parametrize("output", [a for a in E_ACTIVATIONS if "(" not in a])
def test_gradcheck_e_activation_as_output(backend: Backend, output: str) -> None:
    """An E activation on the output layer with mse: the seed goes through its backward."""
    net = _net(backend, ["tanh"], output, "mse")
    X, Y = _data("mse")
    assert ffnn.gradcheck(net, X, Y).max_error < 1e-6


@pytest.mark.parametrize(("output", "loss"), [*COSTS, ("silu", "mse"), ("gelu", "mse")])
@pytest.mark.parametrize("hidden", E_ACTIVATIONS)
def test_e_activations_equal_torch_autograd(backend: Backend, hidden: str, output: str, loss: str) -> None:
    net = _net(backend, [hidden, hidden], output, loss)
    X, Y = _data(loss)
    _assert_torch_agrees(net, X, Y)


# ---------------------------------------------------------------- gradcheck's own sensitivity (issue 12 §6)
def _scaled_backprop(monkeypatch: pytest.MonkeyPatch, factor: float) -> None:
    real = Network.backward_columns

    def scaled(self: Network, *args: object, **kwargs: object) -> list:
        return [(dW * factor, db * factor) for dW, db in real(self, *args, **kwargs)]

    monkeypatch.setattr(Network, "backward_columns", scaled)


def _max_abs_gradient(net: Network, X: np.ndarray, Y: np.ndarray) -> float:
    _, grads = net.loss_and_gradients(X, Y)
    return max(float(np.max(np.abs(to_numpy(g)))) for pair in grads for g in pair)


EXPECTED_1PCT = 0.01 / 2.01  # |1.01g − g| / (|1.01g| + |g|)


def test_gradcheck_error_of_a_one_percent_scaling_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradients near 1: every layer reports exactly 0.01/2.01 (up to the O(ε²) of the
    finite differences), not "something large"."""
    net = _net("numpy", ["tanh"], "linear", "mse")
    X, Y = _data("mse")
    assert _max_abs_gradient(net, X, Y) > 0.1
    _scaled_backprop(monkeypatch, 1.01)
    result = ffnn.gradcheck(net, X, Y)
    assert result.per_layer == pytest.approx([EXPECTED_1PCT] * 2, rel=1e-6)


def test_gradcheck_error_is_relative_on_small_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradients of order 1e-8 (far above ``floor``): still exactly 0.01/2.01, so the
    error is relative (an absolute error, or a larger floor, would report ~1e-10)."""
    net = _net("numpy", [], "linear", "mse")
    X, _ = _data("mse")
    Y = to_numpy(net.predict(X)) + 1e-8 * np.random.default_rng(2).normal(size=(M, N_OUT))
    big = _max_abs_gradient(net, X, Y)
    assert 1e-10 < big < 1e-7
    _scaled_backprop(monkeypatch, 1.01)
    assert ffnn.gradcheck(net, X, Y).per_layer == pytest.approx([EXPECTED_1PCT], rel=1e-5)


def test_gradcheck_error_grows_with_the_mistake(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10% scaling gives 0.1/2.1, a sign flip gives 1: the error divides, never multiplies."""
    net = _net("numpy", [], "sigmoid", "binary_crossentropy")
    X, Y = _data("binary_crossentropy")
    for factor, expected in ((1.1, 0.1 / 2.1), (-1.0, 1.0)):
        with monkeypatch.context() as m:
            _scaled_backprop(m, factor)
            assert ffnn.gradcheck(net, X, Y).max_error == pytest.approx(expected, rel=1e-6)


def test_gradcheck_catches_backprop_through_the_wrong_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutant of issue 12 §6 in spirit: gradients of layer 1 replaced by another
    (same-shaped) gradient are caught in layer 1 only."""
    net = Network([Dense(3, 3, activation="tanh"), Dense(3, 3, activation="linear")], backend="numpy", dtype="float64", seed=1)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    real = Network.backward_columns

    def wrong_layer(self: Network, *args: object, **kwargs: object) -> list:
        grads = real(self, *args, **kwargs)
        return [grads[1], grads[1]]

    monkeypatch.setattr(Network, "backward_columns", wrong_layer)
    result = ffnn.gradcheck(net, X, Y)
    assert result.per_layer[0] > 1e-2 and result.per_layer[1] < 1e-7
