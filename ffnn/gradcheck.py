"""The gradient at a point (seed H): central finite differences of J, per parameter,
compared with backpropagation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .network import Network

__all__ = ["gradcheck", "GradcheckResult", "numerical_partial"]


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

    def __iter__(self):  # noqa: ANN204 - lets `for err in result` read per_layer
        return iter(self.per_layer)

    def __len__(self) -> int:
        return len(self.per_layer)

    def __getitem__(self, layer: int) -> float:
        return self.per_layer[layer]


def _cost_at(net: Network, x: Any, y: Any) -> float:
    cache, Z_L = net.forward_columns(x.T)
    return float(net.cost_columns(cache, Z_L, y.T))


def numerical_partial(net: Network, X: Any, Y: Any, layer: int, name: str, index: tuple[int, int], *, eps: float = 1e-6) -> float:
    """How much J changes along one dimension θ at the current point (seed H):
    (J(θ + ε) − J(θ − ε)) / 2ε for θ = ``name`` ("W" or "b") of ``layers[layer]``
    at ``index``. The parameter is restored afterwards.

    Runs in the network's own dtype; use a float64 network for accurate values.
    """
    x = net.inputs(X)
    y = net.targets(Y, x.shape[0])
    return _partial(net, x, y, layer, name, index, eps)


def _partial(net: Network, x: Any, y: Any, layer: int, name: str, index: tuple[int, int], eps: float) -> float:
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
    """Compare backpropagation's gradients with central finite differences of J.

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
    """
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
                err = abs(analytic[idx] - numeric) / max(abs(analytic[idx]) + abs(numeric), floor)
                worst = max(worst, float(err))
            n_checked += len(indices)
        per_layer.append(worst)
    return GradcheckResult(per_layer=per_layer, n_checked=n_checked, eps=eps)
