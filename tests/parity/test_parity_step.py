"""Parity of one step against NumPy: initial parameters, forward, cost and backward."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backends import Backend
from ffnn import Network
from ffnn.testing import ParityConfig, assert_close
from tests.helpers import assert_on_backend

# The promise for one evaluation, norm-wise per array (max|a - d| <= rtol * max|d|).
STEP_RTOL = {"float64": 1e-12, "float32": 1e-5}
DTYPES = ["float64", "float32"]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "linear"]
LOSSES = ["mse", "binary_crossentropy", "categorical_crossentropy"]


def one_pass(net: Network, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    """Every activation A^[l], the cost and every gradient of one forward/backward pass."""
    x, y = net.inputs(X), net.targets(Y, X.shape[0])
    cache, Z_L = net.forward_columns(x.T)
    cost = net.cost_columns(cache, Z_L, y.T)
    grads = net.backward_columns(cache, y.T)
    out = {f"A{l}": A for l, A in enumerate(cache)}
    out["Z_L"], out["cost"] = Z_L, cost
    for l, (dW, db) in enumerate(grads, start=1):
        out[f"dW{l}"], out[f"db{l}"] = dW, db
    out["predict"] = net.predict(X)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_initial_parameters_are_bit_identical(other: Backend, dtype: str, activation: str) -> None:
    config = ParityConfig(sizes=(7, 9, 4, 2), activation=activation, seed=11)
    ref, net = config.build("numpy", dtype=dtype), config.build(other, dtype=dtype)
    for p, w_ref, w in zip(net.parameters(), ref.get_weights(), net.get_weights()):
        assert_on_backend(p, other, w_ref.shape, dtype)
        assert w.dtype == w_ref.dtype == np.dtype(dtype)
        assert np.array_equal(w, w_ref)
    assert any(np.any(w != 0) for w in ref.get_weights())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_forward_cost_backward_match_numpy(other: Backend, dtype: str, activation: str, loss: str, fuse: bool) -> None:
    config = ParityConfig(activation=activation, loss=loss, fuse_output=fuse, batch_size=16, data_seed=5)
    X, Y = next(config.batches())
    ref = one_pass(config.build("numpy", dtype=dtype), X, Y)
    got = one_pass(config.build(other, dtype=dtype), X, Y)
    assert list(got) == list(ref)
    for key, desired in ref.items():
        assert_on_backend(got[key], other, tuple(desired.shape), dtype)
        try:
            assert_close(got[key], desired, rtol=STEP_RTOL[dtype])
        except AssertionError as exc:
            raise AssertionError(f"{key} on {other.name}:{other.device_name} differs from numpy:\n{exc}") from None
    assert float(ref["cost"]) > 0
