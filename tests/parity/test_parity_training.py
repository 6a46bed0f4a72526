"""Parity of 100 training steps against NumPy: SGD and Adam, each hidden activation and each cost."""

from __future__ import annotations

import pytest

from backends import Backend
from ffnn.testing import ParityConfig, compare_backends

# The promise after 100 steps, norm-wise per array and step.
TRAIN_RTOL = {"float64": 1e-10, "float32": 1e-4}
OPTIMIZERS = {"sgd": {"learning_rate": 0.1}, "adam": {"learning_rate": 0.01}}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy"])
def test_100_steps_stay_within_tolerance(
    other: Backend, dtype: str, optimizer: str, activation: str, loss: str
) -> None:
    config = ParityConfig(
        sizes=(6, 8, 5, 3),
        activation=activation,
        loss=loss,
        optimizer=optimizer,
        optimizer_kwargs=OPTIMIZERS[optimizer],
        batch_size=16,
        seed=2,
        data_seed=3,
    )
    result = compare_backends(("numpy", other), config=config, steps=100, dtype=dtype, rtol=TRAIN_RTOL[dtype])
    (run,) = result.backends.values()
    assert run.label == f"{other.name}:{other.device_name}"
    assert run.initial_identical
    assert run.passed, "\n" + result.summary()
    assert result.reference_change[-1] > 1e-2, "the weights barely moved: the comparison would prove little"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_general_backward_path_trains_alike(other: Backend, dtype: str) -> None:
    config = ParityConfig(
        activation="tanh", loss="cce", fuse_output=False, optimizer="adam", optimizer_kwargs={"learning_rate": 0.01}
    )
    result = compare_backends(("numpy", other), config=config, steps=100, dtype=dtype, rtol=TRAIN_RTOL[dtype])
    assert result.passed, "\n" + result.summary()
