"""Hand-written NumPy (or CuPy) training step: P1/P2 equations with no abstraction, the floor."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy

__all__ = ["inlined_step", "reference_loss_and_gradients", "reference_step"]


def reference_loss_and_gradients(
    params: list[list[Any]], X: Any, Y: Any, *, np: ModuleType = numpy
) -> tuple[Any, list[tuple[Any, Any]]]:
    """Cost and gradients of a ReLU…ReLU-softmax network with categorical cross-entropy.

    Parameters
    ----------
    params : list of [W, b]
        W^[l] (n^[l], n^[l-1]) and b^[l] (n^[l], 1) for l = 1..L.
    X : array (n^[0], m)
        A^[0], examples as columns.
    Y : array (n^[L], m)
        One-hot targets, examples as columns.
    np : module
        ``numpy`` or ``cupy`` (the same code runs on both).

    Returns
    -------
    cost : 0-d array
        J = −(1/m) Σ Y ⊙ log softmax(Z^[L]) (P3, by log-sum-exp).
    grads : list of (dW, db)
        P1 (15) dW = dZ A^[l-1]ᵀ, P1 (16) db = Σ_{axis=1} dZ, with dZ^[L] = (1/m)(A^[L] − Y)
        and dZ^[l] = (W^[l+1]ᵀ dZ^[l+1]) ⊙ I(A^[l] > 0) (P1 (22), P2 (2)).
    """
    m = X.shape[1]
    A = [X]
    for W, b in params[:-1]:
        A.append(np.maximum(W @ A[-1] + b, 0))
    W, b = params[-1]
    Z = W @ A[-1] + b
    S = Z - Z.max(axis=0, keepdims=True)
    E = np.exp(S)
    s = E.sum(axis=0, keepdims=True)
    cost = -(Y * (S - np.log(s))).sum() / m
    dZ = (E / s - Y) / m
    grads: list[tuple[Any, Any]] = [None] * len(params)  # type: ignore[list-item]
    for l in range(len(params) - 1, -1, -1):
        grads[l] = (dZ @ A[l].T, dZ.sum(axis=1, keepdims=True))
        if l > 0:
            dZ = (params[l][0].T @ dZ) * (A[l] > 0)
    return cost, grads


def reference_step(params: list[list[Any]], X: Any, Y: Any, *, lr: float, np: ModuleType = numpy) -> Any:
    """One plain SGD step, W ← W − lr·dW and b ← b − lr·db, in place; returns the cost."""
    cost, grads = reference_loss_and_gradients(params, X, Y, np=np)
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db
    return cost


def inlined_step(params: list[list[Any]], X: Any, Y: Any, *, lr: float, np: ModuleType = numpy) -> Any:
    """ffnn's own training step with every call inlined: the floor of ffnn's structure.

    The same operations, in the same order, as :func:`ffnn.training.make_step`'s step
    of a ReLU…ReLU-softmax network with categorical cross-entropy and plain SGD,
    including what the hand-written :func:`reference_step` leaves out: P3 (6)'s fused
    gradient in its general soft-target form (1/m)(Ŷ ⊙ Σ_p y_p − Y), the cost from the
    log-softmax terms of the forward pass, the ReLU mask multiplied in place as the
    boolean array (ffnn's ``fast_calls(xp).keep`` on NumPy), in-place bias adds and updates. It computes ffnn's
    results bit for bit (tested), so ffnn's step over this one is the cost of ffnn's
    structure alone (layers, activation and loss objects, name-keyed dicts), and this one
    over :func:`reference_step` the cost of its exactness and generality.
    """
    add, maximum = np.add.reduce, np.maximum.reduce
    m = X.shape[1]
    A = [X]
    for W, b in params[:-1]:
        Z = W @ A[-1]
        Z += b
        A.append(np.maximum(Z, 0.0))
    W, b = params[-1]
    Z = W @ A[-1]
    Z += b
    S = Z - maximum(Z, 0, keepdims=True)
    E = np.exp(S)
    s = add(E, 0, keepdims=True)
    E /= s
    S -= np.log(s)  # log softmax(Z^[L])
    cost = -(add(Y * S, axis=None) * (1 / m))
    dZ = E * add(Y, 0, keepdims=True)
    dZ -= Y
    dZ *= 1 / m
    for l in range(len(params) - 1, -1, -1):
        W, b = params[l]
        dW, db = dZ @ A[l].T, add(dZ, 1, keepdims=True)
        if l:
            dA = W.T @ dZ
            np.multiply(dA, A[l] > 0.0, out=dA)
            dZ = dA
        dW *= lr
        W -= dW
        db *= lr
        b -= db
    return cost
