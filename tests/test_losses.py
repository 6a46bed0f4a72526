"""Costs: values (L6, P3, H), seeds dJ/dA^[L] against the explicit Jacobian, fused rules."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import jacobians
from ffnn.activations import get_activation
from ffnn.losses import CategoricalCrossEntropy, get_loss
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
    _, A, Y = _data(name)
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
    general = get_activation(loss.fused_activation).backward(loss.gradient(a, y, xp=xp), a, xp=xp)
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


# ---------------------------------------------------------------- sample weights
def _weights(m: int = M) -> np.ndarray:
    return np.random.default_rng(8).uniform(0.2, 3.0, size=(1, m))


def _fd_gradient(f, X: np.ndarray, backend: Backend, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f(backend array) with respect to every entry of X."""
    out = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        up, down = X.copy(), X.copy()
        up[idx] += h
        down[idx] -= h
        out[idx] = (float(f(backend.asarray(up))) - float(f(backend.asarray(down)))) / (2 * h)
    return out


@pytest.mark.parametrize("name", LOSSES)
def test_weighted_cost_is_the_weighted_mean(backend: Backend, name: str) -> None:
    """J = Σ_i s_i J0^(i) / Σ_i s_i, computed directly per example."""
    Z, A, Y = _data(name)
    s = _weights()
    loss = get_loss(name)
    xp = backend.xp
    per_example = [_reference_cost(name, A[:, [i]], Y[:, [i]]) for i in range(M)]
    expected = float((s[0] * per_example).sum() / s.sum())
    a, y, w = backend.asarray(A), backend.asarray(Y), backend.asarray(s)
    assert float(loss.cost(a, y, xp=xp, weights=w)) == pytest.approx(expected, rel=1e-12)
    assert float(loss.cost_from_logits(backend.asarray(Z), y, xp=xp, weights=w)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_weighted_seed_and_fused_gradient_match_finite_differences(backend: Backend, name: str) -> None:
    """Gradient check of the weighted cost: dJ/dŶ (seed) and dJ/dZ (fused) against
    central differences of cost(A) and cost_from_logits(Z), float64, every backend."""
    Z, A, Y = _data(name)
    loss = get_loss(name)
    xp = backend.xp
    y, w = backend.asarray(Y), backend.asarray(_weights())
    seed = loss.gradient(backend.asarray(A), y, xp=xp, weights=w)
    assert_allclose(seed, _fd_gradient(lambda a: loss.cost(a, y, xp=xp, weights=w), A, backend), rtol=1e-7, atol=1e-8)
    a = get_activation(loss.fused_activation).forward(backend.asarray(Z), xp=xp)
    fused = loss.fused_gradient(a, y, xp=xp, weights=w)
    numeric = _fd_gradient(lambda z: loss.cost_from_logits(z, y, xp=xp, weights=w), Z, backend)
    assert_allclose(fused, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
def test_unit_weights_equal_no_weights(backend: Backend, name: str) -> None:
    """s = 1 gives the unweighted cost and gradients; s = c·1 too (J is a weighted mean)."""
    Z, A, Y = _data(name)
    loss = get_loss(name)
    xp = backend.xp
    a, y, z = backend.asarray(A), backend.asarray(Y), backend.asarray(Z)
    for c in (1.0, 3.5):
        w = backend.asarray(np.full((1, M), c))
        assert float(loss.cost(a, y, xp=xp, weights=w)) == pytest.approx(float(loss.cost(a, y, xp=xp)), rel=1e-13)
        assert_allclose(loss.gradient(a, y, xp=xp, weights=w), loss.gradient(a, y, xp=xp), rtol=1e-13)
        assert_allclose(loss.fused_gradient(a, y, xp=xp, weights=w), loss.fused_gradient(a, y, xp=xp), rtol=1e-13)
        assert float(loss.cost_from_logits(z, y, xp=xp, weights=w)) == pytest.approx(float(loss.cost_from_logits(z, y, xp=xp)), rel=1e-13)


def test_zero_weight_drops_an_example(backend: Backend) -> None:
    """s_i = 0 removes example i: the cost equals that of the other examples alone."""
    Z, A, Y = _data("categorical_crossentropy")
    loss, xp = get_loss("cce"), backend.xp
    s = np.ones((1, M))
    s[0, 2] = 0.0
    keep = [i for i in range(M) if i != 2]
    J = loss.cost_from_logits(backend.asarray(Z), backend.asarray(Y), xp=xp, weights=backend.asarray(s))
    assert float(J) == pytest.approx(_reference_cost("cce", A[:, keep], Y[:, keep]), rel=1e-12)
    dZ = to_numpy(loss.fused_gradient(backend.asarray(A), backend.asarray(Y), xp=xp, weights=backend.asarray(s)))
    assert np.all(dZ[:, 2] == 0)


# ---------------------------------------------------------------- soft targets, P3 (6) general form
def _soft_targets() -> np.ndarray:
    """Non-negative targets whose columns do NOT sum to 1 (0.4 … 1.9)."""
    return np.random.default_rng(9).uniform(0.0, 1.0, size=(N, M)) * np.linspace(0.4, 1.9, M) / 1.5


def test_fused_softmax_gradient_is_exact_for_targets_not_summing_to_one(backend: Backend) -> None:
    """P3 (6) general form (1/m)(A ⊙ Σ_0 Y − Y) equals the general path and central
    differences of the log-sum-exp cost; (1/m)(A − Y) would be off (issue 11 item 2)."""
    xp = backend.xp
    loss = get_loss("cce")
    Z, _, _ = _data("cce")
    Y = _soft_targets()
    assert not np.allclose(Y.sum(axis=0), 1)
    z, y = backend.asarray(Z), backend.asarray(Y)
    a = get_activation("softmax").forward(z, xp=xp)
    fused = loss.fused_gradient(a, y, xp=xp)
    general = get_activation("softmax").backward(loss.gradient(a, y, xp=xp), a, xp=xp)
    assert_allclose(fused, general, rtol=1e-10)
    assert_allclose(fused, _fd_gradient(lambda t: loss.cost_from_logits(t, y, xp=xp), Z, backend), rtol=1e-7, atol=1e-10)
    naive = (to_numpy(a) - Y) / M
    assert np.abs(naive - to_numpy(fused)).max() > 1e-2


@pytest.mark.parametrize(
    ("loss", "Y", "pattern"),
    [
        ("categorical_crossentropy", [[0.5, 1.0, -0.1], [0.5, 0.0, 1.1]], "must be non-negative, but example 2"),
        ("categorical_crossentropy", [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], "of example 1 are all zero, so its cost does not depend"),
        ("binary_crossentropy", [[0.0, 1.0, 1.5]], "must lie in \\[0, 1\\], but example 2"),
        ("binary_crossentropy", [[0.0, -1.0, 1.0]], "must lie in \\[0, 1\\], but example 1"),
    ],
)
def test_cross_entropy_targets_refused(backend: Backend, loss: str, Y: list, pattern: str) -> None:
    from ffnn.losses import check_cross_entropy_targets

    with pytest.raises(ValueError, match=f"{loss} targets {pattern}"):
        check_cross_entropy_targets(backend.asarray(Y), xp=backend.xp, loss=loss)


@pytest.mark.parametrize(
    ("loss", "Y"),
    [
        ("categorical_crossentropy", [[0.2, 1.0], [0.3, 0.0]]),  # soft, not summing to 1: exact now
        ("binary_crossentropy", [[0.0, 0.0], [0.0, 1.0]]),  # all-zero multi-label rows are fine for BCE
    ],
)
def test_cross_entropy_targets_accepted(backend: Backend, loss: str, Y: list) -> None:
    from ffnn.losses import check_cross_entropy_targets

    check_cross_entropy_targets(backend.asarray(Y), xp=backend.xp, loss=loss)


@pytest.mark.parametrize(
    ("weights", "pattern"),
    [
        ([[1.0, 2.0]], r"one value per example, shape \(1, 3\), got \(1, 2\)"),
        ([[1.0, -2.0, 1.0]], "finite and non-negative, but example 1 has -2.0"),
        ([[1.0, 1.0, float("nan")]], "finite and non-negative, but example 2 has nan"),
        ([[0.0, 0.0, 0.0]], "sample weights are all zero"),
    ],
)
def test_bad_sample_weights_refused(backend: Backend, weights: list, pattern: str) -> None:
    from ffnn.losses import check_sample_weights

    with pytest.raises(ValueError, match=pattern):
        check_sample_weights(backend.asarray(weights), 3, xp=backend.xp)


def test_good_sample_weights_accepted(backend: Backend) -> None:
    from ffnn.losses import check_sample_weights

    check_sample_weights(backend.asarray([[0.0, 2.5, 1.0]]), 3, xp=backend.xp)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_kernels_are_the_cost_from_log_and_the_fused_gradient_bit_for_bit(backend: Backend, dtype: str) -> None:
    """The plain training pass's cost and gradient functions give the methods' values
    for two batch sizes in turn (each with its own 1/m) and again for the first."""
    xp, dt = backend.xp, backend.dtype(dtype)
    loss, softmax = get_loss("categorical_crossentropy"), get_activation("softmax")
    rng = np.random.default_rng(4)
    like = backend.asarray(np.zeros((1, 1)), dtype=dt)
    cost, gradient = loss.log_kernels(like, xp=xp)
    for m in (7, 3, 7):
        Z = backend.asarray(rng.normal(size=(4, m)) * 3, dtype=dt)
        Y = backend.asarray(np.eye(4)[:, rng.integers(0, 4, size=m)], dtype=dt)
        A, log_A = softmax.forward_log(Z, xp=xp)
        got_cost, got_dZ = cost(log_A, Y), gradient(A, Y)
        expected_cost = loss.cost_from_log_probabilities(log_A, Y, xp=xp)
        expected_dZ = loss.fused_gradient(A, Y, xp=xp)
        assert got_cost.dtype == expected_cost.dtype == dt
        assert got_dZ.dtype == dt
        assert np.array_equal(to_numpy(got_cost), to_numpy(expected_cost)), m
        assert np.array_equal(to_numpy(got_dZ), to_numpy(expected_dZ)), m


def test_a_cross_entropy_subclass_with_its_own_rule_gets_kernels_that_run_it() -> None:
    class Doubled(CategoricalCrossEntropy):
        def cost_from_log_probabilities(self, log_A, Y, /, *, xp, weights=None):  # type: ignore[no-untyped-def]
            return 2 * super().cost_from_log_probabilities(log_A, Y, xp=xp, weights=weights)

    log_A, Y = np.log(np.full((2, 4), 0.5)), np.eye(2)[:, [0, 1, 0, 1]]
    cost, _ = Doubled().log_kernels(log_A, xp=np)
    assert cost(log_A, Y) == pytest.approx(2 * np.log(2))
    cost, _ = CategoricalCrossEntropy().log_kernels(log_A, xp=np)
    assert cost(log_A, Y) == pytest.approx(np.log(2))
