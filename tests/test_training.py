"""Network.fit and its parts: batching, shuffling, targets, history, early stopping, divergence,
callbacks, L2, evaluation and prediction, progress bar, in-process resume, and the documented errors."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from backends import to_numpy
from ffnn import Dense, Network
from ffnn.optimizers import SGD, Adam
from ffnn.schedules import Schedule
from ffnn.training import Callback, EarlyStopping, History, shuffle_order, train_step
from tests.helpers import assert_allclose


def circles(m: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings (radius 0.5 and 1): not linearly separable."""
    rng = np.random.default_rng(seed)
    label = np.arange(m) % 2
    radius = np.where(label == 0, 0.5, 1.0) + rng.normal(0, 0.08, m)
    angle = rng.uniform(0, 2 * np.pi, m)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)], label.astype(np.int64)


def classifier(backend, *, dtype="float64", seed=0, hidden=16, seedless=False):
    layers = [Dense(2, hidden, activation="tanh"), Dense(hidden, 2, activation="softmax")]
    return Network(layers, loss="cce", backend=backend, dtype=dtype, seed=None if seedless else seed)


def regressor(backend, *, dtype="float64", seed=0):
    layers = [Dense(2, 8, activation="relu"), Dense(8, 1, activation="linear")]
    return Network(layers, loss="mse", backend=backend, dtype=dtype, seed=seed)


class Recorder(Callback):
    """Keeps the weights and logs after every epoch, and the order of the hooks."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.weights: list[list[np.ndarray]] = []
        self.logs: list[dict] = []

    def on_train_begin(self, net):
        self.events.append("begin")

    def on_epoch_end(self, net, logs):
        self.events.append("epoch")
        self.weights.append(net.get_weights())
        self.logs.append(logs)

    def on_train_end(self, net, history):
        self.events.append(f"end:{history.stop_reason}")


def assert_weights_equal(net, expected):
    for got, want in zip(net.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- learning
def test_fit_learns_a_nonlinear_problem(backend):
    """Two rings, 2-16-2 tanh/softmax, Adam: at least 95 % accuracy after 20 epochs."""
    X, y = circles()
    net = classifier(backend)
    history = net.fit(X, y, epochs=20, batch_size=48, optimizer=Adam(0.08))
    assert history.stop_reason == "completed" and history.epochs == 20
    assert net.evaluate(X, y)["accuracy"] >= 0.95
    assert history.train_cost[-1] < 0.25 * history.train_cost[0]
    assert all(type(v) is float for v in history.train_cost + history.train_accuracy)
    assert history.val_cost == [] and history.val_accuracy == []


def test_fit_is_a_loop_of_train_step_over_the_seeded_permutations(backend):
    """m = 10, batch 4: three updates per epoch (the last batch has 2 rows), in the
    order shuffle_order(seed, epoch, m) gives, with the L2 penalty."""
    X, y = circles(10)
    net, manual = classifier(backend, seed=3), classifier(backend, seed=3)
    history = net.fit(X, y, epochs=2, batch_size=4, optimizer=SGD(0.1, momentum=0.5), l2=0.1)
    opt, costs = SGD(0.1, momentum=0.5), []
    for epoch in range(2):
        order, total = shuffle_order(3, epoch, 10), 0.0
        for start in range(0, 10, 4):
            rows = order[start : start + 4]
            x, t = manual.inputs(X[rows]), manual.targets(y[rows], len(rows))
            total += float(train_step(manual, opt, x.T, t.T, l2=0.1)) * len(rows)
        costs.append(total / 10)
    assert net.optimizer.iterations == opt.iterations == 6
    np.testing.assert_allclose(history.train_cost, costs, rtol=1e-12)
    for got, want in zip(net.get_weights(), manual.get_weights()):
        assert_allclose(got, want, "float64")


def test_training_is_the_same_on_every_backend(backend):
    X, y = circles(60)
    runs = []
    for where in ("numpy", backend):
        net = classifier(where, seed=4)
        history = net.fit(X, y, epochs=3, batch_size=16, optimizer="adam", validation_split=0.25)
        runs.append((history, net.get_weights()))
    (h0, w0), (h1, w1) = runs
    np.testing.assert_allclose(h1.train_cost + h1.val_cost, h0.train_cost + h0.val_cost, rtol=1e-10)
    assert h1.train_accuracy == h0.train_accuracy and h1.val_accuracy == h0.val_accuracy
    for a, b in zip(w1, w0):
        assert_allclose(a, b, "float64")


def test_shuffle_order_depends_only_on_seed_and_epoch():
    first = shuffle_order(11, 0, 50)
    assert sorted(first) == list(range(50))
    np.testing.assert_array_equal(first, shuffle_order(11, 0, 50))
    assert not np.array_equal(first, shuffle_order(11, 1, 50))
    assert not np.array_equal(first, shuffle_order(12, 0, 50))


def test_unshuffled_full_batch_fit_is_gradient_descent():
    X, y = circles(12)
    net, manual = classifier("numpy"), classifier("numpy")
    net.fit(X, y, epochs=3, batch_size=None, shuffle=False, optimizer=SGD(0.5))
    for _ in range(3):
        _, grads = manual.loss_and_gradients(X, y)
        manual.set_weights([w - 0.5 * to_numpy(g) for w, g in zip(manual.get_weights(), [g for p in grads for g in p])])
    for got, want in zip(net.get_weights(), manual.get_weights()):
        assert_allclose(got, want, "float64")
    assert net.optimizer.iterations == 3


def test_seedless_network_draws_and_records_a_shuffle_seed():
    X, y = circles(12)
    net = classifier("numpy", seedless=True)
    net.fit(X, y, epochs=1)
    assert isinstance(net.training_state.shuffle_seed, int)
    seed = net.training_state.shuffle_seed
    net.fit(X, y, epochs=1)
    assert net.training_state.shuffle_seed == seed and net.training_state.previous_epochs == 1


def test_repeated_fits_continue_the_shuffle_epochs(backend):
    """k fits of one epoch with one optimizer object train exactly as one fit of k epochs:
    each fit shuffles with the epoch count of the network's earlier fits."""
    X, y = circles(20)
    whole, opt = classifier(backend, seed=5), SGD(0.1, momentum=0.9)
    expected = whole.fit(X, y, epochs=3, batch_size=6, optimizer=opt, shuffle=True)
    net, step_by_step, costs = classifier(backend, seed=5), SGD(0.1, momentum=0.9), []
    for k in range(3):
        history = net.fit(X, y, epochs=1, batch_size=6, optimizer=step_by_step, shuffle=True)
        costs += history.train_cost
        state = net.training_state
        assert (state.previous_epochs, state.epoch, state.epochs_trained) == (k, 1, k + 1)
    assert costs == expected.train_cost
    assert step_by_step.iterations == opt.iterations == 12
    assert_weights_equal(net, whole.get_weights())


