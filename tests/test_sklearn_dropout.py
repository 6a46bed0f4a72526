"""The estimators' issue-12 extensions: ``activation=`` takes ffnn's E activations (with
their α), ``dropout=`` takes D's keep probabilities (validated, passed to the network)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from ffnn.dropout import DropoutError
from ffnn.sklearn import FFNNClassifier, FFNNRegressor


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


@pytest.mark.parametrize(
    ("activation", "spec"),
    [("leaky_relu(alpha=0.2)", "leaky_relu(alpha=0.2)"), ("elu", "elu"), ("softplus", "softplus"),
     ("silu", "silu"), ("gelu", "gelu_tanh"), ("logistic", "sigmoid")],
)
def test_estimators_accept_e_activations(activation: str, spec: str) -> None:
    X, y = _data()
    clf = FFNNClassifier((6,), activation=activation, learning_rate_init=0.05, max_iter=100, tol=0.1, random_state=0)
    clf.fit(X, y)
    assert clf.network_.layers[0].activation.spec == spec
    assert clf.score(X, y) > 0.75  # it learned (silu/gelu need the cached Z^[l] in backward)
    reg = FFNNRegressor(hidden_layer_sizes=(6,), activation=activation, solver="lbfgs", max_iter=200, random_state=0)
    assert reg.fit(X, X[:, 1]).score(X, X[:, 1]) > 0.9


@pytest.mark.parametrize("activation", ["nope", "leaky_relu(alpha=-1)", "softmax"])
def test_estimators_reject_bad_activations(activation: str) -> None:
    X, y = _data()
    with pytest.raises(ValueError, match="activation"):
        FFNNClassifier((4,), activation=activation, max_iter=2).fit(X, y)


def test_dropout_is_a_parameter() -> None:
    clf = FFNNClassifier((4,), dropout={0: 0.9, 1: 0.5})
    assert clf.get_params()["dropout"] == {0: 0.9, 1: 0.5}
    assert clone(clf).dropout == {0: 0.9, 1: 0.5}
    assert FFNNRegressor().dropout is None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dropout": 1.5}, InvalidParameterError, r"'dropout' parameter of FFNNClassifier must be None, a float"),
        ({"dropout": 0.0}, InvalidParameterError, r"'dropout' parameter"),
        ({"dropout": {2: 0.5}}, DropoutError, r"dropout on the output layer \(2\) is not allowed"),
        ({"dropout": {1: [0.5, 0.5]}}, DropoutError, r"gives 2 keep probabilities, but layer 1 has 4 units"),
        ({"dropout": 0.5, "solver": "lbfgs"}, ValueError, r"dropout needs a stochastic solver"),
    ],
)
def test_bad_dropout_is_a_clear_error(kwargs: dict, error: type, message: str) -> None:
    X, y = _data()
    with pytest.raises(error, match=message):
        FFNNClassifier((4,), max_iter=2, **kwargs).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dropout_reaches_the_network_and_the_training_loop() -> None:
    """The estimators train on ffnn's loop, which draws the masks (D (1)–(8)): dropout
    changes the trained weights, and the same random_state repeats them exactly."""
    X, y = _data()
    fitted = [FFNNClassifier((4,), dropout=0.5, max_iter=2, random_state=0).fit(X, y) for _ in range(2)]
    plain = FFNNClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    assert fitted[0].network_.dropout == {1: 0.5}
    np.testing.assert_array_equal(fitted[0].coefs_[0], fitted[1].coefs_[0])
    assert not np.array_equal(fitted[0].coefs_[0], plain.coefs_[0])
