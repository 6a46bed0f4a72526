"""The estimators' docstrings: MLP's parameters and attributes plus ffnn's extensions."""

from __future__ import annotations

__all__ = ["estimator_doc"]

_SUMMARY = {
    "classifier": """Feedforward network classifier: scikit-learn's MLPClassifier on ffnn's network.

    The same parameters, defaults, fitted attributes and numbers as MLPClassifier
    (log-loss; softmax output for multiclass, logistic for binary and multi-label
    targets), trained on any array library: with
    ``sklearn.set_config(array_api_dispatch=True)`` X of torch, CuPy or
    array-api-strict trains where it lives; ``backend=``/``device=`` choose where
    NumPy input trains.
""",
    "regressor": """Feedforward network regressor: scikit-learn's MLPRegressor on ffnn's network.

    The same parameters, defaults, fitted attributes and numbers as MLPRegressor
    (half squared error with an identity output, or half Poisson deviance with an
    exponential output), trained on any array library (see FFNNClassifier).

    loss : {"squared_error", "poisson"}, default "squared_error"
""",
}

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default (100,)
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
        ("linear" and "sigmoid", ffnn's names, work too, and so do ffnn's E activations
        as an extension: "leaky_relu", "leaky_relu(alpha=0.2)", "elu(alpha=0.5)",
        "softplus", "silu", "gelu"; MATH.md §9.)
    solver : {"lbfgs", "sgd", "adam"}, "adamw" or an ffnn.optimizers.Optimizer, default "adam"
        "adamw" and optimizer objects (deep-copied at each fit) are ffnn extensions.
    alpha : float, default 1e-4
        L2 penalty: (alpha / 2d) Σ‖W‖² per batch, d = batch size or Σ sample weights.
    batch_size : int or "auto", default "auto" (min(200, n_samples))
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Schedule of the sgd solver.
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
    max_iter : int, default 200
    shuffle : bool, default True
    random_state : int, RandomState or None
        Draws the initial weights, the shuffles and the early-stopping split, as MLP.
    tol : float, default 1e-4
    verbose : bool or int, default False
    warm_start : bool, default False
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
    n_iter_no_change : int or np.inf, default 10
    max_fun : int, default 15000
    backend : str, default "numpy"
        ffnn extension: the library that trains NumPy input ("numpy", "torch",
        "cupy", "jax", "array_api_strict", "auto"). Ignored for device arrays under
        array API dispatch, which train where they live.
    device : str, optional
        ffnn extension: the backend's device ("cpu", "cuda:0", ...).
    dtype : {"float32", "float64"} or None, default None
        ffnn extension: the network's precision; None follows X's float dtype.
    dropout : float, dict or list, optional
        ffnn extension: inverted dropout (MATH.md §8) given as KEEP probabilities
        in (0, 1], as ``ffnn.Network(dropout=...)`` takes them: a number for every
        hidden layer, ``{l: p}`` (0 is the input) or a list per layer; each p a
        scalar or one value per unit. Stochastic solvers only; predictions never drop.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    classes_ : ndarray (classifier)
    coefs_ : list of arrays (n^[l-1], n^[l])
    intercepts_ : list of arrays (n^[l],)
    n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_ :
        As MLP's.
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_,
    t_, n_iter_ :
        As MLP's.
    network_ : ffnn.Network
        The network (W^[l] = coefs_[l-1]ᵀ), on the device it trained on.
"""


def estimator_doc(kind: str) -> str:
    """The class docstring of the ``kind`` ("classifier" or "regressor") estimator."""
    return _SUMMARY[kind] + _PARAMETERS + _ATTRIBUTES