def test_a_second_fit_draws_new_permutations():
    """The second fit's epoch uses shuffle_order(seed, 1, m), not the first fit's order again."""
    X, y = circles(12)
    seen = []

    class Orders(Callback):
        def on_epoch_end(self, net, logs):
            seen.append(shuffle_order(net.training_state.shuffle_seed, net.training_state.epochs_trained - 1, 12))

    net = classifier("numpy", seed=7)
    for _ in range(2):
        net.fit(X, y, epochs=1, batch_size=4, optimizer="sgd", callbacks=[Orders()])
    np.testing.assert_array_equal(seen[0], shuffle_order(7, 0, 12))
    np.testing.assert_array_equal(seen[1], shuffle_order(7, 1, 12))
    assert not np.array_equal(seen[0], seen[1])
    manual, opt = classifier("numpy", seed=7), SGD()
    for epoch in range(2):
        order = shuffle_order(7, epoch, 12)
        for start in range(0, 12, 4):
            rows = order[start : start + 4]
            train_step(manual, opt, manual.inputs(X[rows]).T, manual.targets(y[rows], 4).T)
    assert_weights_equal(net, manual.get_weights())


# ---------------------------------------------------------------------- targets and tasks
def test_binary_labels_as_vector_column_or_floats_train_identically(backend):
    X, y = circles(40)
    histories = []
    for target in (y, y.reshape(-1, 1), y.astype(np.float64)):
        layers = [Dense(2, 6, activation="tanh"), Dense(6, 1, activation="sigmoid")]
        net = Network(layers, loss="bce", backend=backend, seed=1, dtype="float64")
        histories.append(net.fit(X, target, epochs=2, batch_size=8))
        assert net.task == "binary"
    for other in histories[1:]:
        assert other.train_cost == histories[0].train_cost and other.train_accuracy == histories[0].train_accuracy
    labels = net.predict_classes(X)
    assert labels.shape == (40,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, (to_numpy(net.predict(X))[:, 0] > 0.5).astype(np.int64))


