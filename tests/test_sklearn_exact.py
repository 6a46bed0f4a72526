"""FFNNClassifier/FFNNRegressor reproduce scikit-learn's MLP numerically (NumPy, float64).

Same parameters and random_state → the same initial weights, shuffles, early-stopping
split, losses and updates: loss_curve_, validation_scores_, n_iter_, coefs_,
intercepts_ and predictions agree to 1e-10 relative for sgd and adam and to 1e-6 for
lbfgs (scipy's L-BFGS-B sees the same function values and gradients).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="needs scikit-learn")

from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor

from ffnn.sklearn import FFNNClassifier, FFNNRegressor


def _data(task):
    if task == "regression":
        X, y = make_regression(120, 8, n_targets=3, noise=1.0, random_state=0)
        return MLPRegressor, FFNNRegressor, X, y / 100
    if task == "multilabel":
        X, y = make_multilabel_classification(120, n_features=8, n_classes=3, random_state=0)
        return MLPClassifier, FFNNClassifier, X / 8, y
    X, y = load_digits(return_X_y=True)
    X, y = X[:150] / 16, y[:150]
    return MLPClassifier, FFNNClassifier, X, (y % 2 if task == "binary" else y % 4)


SOLVERS = {
    "sgd-momentum": {"solver": "sgd", "nesterovs_momentum": False, "learning_rate_init": 0.05},
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.05},
    "sgd-invscaling": {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.2, "momentum": 0.5},
    "sgd-adaptive": {"solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2},
    "adam": {"solver": "adam", "learning_rate_init": 0.01, "batch_size": 32},
    "adam-early-stopping": {"solver": "adam", "early_stopping": True, "learning_rate_init": 0.01},
    "lbfgs": {"solver": "lbfgs"},
}
TASKS = ["binary", "multiclass", "multilabel", "regression"]


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def _fit_both(task, config, sample_weight=None):
    Theirs, Ours, X, y = _data(task)
    params = dict(hidden_layer_sizes=(12, 7), max_iter=40, random_state=3, alpha=1e-3, **config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Theirs(**params).fit(X, y, sample_weight=sample_weight)
        ours = Ours(**params).fit(X, y, sample_weight=sample_weight)
    return theirs, ours, X


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_same_numbers_as_scikit_learn(task, solver):
    theirs, ours, X = _fit_both(task, SOLVERS[solver])
    tol = 1e-6 if solver == "lbfgs" else 1e-10
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert _relative(a, b) <= tol
    method = "predict_proba" if hasattr(theirs, "predict_proba") else "predict"
    assert _relative(getattr(ours, method)(X), getattr(theirs, method)(X)) <= tol
    if hasattr(theirs, "classes_"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert _relative(ours.loss_, theirs.loss_) <= tol
    if solver != "lbfgs":
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        assert _relative(ours.loss_curve_, theirs.loss_curve_) <= tol
        assert ours.t_ == theirs.t_
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=tol)
    assert hasattr(ours, "validation_scores_") == hasattr(theirs, "validation_scores_")
    if getattr(theirs, "validation_scores_", None):
        assert _relative(ours.validation_scores_, theirs.validation_scores_) <= tol
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=tol)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("solver", ["sgd-nesterov", "adam-early-stopping", "lbfgs"])
def test_same_numbers_with_sample_weight(task, solver):
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=_data(task)[2].shape[0])
    theirs, ours, _X = _fit_both(task, SOLVERS[solver], sample_weight=weights)
    tol = 1e-6 if solver == "lbfgs" else 1e-10
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert _relative(a, b) <= tol
    if solver != "lbfgs":
        assert _relative(ours.loss_curve_, theirs.loss_curve_) <= tol


def test_same_numbers_with_poisson_loss():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(100, 3))
    y = rng.poisson(np.exp(X @ np.array([0.5, -0.3, 0.8])))
    for solver in ("adam", "lbfgs"):
        params = {"loss": "poisson", "hidden_layer_sizes": (5,), "max_iter": 30, "random_state": 0, "solver": solver}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, ours = MLPRegressor(**params).fit(X, y), FFNNRegressor(**params).fit(X, y)
        assert ours.out_activation_ == theirs.out_activation_ == "exp"
        assert _relative(ours.predict(X), theirs.predict(X)) <= (1e-6 if solver == "lbfgs" else 1e-10)


def test_partial_fit_and_warm_start_follow_scikit_learn():
    _, _, X, y = _data("multiclass")
    params = {"hidden_layer_sizes": (10,), "solver": "sgd", "random_state": 1, "learning_rate_init": 0.1}
    theirs, ours = MLPClassifier(**params), FFNNClassifier(**params)
    for _ in range(5):
        theirs.partial_fit(X, y, classes=np.unique(y))
        ours.partial_fit(X, y, classes=np.unique(y))
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert _relative(ours.coefs_[0], theirs.coefs_[0]) <= 1e-10
    warm = dict(params, warm_start=True, max_iter=5)
    theirs, ours = MLPClassifier(**warm), FFNNClassifier(**warm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (theirs, ours):
            est.fit(X, y).fit(X, y)
    assert _relative(ours.loss_curve_, theirs.loss_curve_) <= 1e-10


def test_float32_input_trains_and_predicts_in_float32():
    _, _, X, y = _data("regression")
    ours = FFNNRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X.astype(np.float32), y)
    assert ours.coefs_[0].dtype == np.float32 and ours.predict(X.astype(np.float32)).dtype == np.float32
