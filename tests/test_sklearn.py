"""Tests of ffnn.sklearn: scikit-learn's estimator checks, pipelines, targets, partial_fit, backends."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path
from unittest import SkipTest

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="ffnn.sklearn needs scikit-learn: pip install 'ffnn[sklearn]'")

from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from backends import BackendUnavailableError, backend_status, get_backend
from ffnn import Network
from ffnn.optimizers import SGD
from ffnn.schedules import ExponentialDecay
from ffnn.sklearn import FFNNClassifier, FFNNRegressor

# Checks that scikit-learn itself skips for these estimators, and why. Any other skip
# fails the test below, so a check cannot silently stop running.
SKIPPED_BY_SCIKIT_LEARN = {
    "check_classifiers_multilabel_output_format_decision_function": (
        "FFNNClassifier has no decision_function (like MLPClassifier); the predict and predict_proba "
        "multi-label formats are checked"
    ),
    "check_array_api_input": (
        "runs only with SCIPY_ARRAY_API=1 set before SciPy is imported (scikit-learn's array API "
        "dispatch); `SCIPY_ARRAY_API=1 pytest tests/test_sklearn.py` runs it"
    ),
    "check_classifier_data_not_an_array": "needs pandas (installed by the test extra)",
    "check_regressor_data_not_an_array": "needs pandas (installed by the test extra)",
}

# Checks expected to fail, with the reason: none. Kept explicit so that a future
# exception is added here, with its reason, rather than skipped.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _check_name(check: partial) -> str:
    func = check
    while isinstance(func, partial):
        func = func.func
    return func.__name__


# The checks fit tiny random data sets whose default budget need not converge; the
# ConvergenceWarning is then correct behaviour, not a failure.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [FFNNClassifier(random_state=0), FFNNRegressor(random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_estimator_checks(estimator, check):
    try:
        check(estimator)
    except SkipTest as exc:
        name = _check_name(check)
        assert name in SKIPPED_BY_SCIKIT_LEARN, f"{name} was skipped unexpectedly: {exc}"
        pytest.skip(f"{name}: {SKIPPED_BY_SCIKIT_LEARN[name]}")


# ---------------------------------------------------------------------------- data
def _blobs(n_classes=3, n=120, seed=0):
    X, y = make_blobs(n_samples=n, centers=n_classes, n_features=4, cluster_std=1.0, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _multilabel(n=150):
    """Three labels, each a linear rule of six Gaussian features (any combination occurs)."""
    X = np.random.default_rng(0).normal(size=(n, 6))
    return X, (X[:, :3] + 0.5 * X[:, 3:] > 0).astype(int)


def _small(**params):
    return dict(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0, **params)


def _epochs(n, **params):
    """Parameters that run exactly n epochs (the tol criterion can never stop earlier)."""
    return _small(max_iter=n, tol=0.0, n_iter_no_change=n, **params)


def _fit(estimator, X, y):
    """Fit a fixed budget of epochs, which ends with the ConvergenceWarning by design."""
    with pytest.warns(ConvergenceWarning):
        return estimator.fit(X, y)


# ---------------------------------------------------------------------------- classification
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_labels_probabilities_and_accuracy(n_classes):
    X, y = _blobs(n_classes)
    labels = np.array(["ant", "bee", "cat"])[:n_classes][y]
    clf = _fit(FFNNClassifier(**_epochs(100)), X, labels)
    assert list(clf.classes_) == sorted(set(labels))
    assert clf.n_features_in_ == 4
    assert clf.n_outputs_ == (1 if n_classes == 2 else n_classes)
    assert clf.out_activation_ == ("sigmoid" if n_classes == 2 else "softmax")
    proba = clf.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float64 and proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    pred = clf.predict(X)
    assert pred.dtype == labels.dtype and pred.shape == (len(X),)
    np.testing.assert_array_equal(pred, clf.classes_[np.argmax(proba, axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.score(X, labels) > 0.9


def test_multilabel_classification():
    X, Y = _multilabel()
    clf = _fit(FFNNClassifier(**_epochs(100)), X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "sigmoid"
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and proba.dtype == np.float64
    assert np.all((proba >= 0) & (proba <= 1))
    assert not np.allclose(proba.sum(axis=1), 1.0)  # independent labels, not a distribution
    pred = clf.predict(X)
    assert pred.shape == (150, 3)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert np.mean(pred == Y) > 0.8


def test_classifier_refuses_one_class_and_continuous_targets():
    X, _ = _blobs()
    with pytest.raises(ValueError, match="at least 2 classes"):
        FFNNClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        FFNNClassifier().fit(X, np.linspace(0, 1, len(X)))


# ---------------------------------------------------------------------------- regression
def _regression(n_outputs):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 3))
    Y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1], X[:, 1] * X[:, 2]])[:, :n_outputs]
    return X, Y


@pytest.mark.parametrize("shape", ["1d", "column", "two_outputs"])
def test_regressor_keeps_the_target_shape(shape):
    X, Y = _regression(2 if shape == "two_outputs" else 1)
    y = Y[:, 0] if shape == "1d" else Y
    reg = _fit(FFNNRegressor(**_epochs(300)), X, y)
    pred = reg.predict(X)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float64 and pred.shape == y.shape
    assert reg.out_activation_ == "linear" and reg.n_outputs_ == Y.shape[1]
    assert reg.score(X, y) > 0.9


# ---------------------------------------------------------------------------- training semantics
def test_convergence_warning_when_max_iter_is_reached():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\)"):
        clf = FFNNClassifier(**_small(max_iter=3)).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3


def test_stops_without_warning_when_the_loss_stops_improving():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = FFNNClassifier(**_small(max_iter=100, tol=10.0, n_iter_no_change=2)).fit(X, y)
    # the first epoch improves on +inf; with tol=10 every later one counts as "no
    # improvement", and training stops when the count exceeds n_iter_no_change
    assert clf.n_iter_ == 1 + 3
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_loss_curve_ is None and clf.validation_scores_ is None


def test_divergence_stops_with_a_warning_and_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = 1e3 * X.sum(axis=1)
    reg = FFNNRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate=1.0, max_iter=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch") as record:
        reg.fit(X, y)
    assert f"diverged in epoch {reg.n_iter_ + 1} " in str(record[0].message)
    assert reg.n_iter_ < 50 and len(reg.loss_curve_) == reg.n_iter_
    assert np.all(np.isfinite(reg.loss_curve_)) and np.all(np.isfinite(reg.predict(X)))


def test_convergence_warnings_point_at_the_callers_line():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match="maximum iterations") as record:
        FFNNClassifier(**_small(max_iter=1)).fit(X, y)
    assert record[0].filename == __file__
    with pytest.warns(ConvergenceWarning, match="diverged in epoch") as record:
        _diverging_partial_fits(epochs=50)
    assert record[0].filename == __file__


def _diverging_partial_fits(epochs):
    X = np.random.default_rng(0).normal(size=(50, 3))
    reg = FFNNRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate=1.0, random_state=0)
    for _ in range(epochs):
        reg.partial_fit(X, 1e3 * X.sum(axis=1))


def test_loss_curve_decreases():
    X, y = _blobs()
    clf = _fit(FFNNClassifier(**_epochs(30)), X, y)
    assert len(clf.loss_curve_) == 30 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.t_ == 30 * len(X)


@pytest.mark.parametrize("Estimator", [FFNNClassifier, FFNNRegressor])
def test_early_stopping_records_validation_curves(Estimator):
    X, y = _blobs(n=200)
    est = Estimator(**_small(max_iter=200, early_stopping=True, validation_fraction=0.2, n_iter_no_change=5))
    est.fit(X, y)
    n = est.n_iter_
    assert n < 200
    assert len(est.validation_loss_curve_) == n == len(est.validation_scores_) == len(est.loss_curve_)
    assert all(np.isfinite(est.validation_loss_curve_)) and min(est.validation_loss_curve_) > 0
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None
    # stopped because the last n_iter_no_change + 1 epochs did not beat the best by tol
    best_before = max(est.validation_scores_[: n - 6])
    assert all(score < best_before + est.tol for score in est.validation_scores_[n - 6 :])


@pytest.mark.parametrize("Estimator", [FFNNClassifier, FFNNRegressor])
def test_early_stopping_keeps_the_weights_of_the_best_epoch(Estimator):
    """Training is deterministic, so a run cut at the best epoch k ends with the weights
    of epoch k: those are the weights the full run must restore."""
    X, y = _blobs(n=200)
    params = _small(early_stopping=True, validation_fraction=0.2, n_iter_no_change=5)
    full = Estimator(**params, max_iter=200).fit(X, y)
    best_epoch = int(np.argmax(full.validation_scores_)) + 1
    assert best_epoch < full.n_iter_
    cut = _fit(Estimator(**params, max_iter=best_epoch), X, y)
    assert cut.validation_scores_ == full.validation_scores_[:best_epoch]
    for a, b in zip(full.network_.get_weights(), cut.network_.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_needs_a_validation_set_of_two():
    X, y = _blobs(n=12)
    with pytest.raises(ValueError, match="validation set holds 1 sample"):
        FFNNRegressor(early_stopping=True, validation_fraction=0.05).fit(X, y)


def test_alpha_shrinks_the_weights():
    X, y = _blobs()
    norms = []
    for alpha in (0.0, 1.0):
        clf = _fit(FFNNClassifier(**_epochs(40, alpha=alpha)), X, y)
        norms.append(sum(float(np.sum(w**2)) for w in clf.network_.get_weights()[::2]))
    assert norms[1] < 0.9 * norms[0]


def test_each_epoch_visits_every_sample_once_in_a_new_order(monkeypatch):
    seen = []
    network_fit = Network.fit

    def recording_fit(self, X, y, /, **options):
        seen.append(np.array(self.backend.to_numpy(X)))
        return network_fit(self, X, y, **options)

    monkeypatch.setattr(Network, "fit", recording_fit)
    X, y = _blobs()
    _fit(FFNNClassifier(**_epochs(3)), X, y)
    assert len(seen) == 3
    for rows in seen:
        np.testing.assert_array_equal(rows[np.lexsort(rows.T)], X[np.lexsort(X.T)])
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])


def test_fit_is_reproducible_and_independent_of_previous_fits():
    X, y = _blobs()
    clf = FFNNClassifier(**_epochs(20))
    first = _fit(clf, X, y).predict_proba(X)
    second = _fit(clf, X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_optimizer_object_is_copied_not_mutated():
    X, y = _blobs()
    sgd = SGD(0.05, momentum=0.9)
    clf = _fit(FFNNClassifier(hidden_layer_sizes=(8,), solver=sgd, max_iter=5, tol=0.0, random_state=0), X, y)
    assert sgd.iterations == 0 and sgd.slots is None
    assert clf.score(X, y) > 0.8
    assert clone(clf).solver is not sgd


def test_learning_rate_schedule_drives_the_named_solver():
    X, y = _blobs()
    schedule = ExponentialDecay(0.05, decay_rate=0.5, decay_steps=1)
    params = {"solver": "sgd", "learning_rate": schedule, "max_iter": 3, "tol": 0.0, "random_state": 0}
    clf = _fit(FFNNClassifier(hidden_layer_sizes=(8,), **params), X, y)
    assert clf._optimizer.iterations == 3  # one full batch per epoch
    assert clf._optimizer.learning_rate_at(clf._optimizer.iterations) == 0.05 * 0.5**3
    assert clone(clf).get_params()["learning_rate"].initial_learning_rate == 0.05


def test_verbose_prints_the_loss(capsys):
    X, y = _blobs()
    _fit(FFNNClassifier(**_epochs(2, verbose=True)), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


# ---------------------------------------------------------------------------- partial_fit
def test_partial_fit_epochs_equal_fit_epochs():
    """k partial_fit calls are k epochs of fit: same shuffles, optimizer state carried over."""
    X, y = _blobs()
    full = _fit(FFNNClassifier(**_epochs(3, batch_size=32)), X, y)
    inc = FFNNClassifier(**_small(batch_size=32))
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    assert inc.n_iter_ == 3 and inc.loss_curve_ == full.loss_curve_
    assert inc._optimizer.iterations == 3 * int(np.ceil(len(X) / 32))
    for a, b in zip(inc.network_.get_weights(), full.network_.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_regressor_and_continuing_after_fit():
    X, Y = _regression(2)
    reg = FFNNRegressor(**_small())
    losses = [reg.partial_fit(X, Y).loss_ for _ in range(15)]
    assert losses[-1] < losses[0] and reg.n_iter_ == 15
    assert reg.predict(X).shape == Y.shape
    with pytest.raises(ValueError, match="y has 1 outputs but the model was trained with 2"):
        reg.partial_fit(X, Y[:, :1])


def test_partial_fit_errors():
    X, y = _blobs()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        FFNNClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="does not support early_stopping"):
        FFNNClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        FFNNClassifier().partial_fit(X, y, classes=[0])
    clf = FFNNClassifier(**_small()).partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"classes \[2\] that are not in classes_"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but FFNNClassifier is expecting 4"):
        clf.partial_fit(X[:, :3], np.zeros(len(X), int))


def test_partial_fit_multilabel_needs_no_classes():
    X, Y = _multilabel(60)
    clf = FFNNClassifier(**_small()).partial_fit(X, Y)
    assert clf.predict(X).shape == (60, 3)


# ---------------------------------------------------------------------------- scikit-learn integration
def test_importing_ffnn_does_not_import_scikit_learn():
    code = "import sys, ffnn; sys.exit('sklearn' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


def test_pipeline_gridsearch_and_clone():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("ffnn", FFNNClassifier(max_iter=30, random_state=0))])
    grid = GridSearchCV(pipe, {"ffnn__hidden_layer_sizes": [(8,), (16, 8)], "ffnn__alpha": [1e-4, 1e-1]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a deliberately short budget
        grid.fit(X, y)
    assert grid.best_params_["ffnn__hidden_layer_sizes"] in [(8,), (16, 8)]
    assert grid.best_score_ > 0.9
    assert set(grid.predict(X)) <= {0, 1}
    fitted = grid.best_estimator_.named_steps["ffnn"]
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params()
    assert not hasattr(fresh, "network_") and hasattr(fitted, "network_")


def test_pickle_round_trip_keeps_predictions_and_optimizer_state():
    X, y = _blobs()
    clf = FFNNClassifier(**_small(batch_size=40))
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    restored.partial_fit(X, y)
    for a, b in zip(restored.network_.get_weights(), clf.network_.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unpickling_on_a_machine_without_the_backend_raises():
    missing = next((name for name in ("cupy", "jax") if not backend_status(name).usable), None)
    if missing is None:
        pytest.skip("cupy and jax are both usable here")
    X, y = _blobs()
    clf = FFNNClassifier(**_small()).partial_fit(X, y, classes=[0, 1, 2])
    state = clf.__getstate__()
    state["network_"]["backend"] = missing
    with pytest.raises(BackendUnavailableError):
        FFNNClassifier().__setstate__(state)


def test_sparse_input_is_refused_with_a_clear_error():
    X, y = _blobs()
    with pytest.raises(TypeError, match="Sparse data was passed"):
        FFNNClassifier().fit(sparse.csr_matrix(X), y)
    clf = FFNNClassifier(**_small()).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(TypeError, match="Sparse data was passed"):
        clf.predict(sparse.csr_matrix(X))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden_layer_sizes": 0}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (8, "a")}, "hidden_layer_sizes"),
        ({"activation": "softmax"}, "activation"),
        ({"solver": "lbfgs"}, "solver"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"alpha": -1.0}, "alpha"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"tol": float("nan")}, "tol"),
        ({"dtype": "float16"}, "dtype"),
        ({"backend": "tensorflow"}, "tensorflow"),
    ],
)
def test_invalid_parameters_are_named_at_fit(params, match):
    X, y = _blobs()
    clf = FFNNClassifier(**params)  # storing never raises (scikit-learn's rule)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_backend_must_be_a_name():
    X, y = _blobs()
    backend = get_backend("numpy")
    with pytest.raises(TypeError, match="backend must be a backend name"):
        FFNNClassifier(backend=backend).fit(X, y)


@pytest.mark.parametrize("X_dtype", [np.float32, np.float64])
def test_dtype_follows_X_and_outputs_are_float64(X_dtype):
    X, y = _blobs()
    clf = FFNNClassifier(**_small()).partial_fit(X.astype(X_dtype), y, classes=[0, 1, 2])
    assert clf.network_.dtype == np.dtype(X_dtype).name
    assert clf.predict_proba(X).dtype == np.float64
    forced = FFNNRegressor(**_small(dtype="float32")).partial_fit(X, y.astype(float))
    assert forced.network_.dtype == "float32" and forced.predict(X).dtype == np.float64


# ---------------------------------------------------------------------------- backends
def test_training_on_each_backend_returns_numpy_and_matches_numpy(backend):
    """Same seed and data on any backend: NumPy results equal to the NumPy backend's
    within float64 rounding (rtol 1e-9 after 5 epochs)."""
    name, device = backend.name, backend.device_name
    X, y = _blobs()
    common = _epochs(5, dtype="float64")
    on_backend = _fit(FFNNClassifier(backend=name, device=device, **common), X, y)
    on_numpy = _fit(FFNNClassifier(**common), X, y)
    proba = on_backend.predict_proba(X)
    assert type(proba) is np.ndarray and proba.dtype == np.float64
    assert proba.flags.writeable and on_backend.predict(X).flags.writeable  # the caller's own arrays
    assert on_backend.network_.backend.name == name
    np.testing.assert_allclose(proba, on_numpy.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_backend.loss_curve_, on_numpy.loss_curve_, rtol=1e-9)
    assert isinstance(pickle.loads(pickle.dumps(on_backend)).predict(X), np.ndarray)


# ---------------------------------------------------------------------------- accuracy against MLPClassifier
@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer], ids=["digits", "breast_cancer"])
def test_accuracy_matches_mlpclassifier(loader):
    """Test accuracy of FFNNClassifier >= MLPClassifier's - 0.01 (one point).

    Same pipeline (StandardScaler), split (25 % test, stratified, seed 0), architecture
    (one hidden ReLU layer of 64), solver (Adam, learning rate 1e-3), L2 (alpha 1e-4),
    batch size (64), epoch budget (max_iter 200, tol 1e-4, n_iter_no_change 10: the
    defaults of both) and seed. One point is 4.5 test samples of digits, 1.4 of
    breast_cancer.
    """
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    shared = {
        "hidden_layer_sizes": (64,),
        "alpha": 1e-4,
        "batch_size": 64,
        "max_iter": 200,
        "tol": 1e-4,
        "n_iter_no_change": 10,
        "random_state": 0,
    }
    ours = make_pipeline(StandardScaler(), FFNNClassifier(solver="adam", learning_rate=1e-3, **shared))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(solver="adam", learning_rate_init=1e-3, **shared))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # either may use the whole budget
        ours_accuracy = ours.fit(X_train, y_train).score(X_test, y_test)
        theirs_accuracy = theirs.fit(X_train, y_train).score(X_test, y_test)
    assert ours_accuracy >= theirs_accuracy - 0.01, (ours_accuracy, theirs_accuracy)


def test_saved_network_records_classes_for_the_command_line(tmp_path):
    """network_.save() keeps the task and class names as `ffnn train --save` does."""
    from ffnn import load

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["cat", "dog"])[(X[:, 0] > 0).astype(int)]
    clf = FFNNClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.network_.save(tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").metadata == {"task": "binary", "classes": ["cat", "dog"]}
    assert pickle.loads(pickle.dumps(clf)).network_.metadata == clf.network_.metadata
    reg = FFNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, X[:, 0])
    assert reg.network_.metadata == {"task": "regression"}
