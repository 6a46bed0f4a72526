"""ffnn's gradient check: central finite differences of J, per parameter, compared with
backpropagation.

Seed H asks for the same quantity, "how much J changes along one dimension θ at a
point", but derives it analytically (the chain rule; see :mod:`ffnn.explain`); H
contains no finite differences (MATH.md §7). The difference quotient here is ffnn's
own, independent tool for checking that derivation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Array
from ._validation import Interval, positive_int
from .network import Network

__all__ = ["GradcheckResult", "gradcheck", "numerical_partial"]


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    per_layer : list of float
        Largest relative error |g_bp − g_fd| / max(|g_bp| + |g_fd|, floor) over the
        checked entries of (W^[l], b^[l]), for l = 1..L.
    n_checked : int
        How many scalar parameters were perturbed.
    eps : float
        The finite-difference step.
    """

    per_layer: list[float]
    n_checked: int
    eps: float

    @property
    def max_error(self) -> float:
        """The largest error over all layers."""
        return max(self.per_layer)

    def __iter__(self):
        return iter(self.per_layer)

    def __len__(self) -> int:
        return len(self.per_layer)

    def __getitem__(self, layer: int) -> float:
        return self.per_layer[layer]


def _cost_at(net: Network, x: Array, y: Array) -> float:
    cache, Z_L = net.forward_columns(x.T)
    return float(net.cost_columns(cache, Z_L, y.T))


def numerical_partial(
    net: Network, X: Any, Y: Any, layer: int, name: str, index: tuple[int, int], *, eps: float = 1e-5
) -> float:
    """How much J changes along one dimension θ at the current point: H's question
    (MATH.md §7), answered numerically rather than by H's analytic chain.

    Computes (J(θ + ε) − J(θ − ε)) / 2ε for θ = ``name`` of ``layers[layer]`` at
    ``index``; the parameter is restored afterwards. Runs in the network's own
    dtype: use a float64 network for accurate values.

    Parameters
    ----------
    net : Network
    X : array_like, shape (m, n_in)
    Y : array_like, targets as :meth:`Network.loss_and_gradients` takes them
    layer : int
        Index into ``net.layers`` (0 is layer 1 of the seeds).
    name : {"W", "b"}
    index : tuple of int
        (row, column) of the entry in W^[l] (n_out, n_in) or b^[l] (n_out, 1).
    eps : float
        The step ε > 0.

    Returns
    -------
    float
        The central-difference estimate of ∂J/∂θ.

    Raises
    ------
    ValueError
        Bad layer, parameter name, index or step.
    """
    eps = _check_step(eps)
    if not 0 <= layer < len(net.layers) or name not in ("W", "b"):
        msg = f"no parameter {name!r} in layer {layer}; use name 'W' or 'b' and a layer in 0..{len(net.layers) - 1}"
        raise ValueError(msg)
    shape = tuple(getattr(net.layers[layer], name).shape)
    if len(index) != 2 or not all(0 <= i < n for i, n in zip(index, shape)):
        msg = f"index {index} is outside {name}^[{layer + 1}] of shape {shape}"
        raise ValueError(msg)
    x = net.inputs(X)
    y = net.targets(Y, x.shape[0])
    return _partial(net, x, y, layer, name, index, eps)


def _check_step(eps: float) -> float:
    return Interval(0, 1, closed="neither").check(eps, "eps", "; 1e-5 suits float64")


def _partial(net: Network, x: Array, y: Array, layer: int, name: str, index: tuple[int, int], eps: float) -> float:
    target = net.layers[layer]
    original = getattr(target, name)
    host = net.backend.to_numpy(original).copy()
    values = []
    for step in (eps, -eps):
        bumped = host.copy()
        bumped[index] += step
        setattr(target, name, net.backend.asarray(bumped))
        values.append(_cost_at(net, x, y))
    setattr(target, name, original)
    return (values[0] - values[1]) / (2 * eps)


def gradcheck(
    net: Network,
    X: Any,
    Y: Any,
    /,
    *,
    eps: float = 1e-5,
    max_per_param: int | None = None,
    floor: float = 1e-10,
    seed: int = 0,
) -> GradcheckResult:
    """Compare backpropagation's gradients with central finite differences of J
    (ffnn's own check, MATH.md §7).

    For each checked entry the error is |g_bp − g_fd| / max(|g_bp| + |g_fd|, floor):
    relative, and symmetric in the two values (a 1% scaling g_bp = 1.01 g_fd gives
    0.01/2.01 at any magnitude above ``floor``).

    The check runs on a float64 copy of ``net`` on the same backend and device (the
    network itself is untouched), so it is meaningful for float32 networks too.

    Parameters
    ----------
    net : Network
    X : array_like, shape (m, n_in)
    Y : array_like, targets as :meth:`Network.loss_and_gradients` takes them
    eps : float
        Step ε of (J(θ + ε) − J(θ − ε)) / 2ε. The default 1e-5 balances the
        O(ε²) truncation error against the O(10⁻¹⁶/ε) rounding error of float64.
    max_per_param : int, optional
        Check at most this many randomly chosen entries of each W and b (all when
        None); use it for large networks.
    floor : float
        Lower bound of the error's denominator, so that two near-zero gradients do
        not produce a large relative error.
    seed : int
        Seeds the choice of entries when ``max_per_param`` is set.

    Returns
    -------
    GradcheckResult
        The largest relative error per layer.

    Raises
    ------
    ValueError
        ``eps`` outside (0, 1), ``max_per_param`` not a positive integer, ``floor``
        not positive; bad X or Y as in :meth:`Network.loss_and_gradients`.
    """
    eps = _check_step(eps)
    if max_per_param is not None:
        max_per_param = positive_int(max_per_param, "max_per_param", " or None")
    floor = Interval(0, None, closed="neither").check(floor, "floor")
    seed = Interval(0, None, integer=True).check(seed, "seed")
    check = net.copy(dtype="float64")
    x = check.inputs(X)
    y = check.targets(Y, x.shape[0])
    cache, _ = check.forward_columns(x.T)
    grads = check.backward_columns(cache, y.T)
    rng = np.random.default_rng(seed)
    per_layer, n_checked = [], 0
    for l, (dW, db) in enumerate(grads):
        worst = 0.0
        for name, grad in (("W", dW), ("b", db)):
            analytic = check.backend.to_numpy(grad)
            indices = list(np.ndindex(analytic.shape))
            if max_per_param is not None and len(indices) > max_per_param:
                chosen = rng.choice(len(indices), size=max_per_param, replace=False)
                indices = [indices[i] for i in chosen]
            for idx in indices:
                numeric = _partial(check, x, y, l, name, idx, eps)
                bp = float(analytic[idx])
                worst = max(worst, abs(bp - numeric) / max(abs(bp) + abs(numeric), floor))
            n_checked += len(indices)
        per_layer.append(worst)
    return GradcheckResult(per_layer=per_layer, n_checked=n_checked, eps=eps)
