"""Numerically stable forms shared by the activations and the losses (which sit side by
side in the layers and may not import each other)."""

from __future__ import annotations

from backends import reductions

from ._types import Array, Namespace

__all__ = ["softmax_and_log"]


def softmax_and_log(Z: Array, /, *, xp: Namespace) -> tuple[Array, Array]:
    """Softmax of each column and its logarithm from one exp (MATH.md §4).

    With S = Z − max_p z_p and s = Σ_{axis=0} exp(S): P2 (7) A = exp(S) / s and
    log A = S − log s, finite even where A underflows to 0. ``Z`` is (n, m); both
    results are (n, m), fresh arrays.
    """
    sum_along, max_along = reductions(xp)
    S = Z - max_along(Z, 0)
    E = xp.exp(S)
    s = sum_along(E, 0)
    E /= s
    S -= xp.log(s)
    return E, S
