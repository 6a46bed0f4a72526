"""Whole training epochs: ``Network.fit`` against a hand-written NumPy loop of the same equations.

Both visit the same examples in the same shuffled batches: the permutation of epoch e is
:func:`ffnn.training.shuffle_order` (seed, e, m), the order ``fit`` documents. Per batch
the reference gathers the rows, runs :func:`benchmarks.reference.reference_step` (P1/P2,
plain SGD) and keeps the 0-d cost; once per epoch it sums cost · m_batch and reads the
total on the host. That is the least bookkeeping a correct loop does; whatever ``fit``
adds per epoch (hit counting, the finiteness check, the rollback snapshot, its argument
checks) is what the comparison measures.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy
import numpy as np

from .configs import Config
from .reference import reference_step
from .subject import build_network, make_batch, training_api

__all__ = ["FfnnFit", "ReferenceFitLoop", "compile_support", "epoch_data", "one_hot_rows", "shuffle_order"]

NO_COMPILE = "ffnn has no compiled step yet"


def shuffle_order(seed: int, epoch: int, m: int) -> np.ndarray:
    """The permutation ``Network.fit`` uses in ``epoch`` (ffnn's own public function)."""
    from ffnn.training import shuffle_order as order

    return order(seed, epoch, m)


def one_hot_rows(labels: np.ndarray, n_out: int, dtype: str) -> np.ndarray:
    """(m, n_out) one-hot targets, examples as rows."""
    return np.eye(n_out, dtype=dtype)[labels]


def epoch_data(config: Config, batches: int, *, seed: int = 3, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Host inputs (batches · m, n^[0]) and integer labels: an epoch of exactly ``batches`` full batches."""
    return make_batch(config, m=batches * config.batch, seed=seed, dtype=dtype)


def compile_support(net_class: Any = None, training: Any = None) -> tuple[tuple[str, ...], str]:
    """How ffnn's public API offers a compiled training step, if it does.

    Returns
    -------
    (kinds, reason)
        kinds holds ``"compile_step"`` when ``ffnn.training.compile_step`` exists (the
        compiled step, measured per step against the hand-written ``jax.jit`` step: the
        issue's §2 target) and ``"fit"`` when ``Network.fit`` takes ``compile=`` (measured
        per step of whole epochs against the ``jax.jit`` loop); empty with the reason
        (:data:`NO_COMPILE`) when neither. The arguments replace ``ffnn.Network`` and
        ``ffnn.training`` (for tests).
    """
    if net_class is None:
        from ffnn import Network as net_class
    if training is None:
        from ffnn import training
    try:
        parameters = inspect.signature(net_class.fit).parameters
    except (TypeError, ValueError, AttributeError):
        parameters = {}
    kinds = (("compile_step",) if callable(getattr(training, "compile_step", None)) else ()) + (
        ("fit",) if "compile" in parameters else ()
    )
    return kinds, "" if kinds else NO_COMPILE


class FfnnFit:
    """``Network.fit(X, labels, epochs=k, batch_size=m, optimizer=SGD(lr), shuffle=True)``.

    One :meth:`run` trains ``epochs_per_call`` epochs of ``len(X) // batch`` batches each
    (``units`` steps in all, the divisor of the timing). ``compile=True`` is passed only
    when asked (the option of a compiled step, see :func:`compile_support`).
    """

    def __init__(self, config: Config, weights: list[np.ndarray] | None, X: np.ndarray, labels: np.ndarray, *,
                 lr: float, backend: Any = "numpy", device: Any = None, dtype: str = "float32",
                 epochs_per_call: int = 1, compile: bool = False, seed: int = 0) -> None:
        SGD = training_api()[1]
        self.net = build_network(config, backend=backend, device=device, dtype=dtype, seed=seed)
        if weights is not None:
            self.net.set_weights([np.array(w, copy=True) for w in weights])
        self.optimizer = SGD(learning_rate=lr)  # one object for every call: k calls train as one fit of k epochs
        self.X, self.labels, self.batch = X, labels, config.batch
        self.epochs = epochs_per_call
        self.units = epochs_per_call * -(-len(X) // config.batch)
        self.options = {"compile": True} if compile else {}

    def run(self) -> Any:
        """Train ``epochs_per_call`` epochs; returns the History of the call."""
        return self.net.fit(self.X, self.labels, epochs=self.epochs, batch_size=self.batch, optimizer=self.optimizer,
                            shuffle=True, **self.options)

    def synchronize(self) -> None:
        self.net.backend.synchronize(*self.net.parameters())


class ReferenceFitLoop:
    """The hand-written epoch loop (NumPy, or CuPy through ``np=``).

    ``params`` ([W, b] per layer, updated in place), ``X`` (m, n^[0]) and ``Y`` one-hot
    (m, n^[L]) as rows; the permutation of each epoch is drawn on the host from
    (``seed``, epoch) as ``fit`` does and moved to the device once per epoch.
    """

    def __init__(self, params: list[list[Any]], X: Any, Y: Any, *, batch: int, lr: float, seed: int = 0,
                 epochs_per_call: int = 1, np: Any = numpy) -> None:
        self.params, self.X, self.Y, self.batch, self.lr, self.seed = params, X, Y, batch, lr, seed
        self.np = np
        self.epoch_index = 0
        self.epochs = epochs_per_call
        self.m = X.shape[0]
        self.units = epochs_per_call * -(-self.m // batch)
        sizes = [min(batch, self.m - start) for start in range(0, self.m, batch)]
        self.sizes = np.asarray(numpy.asarray(sizes, dtype=X.dtype))

    def epoch(self) -> float:
        """One shuffled pass; returns the mean cost over the epoch (read once, on the host)."""
        xnp, m, batch = self.np, self.m, self.batch
        order = xnp.asarray(shuffle_order(self.seed, self.epoch_index, m))
        self.epoch_index += 1
        costs = []
        for start in range(0, m, batch):
            rows = order[start:start + batch]
            xb, yb = xnp.take(self.X, rows, axis=0), xnp.take(self.Y, rows, axis=0)
            costs.append(reference_step(self.params, xb.T, yb.T, lr=self.lr, np=xnp))
        return float(xnp.sum(xnp.stack(costs) * self.sizes)) / m

    def run(self) -> float:
        """``epochs_per_call`` epochs; returns the last epoch's mean cost."""
        cost = float("nan")
        for _ in range(self.epochs):
            cost = self.epoch()
        return cost
