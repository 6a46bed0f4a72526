"""Costs: values (L6, P3, H), seeds dJ/dA^[L] against the explicit Jacobian, fused rules."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import jacobians
from ffnn.activations import get_activation
from ffnn.losses import get_loss
from tests.helpers import assert_allclose

M, N = 5, 3


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(N, M))
    if name == "categorical_crossentropy":
        Y = np.eye(N)[:, rng.integers(0, N, size=M)]
        A = np.exp(Z) / np.exp(Z).sum(axis=0)
    elif name == "binary_crossentropy":
        Y = rng.integers(0, 2, size=(N, M)).astype(float)
        A = 1 / (1 + np.exp(-Z))
    else:
        Y = rng.normal(size=(N, M))
        A = Z
    return Z, A, Y


def _reference_cost(name: str, A: np.ndarray, Y: np.ndarray) -> float:
    m = A.shape[1]
    if name == "mse":
        return float(((Y - A) ** 2).sum() / m)
    if name == "binary_crossentropy":
        return float(-(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum() / m)
    return float(-(Y * np.log(A)).sum() / m)


LOSSES = ["mse", "binary_crossentropy", "categorical_crossentropy"]


@pytest.mark.parametrize("name", LOSSES)
def test_cost_matches_formula(backend: Backend, name: str) -> None:
    Z, A, Y = _data(name)
    J = get_loss(name).cost(backend.asarray(A), backend.asarray(Y), xp=backend.xp)
    assert tuple(J.shape) == ()
    assert float(J) == pytest.approx(_reference_cost(name, A, Y), rel=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_cost_from_logits_equals_cost(backend: Backend, name: str) -> None:
    """The stable log-sum-exp / softplus forms give the same J as the direct formula."""
    Z, A, Y = _data(name)
    loss = get_loss(name)
    J = loss.cost_from_logits(backend.asarray(Z), backend.asarray(Y), xp=backend.xp)
    assert float(J) == pytest.approx(_reference_cost(name, A, Y), rel=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_seed_equals_explicit_cost_jacobian(backend: Backend, name: str) -> None:
    """dJ/dA^[L] (vectorized, MATH.md §4) equals the L6 batch Jacobian built per example."""
    xp = backend.xp
    _, A, Y = _data(name)
    a, y = backend.asarray(A), backend.asarray(Y)
    seed = get_loss(name).gradient(a, y, xp=xp)
    row = jacobians.cost_jacobian(name, a, y, xp=xp)
    assert tuple(row.shape) == (1, N * M)
    assert_allclose(jacobians.vec(seed, xp=xp), xp.reshape(row, (-1,)))


@pytest.mark.parametrize("name", LOSSES)
def test_fused_gradient_equals_general_path(backend: Backend, name: str) -> None:
    """(1/m)(A − Y) equals the loss seed pushed through the output activation's P2 rule."""
    xp = backend.xp
    loss = get_loss(name)
    _, A, Y = _data(name)
    a, y = backend.asarray(A), backend.asarray(Y)
    general = get_activation(loss.fused_activation).backward(a, loss.gradient(a, y, xp=xp), xp=xp)
    assert_allclose(loss.fused_gradient(a, y, xp=xp), general, rtol=1e-9)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_give_finite_costs(backend: Backend, name: str, dtype: str) -> None:
    xp = backend.xp
    loss = get_loss(name)
    g = get_activation(loss.fused_activation)
    Z = backend.asarray([[1e4, -1e4], [-1e4, 1e4]], dtype=backend.dtype(dtype))
    Y = backend.asarray([[0.0, 1.0], [1.0, 0.0]], dtype=backend.dtype(dtype))
    A = g.forward(Z, xp=xp)
    for value in (loss.cost_from_logits(Z, Y, xp=xp), loss.cost(A, Y, xp=xp)):
        assert np.isfinite(float(value)) and float(value) > 0
    for grad in (loss.gradient(A, Y, xp=xp), loss.fused_gradient(A, Y, xp=xp)):
        assert np.all(np.isfinite(to_numpy(grad)))


def test_clamped_probability_cost_is_large_but_finite(backend: Backend) -> None:
    """H: log(0) is avoided by clamping Ŷ into [ε, 1 − ε]."""
    xp = backend.xp
    J = get_loss("bce").cost(backend.asarray([[0.0, 1.0]]), backend.asarray([[1.0, 0.0]]), xp=xp)
    eps = np.finfo(np.float64).eps
    assert float(J) == pytest.approx(-2 * np.log(eps) / 2, rel=1e-6)


def test_unknown_loss_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown loss 'hinge'; known: mse, binary_crossentropy, categorical_crossentropy"):
        get_loss("hinge")
