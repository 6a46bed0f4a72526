"""Parity across a file: a model saved on one backend predicts the same after loading on another."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backends import Backend, get_backend
from ffnn.optimizers import get_optimizer
from ffnn.serialization import load
from ffnn.testing import ParityConfig, assert_close
from ffnn.training import train_step
from tests.helpers import assert_on_backend

STEP_RTOL = {"float64": 1e-12, "float32": 1e-5}


def trained(config: ParityConfig, backend: Backend, dtype: str, steps: int = 20):
    """The config's network on ``backend`` after ``steps`` Adam steps (weights away from the seed's)."""
    net = config.build(backend, dtype=dtype)
    optimizer = get_optimizer("adam", learning_rate=0.01)
    for _, (X, Y) in zip(range(steps), config.batches()):
        x, y = net.inputs(X), net.targets(Y, X.shape[0])
        train_step(net, optimizer, x.T, y.T)
    return net


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("direction", ["numpy->other", "other->numpy"])
@pytest.mark.parametrize("loss", ["mse", "categorical_crossentropy"])
def test_saved_model_predicts_alike_on_another_backend(
    other: Backend, tmp_path: Path, dtype: str, direction: str, loss: str
) -> None:
    numpy = get_backend("numpy")
    source, target = (numpy, other) if direction == "numpy->other" else (other, numpy)
    config = ParityConfig(activation="relu", loss=loss, seed=4, data_seed=9)
    net = trained(config, source, dtype)
    assert any(not np.array_equal(w, w0) for w, w0 in zip(net.get_weights(), config.build(numpy).get_weights()))
    path = net.save(tmp_path / "model.npz")

    loaded = load(path, backend=target.name, device=target.device_name)

    assert loaded.backend == target and loaded.dtype == dtype
    for w_loaded, w_saved in zip(loaded.get_weights(), net.get_weights()):
        assert w_loaded.dtype == w_saved.dtype and np.array_equal(w_loaded, w_saved)
    X = np.random.default_rng(0).standard_normal((32, config.sizes[0]))
    expected, got = net.predict(X), loaded.predict(X)
    assert_on_backend(got, target, (32, config.sizes[-1]), dtype)
    assert_close(got, expected, rtol=STEP_RTOL[dtype])
