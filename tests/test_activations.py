"""Activations: P2 forward/backward rules, their Jacobians (L6) and extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import activations, jacobians
from ffnn.activations import get_activation
from tests.helpers import assert_allclose, assert_on_backend

NAMES = ["relu", "sigmoid", "tanh", "softmax", "linear"]


def _reference(name: str, z: np.ndarray) -> np.ndarray:
    """The seeds' formulas written directly with NumPy in float64."""
    if name == "relu":
        return np.maximum(0.0, z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=0, keepdims=True)
    return z


@pytest.fixture
def z_host() -> np.ndarray:
    return np.random.default_rng(0).normal(scale=2.0, size=(4, 6))


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_seed_formula(backend: Backend, name: str, z_host: np.ndarray) -> None:
    xp = backend.xp
    A = get_activation(name).forward(backend.asarray(z_host), xp=xp)
    assert_on_backend(A, backend, (4, 6), "float64")
    assert_allclose(A, _reference(name, z_host))


@pytest.mark.parametrize("name", NAMES)
def test_backward_equals_jacobian_product(backend: Backend, name: str, z_host: np.ndarray) -> None:
    """P2's vectorized rule equals vec(dJ/dZ) = Jᵀ vec(dJ/dA) with the explicit L6/P2 Jacobian."""
    xp = backend.xp
    g = get_activation(name)
    A = g.forward(backend.asarray(z_host), xp=xp)
    dA = backend.asarray(np.random.default_rng(1).normal(size=(4, 6)))
    dZ = g.backward(A, dA, xp=xp)
    J = jacobians.batch_activation_jacobian(g, A, xp=xp)
    expected = xp.reshape(J.T @ jacobians.vec(dA, xp=xp), (6, 4)).T
    assert_on_backend(dZ, backend, (4, 6), "float64")
    assert_allclose(dZ, expected)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax"])
def test_jacobian_matches_finite_differences(name: str) -> None:
    """The explicit one-example Jacobian against central differences of the forward (numpy)."""
    from backends import get_backend

    xp = get_backend("numpy").xp
    g = get_activation(name)
    z = np.array([0.3, -1.2, 2.0])
    J = g.jacobian(g.forward(z[:, None], xp=xp)[:, 0], xp=xp)
    h = 1e-6
    numeric = np.stack(
        [(g.forward((z + h * e)[:, None], xp=xp) - g.forward((z - h * e)[:, None], xp=xp))[:, 0] / (2 * h) for e in np.eye(3)],
        axis=1,
    )
    np.testing.assert_allclose(J, numeric, rtol=1e-7, atol=1e-9)


def test_relu_derivative_at_zero_is_zero(backend: Backend) -> None:
    """P2 uses I(z > 0): no gradient flows through z == 0."""
    xp = backend.xp
    relu = get_activation("relu")
    A = relu.forward(backend.asarray([[0.0, 1.0, -1.0]]), xp=xp)
    dZ = relu.backward(A, backend.asarray([[5.0, 5.0, 5.0]]), xp=xp)
    assert to_numpy(dZ).tolist() == [[0.0, 5.0, 0.0]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_stay_finite(backend: Backend, name: str, dtype: str) -> None:
    """|z| up to 1e4 overflows nothing: outputs and gradients are finite and in range."""
    xp = backend.xp
    Z = backend.asarray([[1e4, -1e4, 0.0], [-1e4, 1e4, 50.0]], dtype=backend.dtype(dtype))
    g = get_activation(name)
    A = g.forward(Z, xp=xp)
    dZ = g.backward(A, xp.ones_like(A), xp=xp)
    a, d = to_numpy(A), to_numpy(dZ)
    assert a.dtype == np.dtype(dtype) and d.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    if name in ("sigmoid", "softmax"):
        assert np.all((a >= 0) & (a <= 1))
    if name == "sigmoid":
        assert a[0, 0] == 1.0 and a[0, 1] == 0.0
    if name == "softmax":
        np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-6)


def test_unknown_activation_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown activation 'gelu'; known: relu, sigmoid, tanh, softmax, linear"):
        get_activation("gelu")


def test_activation_must_be_name_or_object() -> None:
    with pytest.raises(TypeError, match="activation must be a name"):
        get_activation(42)  # type: ignore[arg-type]


def test_registry_returns_shared_instances() -> None:
    assert get_activation("identity") is get_activation("linear")
    assert isinstance(get_activation("Softmax"), activations.Softmax)


@pytest.mark.parametrize("name", NAMES)
def test_backward_in_place_equals_backward(backend: Backend, name: str, z_host: np.ndarray) -> None:
    """The buffer-reusing rule of the training path gives P2's values exactly."""
    xp = backend.xp
    g = get_activation(name)
    A = g.forward(backend.asarray(z_host), xp=xp)
    dA = backend.asarray(np.random.default_rng(2).normal(size=(4, 6)))
    expected = g.backward(A, dA, xp=xp)
    got = g.backward_in_place(A, backend.asarray(to_numpy(dA)), xp=xp)
    assert_on_backend(got, backend, (4, 6), "float64")
    assert_allclose(got, expected, rtol=0, atol=0)
