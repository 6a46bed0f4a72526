"""The estimators on ffnn's one training loop: the loop's protocol points they use
(optimizer hooks, penalty, metrics hook, rows-averaged cost, MLP's stopping rule as
EarlyStopping) and the core losses they train with (half_squared_error, poisson + exp).

Exactness against scikit-learn's MLP is in test_sklearn_exact.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="ffnn.sklearn needs scikit-learn: pip install 'ffnn[sklearn]'")

import ffnn
from ffnn.layers import Dense
from ffnn.losses import get_loss
from ffnn.optimizers import SGD
from ffnn.sklearn import FFNNClassifier, FFNNRegressor
from ffnn.sklearn._losses import MLPPenalty
from ffnn.training import EarlyStopping, History, TrainingState
from ffnn.training.loop import Data, Loop


def _numeric_gradient(f, A, h=1e-6):
    G = np.zeros_like(A)
    for index in np.ndindex(A.shape):
        up, down = A.copy(), A.copy()
        up[index] += h
        down[index] -= h
        G[index] = (f(up) - f(down)) / (2 * h)
    return G


@pytest.mark.parametrize("name", ["half_squared_error", "poisson"])
@pytest.mark.parametrize("weighted", [False, True])
def test_new_core_losses_seed_is_the_cost_gradient(name, weighted):
    rng = np.random.default_rng(0)
    loss = get_loss(name)
    A = rng.uniform(0.5, 2.0, (3, 5))
    Y = rng.poisson(1.5, (3, 5)).astype(float)
    w = rng.uniform(0.1, 2.0, (1, 5)) if weighted else None
    numeric = _numeric_gradient(lambda a: float(loss.cost(a, Y, xp=np, weights=w)), A)
    np.testing.assert_allclose(loss.gradient(A, Y, xp=np, weights=w), numeric, rtol=1e-6, atol=1e-9)
    # the fused dJ/dZ with the canonical output is the seed through g'
    g = ffnn.activations.get_activation(loss.fused_activation)
    Z = np.log(A) if name == "poisson" else A
    fused = loss.fused_gradient(g.forward(Z, xp=np), Y, xp=np, weights=w)
    np.testing.assert_allclose(fused, g.backward(loss.gradient(A, Y, xp=np, weights=w), A, xp=np), rtol=1e-12)
    np.testing.assert_allclose(loss.cost_from_logits(Z, Y, xp=np, weights=w), loss.cost(A, Y, xp=np, weights=w))


def test_half_squared_error_is_half_mse():
    rng = np.random.default_rng(1)
    A, Y = rng.normal(size=(2, 7)), rng.normal(size=(2, 7))
    assert float(get_loss("half_squared_error").cost(A, Y, xp=np)) == pytest.approx(
        0.5 * float(get_loss("mse").cost(A, Y, xp=np)), rel=1e-14
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_poisson_network_is_saved_and_loaded(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.poisson(np.exp(X[:, 0] * 0.5)).astype(float)
    reg = FFNNRegressor(loss="poisson", hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    net = reg.network_
    assert net.loss.name == "poisson" and net.layers[-1].activation.name == "exp"
    net.save(tmp_path / "poisson.npz")
    back = ffnn.load(tmp_path / "poisson.npz")
    assert back.loss.name == "poisson"
    np.testing.assert_allclose(ffnn.Network.predict(back, X)[:, 0], reg.predict(X), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_networks_carry_the_core_losses():
    X = np.random.default_rng(0).normal(size=(40, 3))
    reg = FFNNRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, X[:, :2])
    clf = FFNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, X[:, 0] > 0)
    assert reg.network_.loss.name == "half_squared_error"
    assert clf.network_.loss.name == "binary_crossentropy"
    assert reg.network_.get_config()["layers"][0]["activation"] == "relu"


@pytest.mark.parametrize("inclusive", [False, True])
def test_early_stopping_inclusive_counts_an_improvement_of_exactly_min_delta(inclusive):
    rule = EarlyStopping(patience=1, min_delta=0.5, reference="best", inclusive=inclusive, monitor="train_cost")
    check = rule.observe(1.5, 2.0, 0)
    assert check.stop is not inclusive
    assert check.new_best  # the best value moves either way (reference="best")


def test_fit_refuses_val_score_without_a_metrics_hook():
    net = ffnn.Network([Dense(2, 1, activation="linear")], backend="numpy", dtype="float64", seed=0)
    X = np.zeros((8, 2))
    with pytest.raises(ValueError, match="metrics hook"):
        net.fit(X, X[:, 0], epochs=2, early_stopping=EarlyStopping(monitor="val_score"), validation_split=0.25)


class _PlateauSGD(SGD):
    """SGD with the loop's optional hooks, recording their calls."""

    def __init__(self, *args, keep_going=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.ends, self.plateaus, self.keep_going = [], 0, keep_going

    def epoch_end(self, state, m):
        self.ends.append(m)
        return state

    def on_plateau(self, state):
        self.plateaus += 1
        return self.plateaus > self.keep_going


def _loop(opt, *, stopper, metrics=None, l2=0.0, weights=None, mean_by_rows=False, epochs=6):
    net = ffnn.Network([Dense(2, 1, activation="linear")], loss="half_squared_error", backend="numpy",
                       dtype="float64", seed=0)
    X = np.random.default_rng(0).normal(size=(10, 2))
    Y = X @ np.array([[1.0], [-2.0]])
    opt.state = opt.init(net.named_parameters(), xp=np)
    state = TrainingState(epoch=0, shuffle_seed=0, history=History(), settings={})
    data = Data(X, Y, None, None, 4, False, weights, mean_by_rows=mean_by_rows)
    loop = Loop(net, opt, state, data, stopper=stopper, saver=None, hooks=[], l2=l2, sampler=None, metrics=metrics)
    loop.run(epochs, verbose=False)
    return net, state


def test_optimizer_hooks_epoch_end_and_on_plateau():
    opt = _PlateauSGD(1e-300)  # no learning: every epoch is a plateau epoch
    stopper = EarlyStopping(patience=2, monitor="train_cost", restore_best=False)
    _, state = _loop(opt, stopper=stopper, epochs=10)
    assert opt.ends == [10] * state.history.epochs
    # the first plateau (epoch 3) is taken by the optimizer (count restarts), the second stops
    assert opt.plateaus == 2 and state.history.epochs == 5 and state.history.stop_reason == "early_stopping"


def test_metrics_hook_feeds_the_stopping_rule():
    scores = iter([0.1, 0.5, 0.4, 0.45, 0.3, 0.2])
    stopper = EarlyStopping(patience=2, monitor="val_score", restore_best=False)
    _, state = _loop(SGD(0.01), stopper=stopper, metrics=lambda net, logs: {"val_score": next(scores)})
    assert state.history.val_score == [0.1, 0.5, 0.4, 0.45]
    assert state.history.stop_reason == "early_stopping" and state.best == 0.5


def test_penalty_object_and_rows_averaged_cost():
    calls = []

    def penalty(params, grads, m, weights, *, xp):
        calls.append((m, None if weights is None else float(xp.sum(weights))))
        return MLPPenalty(0.0)(params, grads, m, weights, xp=xp) + 1.0

    w = np.arange(1, 11, dtype=float)
    net, by_rows = _loop(SGD(1e-300), stopper=None, l2=penalty, weights=w, mean_by_rows=True, epochs=1)
    _, by_weights = _loop(SGD(1e-300), stopper=None, l2=0.0, weights=w, epochs=1)
    assert calls == [(4, 10.0), (4, 26.0), (2, 19.0)]
    X = np.random.default_rng(0).normal(size=(10, 2))
    Y = X @ np.array([[1.0], [-2.0]])
    A = net.forward_columns(X.T)[0][-1]
    loss = get_loss("half_squared_error")
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    costs = [float(loss.cost(A[:, b], Y.T[:, b], xp=np, weights=w[None, b])) for b in batches]
    rows = sum((c + 1.0) * (b.stop - b.start) for c, b in zip(costs, batches)) / 10
    weighted = sum(c * float(np.sum(w[b])) for c, b in zip(costs, batches)) / float(np.sum(w))
    assert by_rows.history.train_cost[0] == pytest.approx(rows, rel=1e-12)
    assert by_weights.history.train_cost[0] == pytest.approx(weighted, rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_adaptive_rate_and_stopping_follow_mlp_through_the_loop():
    from sklearn.neural_network import MLPClassifier

    X = np.random.default_rng(0).normal(size=(80, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    params = dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2, max_iter=60, random_state=1,
                  hidden_layer_sizes=(6,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MLPClassifier(**params).fit(X, y)
    ours = FFNNClassifier(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert ours._no_improvement_count == theirs._no_improvement_count