def test_multilabel_targets_and_per_label_accuracy(backend):
    X, _ = circles(30)
    Y = (np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0]).astype(np.float64)
    layers = [Dense(2, 6, activation="tanh"), Dense(6, 3, activation="sigmoid")]
    net = Network(layers, loss="bce", backend=backend, seed=1, dtype="float64")
    assert net.task == "multilabel"
    history = net.fit(X, Y, epochs=3, batch_size=8, optimizer=Adam(0.05))
    assert len(history.train_accuracy) == 3
    labels = net.predict_classes(X)
    assert labels.shape == (30, 3)
    assert math.isclose(net.evaluate(X, Y)["accuracy"], float(np.mean(labels == Y)), rel_tol=1e-12)


def test_regression_has_no_accuracy_and_no_class_predictions(backend):
    X, _ = circles(20)
    net = regressor(backend)
    assert net.task == "regression"
    history = net.fit(X, X[:, 0] * X[:, 1], epochs=2, batch_size=8, validation_split=0.25)
    assert history.train_accuracy == [] and history.val_accuracy == [] and len(history.val_cost) == 2
    assert net.evaluate(X, X[:, 0])["accuracy"] is None
    for method in (net.predict_proba, net.predict_classes):
        with pytest.raises(ValueError, match="needs a classifier .* loss is mse: use predict"):
            method(X)


def test_evaluate_and_predictions_of_a_classifier(backend):
    X, y = circles(50)
    net = classifier(backend)
    net.fit(X, y, epochs=5, batch_size=8, optimizer=Adam(0.05))
    result = net.evaluate(X, y)
    assert math.isclose(result["cost"], net.cost(X, y), rel_tol=1e-12)
    assert result == pytest.approx(net.evaluate(X, y, batch_size=7), rel=1e-12)
    labels = net.predict_classes(X, batch_size=7)
    assert labels.dtype == np.int64 and labels.shape == (50,)
    assert result["accuracy"] == float(np.mean(labels == y))
    proba = to_numpy(net.predict_proba(X, batch_size=7))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert_allclose(net.predict_proba(X), proba, "float64")


# ---------------------------------------------------------------------- validation, early stopping
def test_validation_split_holds_out_the_last_rows(backend):
    X, y = circles(40)
    split = classifier(backend).fit(X, y, epochs=2, batch_size=8, validation_split=0.25)
    given = classifier(backend).fit(X[:30], y[:30], epochs=2, batch_size=8, validation_data=(X[30:], y[30:]))
    assert split.as_dict() == given.as_dict()
    assert len(split.val_cost) == len(split.val_accuracy) == 2


def test_early_stopping_restores_the_best_weights(backend):
    """Validation labels are the training labels flipped, so validation cost rises as
    the network learns: training stops `patience` epochs after the best epoch."""
    X, y = circles(40)
    net, recorder = classifier(backend), Recorder()
    history = net.fit(
        X, y, epochs=30, batch_size=8, optimizer=Adam(0.05), validation_data=(X, 1 - y),
        early_stopping=EarlyStopping(patience=3), callbacks=[recorder],
    )
    best = int(np.argmin(history.val_cost))
    assert history.stop_reason == "early_stopping" and history.epochs == best + 1 + 3 < 30
    assert net.training_state.best_epoch == best + 1
    assert_weights_equal(net, recorder.weights[best])
    assert recorder.events == ["begin"] + ["epoch"] * history.epochs + ["end:early_stopping"]


def test_early_stopping_min_delta_patience_and_no_restore():
    X, y = circles(40)
    net, recorder = classifier("numpy"), Recorder()
    history = net.fit(
        X, y, epochs=30, batch_size=8, optimizer=Adam(0.05), callbacks=[recorder],
        early_stopping=EarlyStopping(patience=2, min_delta=10.0, monitor="train_cost", restore_best=False),
    )
    assert history.epochs == 3 and history.stop_reason == "early_stopping"
    assert_weights_equal(net, recorder.weights[-1])
    net.fit(X, y, epochs=1, validation_split=0.25, early_stopping=1)
    assert net.training_state.settings["early_stopping"] == {
        "patience": 1, "min_delta": 0.0, "restore_best": True, "monitor": "val_cost", "mode": "auto",
        "reference": "improvement",
    }


