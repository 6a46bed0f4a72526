"""ffnn under test: networks for a Config, and one training step through the public API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ffnn import Dense, Network
from ffnn.optimizers import SGD
from ffnn.training import train_step

from .configs import Config

__all__ = ["CompiledStep", "FfnnStep", "build_network", "make_batch", "training_api"]


def training_api() -> tuple[Callable[..., Any], type, str]:
    """(train_step, SGD class, description) of the public training API that is measured."""
    return train_step, SGD, "ffnn.training.train_step + ffnn.optimizers.SGD"


def build_network(config: Config, *, backend: Any = "numpy", device: Any = None, dtype: str = "float32",
                  seed: int = 0) -> Network:
    """ReLU hidden layers, softmax output, categorical cross-entropy."""
    shapes = config.layer_shapes
    layers = [Dense(n_in, n_out, activation="relu") for n_out, n_in in shapes[:-1]]
    layers.append(Dense(shapes[-1][1], shapes[-1][0], activation="softmax"))
    return Network(layers, loss="categorical_crossentropy", backend=backend, device=device, dtype=dtype, seed=seed)


def make_batch(config: Config, *, m: int | None = None, seed: int = 1, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Host inputs X (m, n^[0]) ~ N(0, 1) and integer labels (m,) in [0, n^[L])."""
    rng = np.random.default_rng(seed)
    m = config.batch if m is None else m
    return rng.standard_normal((m, config.sizes[0])).astype(dtype), rng.integers(0, config.sizes[-1], m)


class FfnnStep:
    """One ffnn training step, ``train_step(net, optimizer, X_cols, Y_cols)``, on one backend.

    ``weights`` ([W1, b1, …], host) replace the seeded initial ones when given.
    The batch lives on the device, in the column layout the network's fit loop uses
    (a transposed view of the row-layout arrays).
    """

    def __init__(self, config: Config, weights: list[np.ndarray] | None, X: np.ndarray, labels: np.ndarray, *,
                 lr: float, backend: Any = "numpy", device: Any = None, dtype: str = "float32") -> None:
        train_step, SGD, self.api = training_api()
        self._train_step = train_step
        self.net = build_network(config, backend=backend, device=device, dtype=dtype)
        if weights is not None:
            self.net.set_weights([np.array(w, copy=True) for w in weights])  # never alias the caller's arrays
        self.optimizer = SGD(learning_rate=lr)
        x = self.net.inputs(X)
        self.X_cols = x.T
        self.Y_cols = self.net.targets(labels, x.shape[0]).T

    def step(self) -> Any:
        return self._train_step(self.net, self.optimizer, self.X_cols, self.Y_cols)

    def synchronize(self) -> None:
        self.net.backend.synchronize(*self.net.parameters())


class CompiledStep(FfnnStep):
    """ffnn's compiled training step, ``ffnn.training.compile_step(net, optimizer)(X_cols, Y_cols)``.

    Used only when ffnn offers that function (see :func:`benchmarks.fit_loop.compile_support`);
    the first :meth:`step` compiles.
    """

    def __init__(self, config: Config, weights: list[np.ndarray] | None, X: np.ndarray, labels: np.ndarray, *,
                 lr: float, backend: Any = "numpy", device: Any = None, dtype: str = "float32") -> None:
        from ffnn import training

        super().__init__(config, weights, X, labels, lr=lr, backend=backend, device=device, dtype=dtype)
        self._compiled = training.compile_step(self.net, self.optimizer)  # type: ignore[attr-defined]
        self.api = "ffnn.training.compile_step(net, optimizer)"

    def step(self) -> Any:
        return self._compiled(self.X_cols, self.Y_cols)
