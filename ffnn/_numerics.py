"""Numerically stable forms shared by the activations and the losses (which sit side by
side in the layers and may not import each other)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from backends import reductions

from ._types import Array, Namespace

__all__ = ["softmax_and_log", "softmax_and_log_of"]

_SoftmaxAndLog = Callable[[Array], tuple[Array, Array]]
_KERNELS: dict[Namespace, _SoftmaxAndLog] = {}


def softmax_and_log(Z: Array, /, *, xp: Namespace) -> tuple[Array, Array]:
    """Softmax of each column and its logarithm from one exp (MATH.md §4).

    With S = Z − max_p z_p and s = Σ_{axis=0} exp(S): P2 (7) A = exp(S) / s and
    log A = S − log s, finite even where A underflows to 0. ``Z`` is (n, m); both
    results are (n, m), fresh arrays. :func:`softmax_and_log_of` ``(xp)`` is the same
    function of ``Z`` alone.
    """
    try:
        return _KERNELS[xp](Z)
    except (KeyError, TypeError):  # a new (or unhashable) namespace
        return softmax_and_log_of(xp)(Z)


def softmax_and_log_of(xp: Namespace) -> _SoftmaxAndLog:
    """:func:`softmax_and_log` for arrays of namespace ``xp``, as a function of ``Z``
    alone with the namespace's calls found once (kept per namespace): the training
    step's output layer calls it at every batch."""
    with contextlib.suppress(KeyError, TypeError):
        return _KERNELS[xp]
    sum_along, max_along = reductions(xp)
    exp, log = xp.exp, xp.log

    def softmax_and_log_kernel(Z: Array) -> tuple[Array, Array]:
        S = Z - max_along(Z, 0)
        E = exp(S)
        s = sum_along(E, 0)
        E /= s
        S -= log(s)
        return E, S

    with contextlib.suppress(TypeError):  # an unhashable namespace: made again at each call
        _KERNELS[xp] = softmax_and_log_kernel
    return softmax_and_log_kernel