def test_early_stopping_on_val_cost_needs_validation_data():
    X, y = circles(20)
    with pytest.raises(ValueError, match="monitor 'val_cost' but no validation data was given"):
        classifier("numpy").fit(X, y, early_stopping=EarlyStopping())


# ---------------------------------------------------------------------- divergence
class Jump(Schedule):
    """0.01 for the first 10 updates, then an absurd step size."""

    name = "jump"

    def __call__(self, step):
        return 0.01 if step < 10 else 1e10


def test_divergence_stops_with_the_last_finite_weights(backend):
    X, _ = circles(40)
    y = 10 * X[:, 0]
    net, recorder = regressor(backend, dtype="float32"), Recorder()
    history = net.fit(X, y, epochs=50, batch_size=8, optimizer=SGD(Jump(1.0)), callbacks=[recorder])
    assert history.stop_reason == "diverged" and 2 <= history.epochs < 50
    assert len(recorder.weights) == history.epochs and recorder.events[-1] == "end:diverged"
    assert all(np.all(np.isfinite(w)) for w in net.get_weights())
    assert_weights_equal(net, recorder.weights[-1])
    assert net.optimizer.iterations == 5 * history.epochs
    assert np.all(np.isfinite(to_numpy(net.predict(X))))


def test_divergence_in_the_first_epoch_restores_the_initial_weights(backend):
    X, _ = circles(40)
    net = regressor(backend, dtype="float32")
    initial = net.get_weights()
    history = net.fit(X, 10 * X[:, 0], epochs=5, batch_size=8, optimizer=SGD(1e10))
    assert history.stop_reason == "diverged" and history.epochs == 0
    assert_weights_equal(net, initial)


# ---------------------------------------------------------------------- callbacks, L2, progress
def test_function_callback_can_stop_training():
    X, y = circles(20)
    seen = []
    history = classifier("numpy").fit(X, y, epochs=10, callbacks=[lambda logs: seen.append(logs) or logs["epoch"] == 2])
    assert history.stop_reason == "callback" and history.epochs == 2
    assert [logs["epoch"] for logs in seen] == [1, 2]
    assert set(seen[0]) == {"epoch", "train_cost", "train_accuracy"}
    assert seen[1]["train_cost"] == history.train_cost[1]


def test_l2_penalty_adds_to_cost_and_gradient(backend):
    X, y = circles(9)
    net, plain = classifier(backend, hidden=3), classifier(backend, hidden=3)
    weights = net.get_weights()
    x, t = net.inputs(X), net.targets(y, 9)
    cost0, grads = plain.loss_and_gradients(X, y)
    host = [to_numpy(g) for pair in grads for g in pair]
    cost = float(train_step(net, SGD(0.1), x.T, t.T, l2=0.3))
    penalty = 0.3 / (2 * 9) * sum(float(np.sum(w * w)) for w in weights[0::2])
    assert math.isclose(cost, cost0 + penalty, rel_tol=1e-12)
    expected = [w - 0.1 * (g + (0.3 / 9) * w if k % 2 == 0 else g) for k, (w, g) in enumerate(zip(weights, host))]
    for got, want in zip(net.get_weights(), expected):
        assert_allclose(got, want, "float64")
    assert math.isclose(float(train_step(plain, SGD(0.1), x.T, t.T, l2=0.0)), cost0, rel_tol=1e-12)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_when_verbose_on_a_terminal(monkeypatch, capsys):
    X, y = circles(20)
    classifier("numpy").fit(X, y, epochs=2, verbose=True)
    classifier("numpy").fit(X, y, epochs=2, verbose=False)
    assert capsys.readouterr().err == ""
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    classifier("numpy").fit(X, y, epochs=2, verbose=True, validation_split=0.25)
    shown = terminal.getvalue()
    assert "fit: 100%" in shown and "2/2" in shown
    assert "cost=" in shown and "acc=" in shown and "vcost=" in shown and "vacc=" in shown
    lines = [line for part in shown.split("\r") for line in part.split("\n")]
    assert max(len(line) for line in lines) <= 80, lines
    classifier("numpy").fit(X, y, epochs=2, verbose=False)
    assert terminal.getvalue() == shown


