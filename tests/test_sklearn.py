"""Tests of ffnn.sklearn: scikit-learn's estimator checks, MLP's parameters and attributes,
the ffnn extensions (backend, device, dtype, optimizer objects), pickling and sparse input.

Numbers against MLP: test_sklearn_exact.py; scikit-learn's own MLP tests:
test_sklearn_mlp_suite.py; array API dispatch: test_sklearn_array_api.py.
"""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="ffnn.sklearn needs scikit-learn: pip install 'ffnn[sklearn]'")

from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ffnn.optimizers import SGD
from ffnn.sklearn import FFNNClassifier, FFNNRegressor

EXTENSIONS = {"backend": "numpy", "device": None, "dtype": None, "dropout": None}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([FFNNClassifier(random_state=0), FFNNRegressor(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n_classes=3, n=120):
    X, y = make_blobs(n_samples=n, centers=n_classes, n_features=4, random_state=0)
    return StandardScaler().fit_transform(X), y


def _quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.mark.parametrize(("Ours", "Theirs"), [(FFNNClassifier, MLPClassifier), (FFNNRegressor, MLPRegressor)])
def test_constructor_is_mlps_plus_the_extensions(Ours, Theirs):
    ours, theirs = inspect.signature(Ours), inspect.signature(Theirs)
    assert list(ours.parameters)[: len(theirs.parameters)] == list(theirs.parameters)
    for name, parameter in theirs.parameters.items():
        assert ours.parameters[name].default == parameter.default, name
        assert ours.parameters[name].kind == parameter.kind, name
    assert {k: v.default for k, v in ours.parameters.items() if k not in theirs.parameters} == EXTENSIONS


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_fitted_attributes_are_mlps(solver):
    X, y = _blobs()
    ours = _quiet_fit(FFNNClassifier(hidden_layer_sizes=(5,), max_iter=5, solver=solver, random_state=0), X, y)
    theirs = _quiet_fit(MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, solver=solver, random_state=0), X, y)
    public = {k for k in vars(theirs) if k.endswith("_") and not k.startswith("_")}
    assert public <= set(vars(ours))
    assert ours.n_layers_ == 3 and ours.out_activation_ == "softmax" and ours.n_outputs_ == 3
    net = ours.network_
    np.testing.assert_array_equal(net.layers[0].W, ours.coefs_[0].T)


def test_learning_rate_float_is_refused_with_the_new_name_in_view():
    with pytest.raises(ValueError, match="learning_rate"):
        FFNNClassifier(learning_rate=0.01).fit(*_blobs())


def test_changed_classes_in_partial_fit_is_an_error():
    X, y = _blobs()
    clf = FFNNClassifier(solver="sgd").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit(X, y + 5)


def test_overflowing_data_is_a_value_error():
    X = np.finfo(np.float64).max * np.random.default_rng(0).uniform(size=(10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            FFNNRegressor().fit(X, np.arange(10.0))


def test_sparse_input_gives_the_dense_result():
    X, y = _blobs()
    dense = _quiet_fit(FFNNClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0), X, y)
    csr = _quiet_fit(FFNNClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0), sparse.csr_matrix(X), y)
    np.testing.assert_allclose(csr.predict_proba(sparse.csr_matrix(X)), dense.predict_proba(X), rtol=1e-12)


def test_optimizer_object_is_copied_not_mutated():
    X, y = _blobs()
    sgd = SGD(0.05, momentum=0.9)
    clf = _quiet_fit(FFNNClassifier(solver=sgd, max_iter=3, random_state=0), X, y)
    assert sgd.slots is None and sgd.iterations == 0
    assert clf._optimizer is not sgd and clf._optimizer.iterations > 0
    assert clf.score(X, y) > 0.5


def test_torch_backend_without_dispatch_returns_numpy_and_matches_numpy():
    pytest.importorskip("torch")
    X, y = _blobs()
    params = {"hidden_layer_sizes": (6,), "max_iter": 5, "random_state": 0}
    ref = _quiet_fit(FFNNClassifier(**params), X, y)
    torch_fit = _quiet_fit(FFNNClassifier(backend="torch", **params), X, y)
    assert type(torch_fit.coefs_[0]) is np.ndarray and type(torch_fit.predict_proba(X)) is np.ndarray
    assert torch_fit.network_.backend.name == "torch"
    np.testing.assert_allclose(torch_fit.predict_proba(X), ref.predict_proba(X), rtol=1e-9)


def test_pickle_round_trip_continues_partial_fit_identically():
    X, y = _blobs()
    clf = FFNNClassifier(hidden_layer_sizes=(6,), batch_size=40, random_state=0)
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    restored.partial_fit(X, y)
    for a, b in zip(restored.coefs_, clf.coefs_):
        np.testing.assert_array_equal(a, b)


def test_importing_ffnn_does_not_import_scikit_learn():
    code = "import sys, ffnn; sys.exit('sklearn' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


def test_pipeline_gridsearch_and_clone():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("ffnn", FFNNClassifier(max_iter=30, random_state=0))])
    grid = GridSearchCV(pipe, {"ffnn__hidden_layer_sizes": [(8,), (16, 8)]}, cv=3)
    _quiet_fit(grid, X, y)
    assert grid.best_score_ > 0.9
    fitted = grid.best_estimator_.named_steps["ffnn"]
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params() and not hasattr(fresh, "coefs_")


def test_saved_network_records_classes_for_the_command_line(tmp_path):
    from ffnn import load

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["cat", "dog"])[(X[:, 0] > 0).astype(int)]
    clf = _quiet_fit(FFNNClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y)
    clf.network_.save(tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").metadata == {"task": "binary", "classes": ["cat", "dog"]}
    reg = _quiet_fit(FFNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, X[:, 0])
    assert reg.network_.metadata == {"task": "regression"}
