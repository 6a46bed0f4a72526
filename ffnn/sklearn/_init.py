"""MLPClassifier's initial weights: Glorot-uniform draws from the estimator's RandomState, in its order."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

__all__ = ["mlp_initial_parameters"]


def mlp_initial_parameters(
    layer_units: Sequence[int], activation: str, random_state: np.random.RandomState, dtype: str
) -> dict[str, np.ndarray]:
    """Initial parameters drawn as scikit-learn's MLP draws them, in ffnn's layout.

    For each layer l = 1..L, in this order, ``random_state`` draws the (n^[l-1], n^[l])
    weight matrix and then the n^[l] biases, both uniform on [−r, r] with
    r = sqrt(f / (n^[l-1] + n^[l])), f = 2 for a logistic hidden activation, else 6
    (Glorot & Bengio's bound). The same ``random_state`` state gives the same numbers
    as MLPClassifier/MLPRegressor.

    Parameters
    ----------
    layer_units : sequence of int
        [n^[0], n^[1], …, n^[L]].
    activation : str
        The hidden activation, scikit-learn's name ("logistic", "relu", ...).
    random_state : numpy.random.RandomState
        Advanced by the draws.
    dtype : {"float32", "float64"}
        Draws are made in float64, then cast (as scikit-learn does).

    Returns
    -------
    dict
        ``{"W1": (n^[1], n^[0]), "b1": (n^[1], 1), …}``: W^[l] is the transpose of
        scikit-learn's ``coefs_[l-1]``, b^[l] a column of ``intercepts_[l-1]``.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    params: dict[str, np.ndarray] = {}
    for l, (fan_in, fan_out) in enumerate(pairwise(layer_units), start=1):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
        params[f"W{l}"] = np.ascontiguousarray(coef.astype(dtype).T)
        params[f"b{l}"] = intercept.astype(dtype).reshape(fan_out, 1)
    return params
