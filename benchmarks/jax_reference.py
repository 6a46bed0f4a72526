"""Hand-written ``jax.jit`` training step: the P1/P2 equations of ``reference.py`` in jax.numpy, compiled whole.

What a JAX user who knows the equations writes: one jitted function from (parameters,
batch) to (new parameters, cost), the gradients written out (no autodiff), plain SGD.
It is the yardstick for ffnn's compiled jax step (issue 15 §2: ffnn-jax compiled ≤ 1.1×
this step). :class:`JaxJitFitLoop` is the same step inside a shuffled epoch loop, with
the gather of the batch inside the compiled function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .configs import Config
from .fit_loop import shuffle_order

__all__ = ["JaxJitFitLoop", "JaxJitStep", "JaxMatmulStep", "jax_available"]


def jax_available() -> str:
    """"" when jax can run here, else the reason."""
    try:
        import jax
        import jax.numpy  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason to skip
        return f"jax is not usable: {type(exc).__name__}: {exc}"
    return ""


def _sgd_step(params: list[tuple[Any, Any]], X: Any, Y: Any, lr: float) -> tuple[list[tuple[Any, Any]], Any]:
    """(W, b) ← (W − lr·dW, b − lr·db) by P1 (15)/(16)/(22) and P2 (2), cost by log-sum-exp (P3).

    X (n^[0], m) and Y (n^[L], m), examples as columns, as in ``reference.py``.
    """
    import jax.numpy as jnp

    m = X.shape[1]
    A = [X]
    for W, b in params[:-1]:
        A.append(jnp.maximum(W @ A[-1] + b, 0))
    W, b = params[-1]
    Z = W @ A[-1] + b
    S = Z - jnp.max(Z, axis=0, keepdims=True)
    E = jnp.exp(S)
    s = jnp.sum(E, axis=0, keepdims=True)
    cost = -jnp.sum(Y * (S - jnp.log(s))) / m
    dZ = (E / s - Y) / m
    new: list[tuple[Any, Any]] = [None] * len(params)  # type: ignore[list-item]
    for l in range(len(params) - 1, -1, -1):
        W, b = params[l]
        dW, db = dZ @ A[l].T, jnp.sum(dZ, axis=1, keepdims=True)
        if l > 0:
            dZ = (W.T @ dZ) * (A[l] > 0)
        new[l] = (W - lr * dW, b - lr * db)
    return new, cost


def _to_device(weights: list[np.ndarray], dtype: str) -> list[tuple[Any, Any]]:
    import jax.numpy as jnp

    return [(jnp.asarray(weights[i], dtype=dtype), jnp.asarray(weights[i + 1], dtype=dtype))
            for i in range(0, len(weights), 2)]


class JaxJitStep:
    """One compiled step on a fixed batch; ``weights`` are ffnn's [W1, b1, …] (host).

    The batch is given as rows, like ffnn's, and transposed inside the compiled step.
    """

    def __init__(self, weights: list[np.ndarray], X: np.ndarray, Y: np.ndarray, *, lr: float,
                 dtype: str = "float32") -> None:
        import jax
        import jax.numpy as jnp

        self.params = _to_device(weights, dtype)
        self.X = jnp.asarray(X, dtype=dtype)
        self.Y = jnp.asarray(Y, dtype=dtype)

        def step(params: Any, X: Any, Y: Any) -> Any:
            return _sgd_step(params, X.T, Y.T, lr)

        self._step = jax.jit(step)
        self.cost: Any = None

    def step(self) -> Any:
        """One update; returns the cost before it (a 0-d jax array, not read)."""
        self.params, self.cost = self._step(self.params, self.X, self.Y)
        return self.cost

    def synchronize(self) -> None:
        import jax

        jax.block_until_ready(self.params)


class JaxJitFitLoop:
    """Shuffled epochs of the compiled step: per epoch one transfer of the permutation,
    per batch one compiled call (gather + step), one read of the summed cost."""

    def __init__(self, weights: list[np.ndarray], X: np.ndarray, Y: np.ndarray, *, batch: int, lr: float,
                 seed: int = 0, epochs_per_call: int = 1, dtype: str = "float32") -> None:
        import jax
        import jax.numpy as jnp

        m = X.shape[0]
        if m % batch:
            msg = f"the jax.jit loop needs whole batches (one compiled shape): {m} rows, batch {batch}"
            raise ValueError(msg)
        self.params = _to_device(weights, dtype)
        self.X = jnp.asarray(X, dtype=dtype)
        self.Y = jnp.asarray(Y, dtype=dtype)
        self.m, self.batch, self.seed, self.epochs = m, batch, seed, epochs_per_call
        self.units = epochs_per_call * (m // batch)
        self.epoch_index = 0

        def step(params: Any, X: Any, Y: Any, rows: Any) -> Any:
            xb, yb = jnp.take(X, rows, axis=0), jnp.take(Y, rows, axis=0)
            return _sgd_step(params, xb.T, yb.T, lr)

        self._step = jax.jit(step)

    def epoch(self) -> float:
        import jax.numpy as jnp

        order = shuffle_order(self.seed, self.epoch_index, self.m).reshape(-1, self.batch)
        self.epoch_index += 1
        costs = []
        for rows in jnp.asarray(order):
            self.params, cost = self._step(self.params, self.X, self.Y, rows)
            costs.append(cost)
        return float(jnp.sum(jnp.stack(costs))) * self.batch / self.m

    def run(self) -> float:
        cost = float("nan")
        for _ in range(self.epochs):
            cost = self.epoch()
        return cost

    def synchronize(self) -> None:
        import jax

        jax.block_until_ready(self.params)


class JaxMatmulStep:
    """XLA's matrix products of one step: every product of :meth:`Config.matmul_shapes`
    in one ``jax.jit`` function, each its own output, in the step's operand layouts (a
    transposed operand is the ``.T`` of a stored array, as in the step). It shows how
    much of a compiled step's time XLA's CPU matrix products take on this machine (set
    against PyTorch eager's whole step in the §2 target's row). It is not a strict lower
    bound: inside a whole step XLA may fuse a product with what uses it and need no
    output of its own, and measured here it is within about ±10% of the ``jax.jit`` step."""

    def __init__(self, config: Config, *, dtype: str = "float32") -> None:
        import jax
        import jax.numpy as jnp

        rng = np.random.default_rng(0)
        self.operands = []
        layouts = []
        for _, M, K, N, a_transposed, b_transposed in config.matmul_shapes():
            a = rng.standard_normal((K, M) if a_transposed else (M, K)).astype(dtype)
            b = rng.standard_normal((N, K) if b_transposed else (K, N)).astype(dtype)
            self.operands.append((jnp.asarray(a), jnp.asarray(b)))
            layouts.append((a_transposed, b_transposed))

        def products(operands: Any) -> Any:
            return [(a.T if ta else a) @ (b.T if tb else b) for (a, b), (ta, tb) in zip(operands, layouts)]

        self._run = jax.jit(products)
        self.out: Any = None

    def run(self) -> None:
        self.out = self._run(self.operands)

    def synchronize(self) -> None:
        import jax

        jax.block_until_ready(self.out)