def test_progress_bar_fits_80_columns_with_every_metric(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    X, y = circles(40)
    regressor("numpy").fit(X, X[:, 0] * 1234.5678, epochs=120, verbose=True, validation_split=0.25)
    classifier("numpy").fit(X, y, epochs=120, verbose=True, validation_split=0.25)
    lines = [line for part in terminal.getvalue().split("\r") for line in part.split("\n") if line]
    assert any("r2=" in line and "vr2=" in line for line in lines)
    assert any("acc=" in line and "vacc=" in line and "120/120" in line for line in lines)
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)


# ---------------------------------------------------------------------- regression metrics
def test_history_reports_r2_mae_rmse_for_regression(backend):
    from ffnn.metrics import regression_report

    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    Y = np.c_[3 * X[:, 0] + 1, X[:, 1] - 2]
    X_val, Y_val = X[:12] + 0.1, Y[:12]
    layers = [Dense(2, 6, activation="tanh"), Dense(6, 2, activation="linear")]
    net = Network(layers, loss="mse", backend=backend, dtype="float64", seed=1)
    before = to_numpy(net.predict(X))  # the full batch's outputs before the first update
    history = net.fit(X, Y, epochs=2, batch_size=None, shuffle=False, optimizer=SGD(0.05),
                      validation_data=(X_val, Y_val))
    first = regression_report(Y, before)
    assert history.train_r2[0] == pytest.approx(first["r2"], rel=1e-10)
    assert history.train_mae[0] == pytest.approx(first["mae"], rel=1e-10)
    assert history.train_rmse[0] == pytest.approx(first["rmse"], rel=1e-10)
    after = regression_report(Y_val, to_numpy(net.predict(X_val)))
    for key in ("r2", "mae", "rmse"):
        assert getattr(history, f"val_{key}")[-1] == pytest.approx(after[key], rel=1e-10)
    assert len(history.val_r2) == 2 and history.train_accuracy == []
    scores = net.evaluate(X_val, Y_val)
    assert scores["accuracy"] is None
    for key in ("r2", "mae", "rmse"):
        assert scores[key] == pytest.approx(after[key], rel=1e-10)
    from ffnn.training import History

    assert History.from_dict(history.as_dict()).as_dict() == history.as_dict()


# ---------------------------------------------------------------------- continuing and resuming in process
def test_a_given_optimizer_keeps_its_state_across_fits():
    X, y = circles(20)
    net, opt = classifier("numpy"), Adam(0.01)
    net.fit(X, y, epochs=1, batch_size=8, optimizer=opt)
    net.fit(X, y, epochs=1, batch_size=8, optimizer=opt)
    assert opt.iterations == 6 and net.optimizer is opt
    other = Network([Dense(2, 3), Dense(3, 2, activation="softmax")], loss="cce", seed=0)
    with pytest.raises(ValueError, match="pass a new optimizer or call optimizer.reset"):
        other.fit(X, y, optimizer=opt)


class Interrupted(Exception):
    pass


class FlakySGD(SGD):
    """Raises once, in the middle of an epoch, when asked to make update `fail_at`."""

    fail_at: int | None = None

    def update(self, params, grads, state, /, *, xp=None):
        if state["step"] == self.fail_at:
            self.fail_at = None
            raise Interrupted
        return super().update(params, grads, state, xp=xp)


def test_interrupted_fit_rolls_back_the_epoch_and_resumes_exactly(backend):
    X, y = circles(10)
    options = dict(epochs=4, batch_size=4, validation_split=0.2, early_stopping=EarlyStopping(patience=5))
    reference = classifier(backend)
    expected = reference.fit(X, y, optimizer=FlakySGD(0.2, momentum=0.9), **options)
    net, opt = classifier(backend), FlakySGD(0.2, momentum=0.9)
    opt.fail_at = 5  # the 2nd update of epoch 3 (two updates per epoch)
    with pytest.raises(Interrupted):
        net.fit(X, y, optimizer=opt, **options)
    assert net.training_state.epoch == 2 and opt.iterations == 4
    history = net.fit(X, y, optimizer=opt, resume=True, **options)
    assert history.as_dict() == expected.as_dict()
    assert_weights_equal(net, reference.get_weights())


