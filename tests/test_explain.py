"""ffnn.explain: seed H's chain for one parameter equals backpropagation (MATH.md §7)."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import Dense, Network
from ffnn.explain import explain_gradient


def _h_net(backend: Backend | str, hidden: tuple[str, str] = ("tanh", "relu"), dtype: str = "float64") -> Network:
    """H's network: 3 layers, sigmoid output with one node, binary cross-entropy."""
    layers = [Dense(3, 4, activation=hidden[0]), Dense(4, 3, activation=hidden[1]), Dense(3, 1, activation="sigmoid")]
    return Network(layers, loss="bce", backend=backend, dtype=dtype, seed=1)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 3)), rng.integers(0, 2, size=7)


PARAMS = [
    {"layer": 1, "row": 2, "col": 1}, {"layer": 1, "row": 0, "bias": True},
    {"layer": 2, "row": 1, "col": 3}, {"layer": 2, "row": 2, "bias": True},
    {"layer": 3, "row": 0, "col": 2}, {"layer": 3, "row": 0, "bias": True},
]


@pytest.mark.parametrize("kw", PARAMS, ids=lambda kw: "-".join(f"{k}{v}" for k, v in kw.items()))
def test_chain_equals_backprop(backend: Backend, kw: dict) -> None:
    """H's chain product equals backpropagation to 1e-12 (float64) and the finite difference to 1e-6."""
    net = _h_net(backend)
    X, y = _data()
    r = explain_gradient(net, X, y, **kw)
    assert abs(r.chain - r.backprop) <= 1e-12 * max(1.0, abs(r.backprop))
    assert abs(r.finite_difference - r.backprop) <= 1e-6 * (abs(r.backprop) + 1e-8)
    assert len(r.per_example) == 7 and r.chain == pytest.approx(float(np.mean(r.per_example)), rel=1e-15)


@pytest.mark.parametrize("hidden", [("sigmoid", "tanh"), ("gelu", "elu(alpha=0.5)"), ("silu", "leaky_relu")])
def test_chain_with_other_hidden_activations(hidden: tuple[str, str]) -> None:
    net = _h_net("numpy", hidden, dtype="float32")
    X, y = _data()
    r = explain_gradient(net, X, y, layer=1, row=1, col=0)
    assert abs(r.chain - r.backprop) <= 1e-12 * max(1.0, abs(r.backprop))


def test_factors_follow_h(backend: Backend) -> None:
    """The factors are H's, in H's order, with H's transposed index named."""
    net = _h_net(backend)
    X, y = _data()
    r = explain_gradient(net, X, y, layer=1, row=2, col=1)
    labels = [f.label for f in r.factors]
    assert labels == [
        "loss factor (1−y)/(1−ŷ) − y/ŷ", "σ'(z^[3]) = σ(1 − σ)",
        "W^[3]ᵀ (H) = W^[3] (ffnn)", "relu'(z^[2])", "W^[2]ᵀ (H) = W^[2] (ffnn)", "tanh'(z^[1])",
        "a^[0]_2 (H) = A^[0][1]",
    ]
    assert r.parameter == "W^[1][2, 1]" and r.h_parameter == "w^[1]_{2,3}"
    p = to_numpy(net.predict(X))[:, 0]
    loss = np.array([float(v) for v in r.factors[0].values])
    np.testing.assert_allclose(loss, (1 - y) / (1 - p) - y / p, rtol=1e-12)
    np.testing.assert_allclose(np.array(r.factors[-1].values), X[:, 1], rtol=0, atol=0)
    text = str(r)
    assert "H's w^[l]_{i,j} is ffnn's W^[l][j−1, i−1]" in text and "w^[1]_{2,3}" in text
    assert "backpropagation (P1)" in text and "finite difference" in text and "product" in text
    for label in labels:
        assert label in text


def test_bias_parameter_named_in_both_conventions() -> None:
    r = explain_gradient(_h_net("numpy"), *_data(), layer=2, row=1, bias=True)
    assert r.parameter == "b^[2][1]" and r.h_parameter == "b^[2]_2"
    assert r.factors[-1].label == "1 (bias)" and "b^[2]_2" in str(r)


@pytest.mark.parametrize(
    ("layers", "loss", "pattern"),
    [
        ([Dense(3, 2, activation="softmax")], "cce", "loss categorical_crossentropy.*output softmax with 2 nodes"),
        ([Dense(3, 2, activation="sigmoid")], "bce", "output sigmoid with 2 nodes"),
        ([Dense(3, 2, activation="softmax"), Dense(2, 1, activation="sigmoid")], "bce", "hidden activations softmax"),
        ([Dense(3, 1, activation="linear")], "mse", "loss mse"),
    ],
)
def test_other_architectures_are_refused(layers: list, loss: str, pattern: str) -> None:
    net = Network(layers, loss=loss, backend="numpy", dtype="float64", seed=0)
    X, y = _data()
    with pytest.raises(ValueError, match=f"H's chain .*{pattern}.*Use ffnn.gradcheck"):
        explain_gradient(net, X, y, layer=1)


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"layer": 0}, "layer must be the seeds' l in 1..3, got 0"),
        ({"layer": 4}, "layer must be the seeds' l in 1..3, got 4"),
        ({"layer": 1, "row": 4, "col": 0}, r"index \(4, 0\) is outside W\^\[1\] of shape \(4, 3\)"),
        ({"layer": 3, "row": 1, "bias": True}, r"index \(1,\) is outside b\^\[3\] of shape \(1,\)"),
    ],
)
def test_bad_parameter_choice(kw: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        explain_gradient(_h_net("numpy"), *_data(), **kw)