# ---------------------------------------------------------------------- history
def test_history_round_trip_and_repr():
    history = History.from_dict({"train_cost": [1.0, 0.5], "val_cost": [2.0, 1.5], "stop_reason": "completed"})
    assert history.epochs == 2 and history.train_accuracy == []
    assert History.from_dict(history.as_dict()).as_dict() == history.as_dict()
    assert repr(history) == "History(epochs=2, train_cost=0.5, stop_reason='completed')"


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be a positive integer, got 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
        ({"l2": -1.0}, ValueError, r"l2 must be a non-negative finite number"),
        ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer 'rmsprop'"),
        ({"optimizer": 0.1}, TypeError, "optimizer must be a name"),
        ({"validation_split": 1.5}, ValueError, r"validation_split must be a fraction in \(0, 1\)"),
        ({"validation_split": 0.99}, ValueError, "leaves examples on both sides; got 0.99 for 20 examples"),
        (
            {"validation_split": 0.2, "validation_data": ([[0.0, 0.0]], [0])},
            ValueError,
            "either validation_data or validation_split",
        ),
        ({"validation_data": [[0.0, 0.0]]}, TypeError, r"validation_data must be a pair \(X_val, y_val\)"),
        ({"validation_data": ([[0.0, 0.0, 0.0]], [0])}, ValueError, "X_val has 3 features but the network expects 2"),
        ({"validation_data": ([[0.0, 0.0]], np.array([5]))}, ValueError, r"y_val holds class labels in \[5, 5\]"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping must be an EarlyStopping"),
        ({"checkpoint": 3}, TypeError, "checkpoint must be a Checkpoint, a file path or None"),
        ({"callbacks": [3]}, TypeError, "callbacks must be a sequence of Callback objects or functions"),
        ({"resume": True}, ValueError, "resume=True, but this network has no training state"),
    ],
)
def test_fit_errors(options, error, message):
    X, y = circles(20)
    with pytest.raises(error, match=message):
        classifier("numpy").fit(X, y, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"min_delta": -0.1}, "min_delta must be a non-negative finite number, got -0.1"),
        ({"monitor": "val_loss"}, "monitor must be one of 'val_cost', 'train_cost', 'val_accuracy', 'train_accuracy', got 'val_loss'"),
        ({"mode": "up"}, "mode must be one of 'auto', 'min', 'max', got 'up'"),
        ({"reference": "last"}, "reference must be one of 'improvement', 'best', got 'last'"),
    ],
)
def test_early_stopping_errors(options, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**options)


def test_resume_must_repeat_the_interrupted_fit():
    X, y = circles(20)
    net = classifier("numpy")
    net.fit(X, y, epochs=2, batch_size=8)
    with pytest.raises(ValueError, match="completed all its 2 epochs; resume=True continues an interrupted fit only"):
        net.fit(X, y, epochs=3, batch_size=8, resume=True)
    assert net.fit(X, y, epochs=2, batch_size=8, resume=True) is net.training_state.history
    with pytest.raises(ValueError, match="its batch_size was 8, this call gives 4"):
        net.fit(X, y, epochs=2, batch_size=4, resume=True)
    with pytest.raises(ValueError, match="continues with the saved optimizer Adam"):
        net.fit(X, y, epochs=2, batch_size=8, optimizer="sgd", resume=True)
    net.training_state.history.stop_reason = ""  # as if interrupted after epoch 2
    with pytest.raises(ValueError, match="epochs=1, but the interrupted fit already ran 2 epochs"):
        net.fit(X, y, epochs=1, batch_size=8, resume=True)
    net.optimizer = None
    with pytest.raises(ValueError, match="has no optimizer state"):
        net.fit(X, y, epochs=2, batch_size=8, resume=True)


def test_fit_reads_the_device_a_fixed_number_of_times_per_epoch(monkeypatch):
    """DESIGN §2: no host synchronisation per batch. On array-api-strict every way of
    reading an array on the host is counted; 4 and 16 batches per epoch must read
    the same number of times."""
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    from ffnn import Dense, Network

    Array = type(strict.asarray(0.0))
    calls = {"n": 0}
    for name in ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__", "to_device"):
        real = getattr(Array, name)

        def counted(self, *a, _real=real, **k):
            calls["n"] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(Array, name, counted)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    reads = []
    for batch_size in (16, 4):
        net = Network([Dense(3, 4, activation="tanh"), Dense(4, 2, activation="softmax")], loss="cce",
                      backend="array_api_strict", device="device1", dtype="float64", seed=0)
        net.fit(X, y, epochs=1, batch_size=16, optimizer="sgd")  # warm: optimizer state, first-call work
        calls["n"] = 0
        net.fit(X, y, epochs=2, batch_size=batch_size, optimizer=net.optimizer)
        reads.append(calls["n"])
    assert reads[0] == reads[1] > 0, reads
