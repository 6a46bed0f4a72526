"""Issue 11's trust cases: a fit never hands back a non-finite network (it raises
DivergedError instead), foreign devices and bad targets are refused, sample weights
work end to end, DataFrames are matched by column name."""

from __future__ import annotations

import numpy as np
import pytest

from backends import to_numpy
from ffnn import Dense, Network
from ffnn.optimizers import Adam
from ffnn.training import DivergedError


def _data(m: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, 3)), rng.integers(0, 3, size=m)


def _net(backend, dtype: str = "float64") -> Network:
    layers = [Dense(3, 8, activation="relu"), Dense(8, 3, activation="softmax")]
    return Network(layers, loss="cce", backend=backend, dtype=dtype, seed=0)


def _finite_after_fit(net: Network, X: np.ndarray) -> None:
    """The rule of issue 11: parameters, optimizer state and predictions finite."""
    assert all(np.all(np.isfinite(w)) for w in net.get_weights())
    state = net.optimizer.state
    for slot in (v for v in state.values() if isinstance(v, dict)):
        assert all(np.all(np.isfinite(to_numpy(a))) for a in slot.values())
    assert np.all(np.isfinite(to_numpy(net.predict(X))))


def test_fit_refuses_nan_weights_at_the_start(backend):
    X, y = _data()
    net = _net(backend)
    weights = net.get_weights()
    weights[2][1, 4] = np.nan
    net.set_weights(weights)
    with pytest.raises(ValueError, match=r"W2 holds NaN or infinite values.*set_weights"):
        net.fit(X, y, epochs=2, batch_size=16)
    assert net.training_state is None or net.training_state.history.epochs == 0


def test_divergence_covers_the_optimizer_state(backend, monkeypatch):
    """Adam's second moment overflowing to inf freezes the parameters (the update
    m/(√v+ε) becomes 0) without a non-finite cost: injected here at the third step."""
    X, y = _data()
    net = _net(backend)
    calls = {"n": 0}
    real = Adam.update

    def overflowing(self, params, grads, state, *, xp):
        params, state = real(self, params, grads, state, xp=xp)
        calls["n"] += 1
        if calls["n"] == 7:  # in the second epoch (4 batches per epoch)
            state = {**state, "v": {k: v * xp.inf for k, v in state["v"].items()}}
        return params, state

    monkeypatch.setattr(Adam, "update", overflowing)
    history = net.fit(X, y, epochs=4, batch_size=16, optimizer=Adam(0.01), shuffle=False)
    assert history.stop_reason == "diverged"
    assert history.epochs == 1
    _finite_after_fit(net, X)


def test_a_fit_never_hands_back_weights_whose_predictions_are_nan(backend):
    """Huge but finite weights: the first epoch's cost is not finite, so the fit
    would roll back to the starting weights, whose predictions are NaN: it raises."""
    X, y = _data()
    net = _net(backend)
    before = [np.full_like(w, 1e200) for w in net.get_weights()]
    net.set_weights(before)
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(to_numpy(net.predict(X))))
    with pytest.raises(DivergedError, match="not finite"):
        net.fit(X, y, epochs=3, batch_size=16)
    for w, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("learning_rate", [1e30, 1e6])
def test_huge_learning_rates_end_finite_or_raise(backend, learning_rate):
    X, y = _data()
    net = _net(backend, dtype="float32")
    try:
        net.fit(X, y, epochs=3, batch_size=16, optimizer=Adam(learning_rate))
    except DivergedError:
        return
    _finite_after_fit(net, X)


# ---------------------------------------------------------------------- foreign devices
@pytest.mark.parametrize("target", ["numpy", "torch"])
def test_arrays_on_another_device_are_refused(target):
    strict = pytest.importorskip("array_api_strict")
    if target == "torch":
        pytest.importorskip("torch")
    X, y = _data()
    net = _net(target)
    other = strict.asarray(X, device=strict.Device("device1"))
    with pytest.raises(TypeError, match=r"X.*device1.*to_device"):
        net.predict(other)
    with pytest.raises(TypeError, match="device1"):
        net.fit(other, y, epochs=1)
    with pytest.raises(TypeError, match="device1"):
        net.fit(X, strict.asarray(y, device=strict.Device("device1")), epochs=1)
    weights = net.get_weights()
    weights[0] = strict.asarray(weights[0], device=strict.Device("device1"))
    with pytest.raises(TypeError, match="device1"):
        net.set_weights(weights)


# ---------------------------------------------------------------------- cross-entropy targets
def test_cross_entropy_refuses_all_zero_rows(backend):
    X, _ = _data(6)
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    Y[4] = 0.0
    net = _net(backend)
    with pytest.raises(ValueError, match="example 4 are all zero"):
        net.fit(X, Y, epochs=1)
    with pytest.raises(ValueError, match="example 4 are all zero"):
        net.evaluate(X, Y)
    with pytest.raises(ValueError, match="example 4 are all zero"):
        net.fit(X, np.eye(3)[[0, 1, 2, 0, 1, 2]], epochs=1, validation_data=(X, Y))


def test_cross_entropy_refuses_negative_targets(backend):
    X, _ = _data(6)
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    Y[2] = [-0.5, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"example 2|outside"):
        _net(backend).fit(X, Y, epochs=1)


# ---------------------------------------------------------------------- sample weights
@pytest.mark.parametrize("loss", ["cce", "mse"])
def test_integer_sample_weights_equal_repeated_rows(backend, loss):
    from ffnn.optimizers import SGD

    X, y = _data(12)
    weights = np.array([1, 2, 0, 3, 1, 1, 2, 1, 0, 1, 4, 1])
    out = 3 if loss == "cce" else 1
    target = y if loss == "cce" else X[:, 0] - 2 * X[:, 1]
    last = "softmax" if loss == "cce" else "linear"

    def net():
        layers = [Dense(3, 6, activation="tanh"), Dense(6, out, activation=last)]
        return Network(layers, loss=loss, backend=backend, dtype="float64", seed=2)

    weighted, repeated = net(), net()
    h1 = weighted.fit(X, target, epochs=5, batch_size=None, optimizer=SGD(0.1), sample_weight=weights)
    h2 = repeated.fit(np.repeat(X, weights, axis=0), np.repeat(target, weights, axis=0), epochs=5,
                      batch_size=None, optimizer=SGD(0.1))
    for a, b in zip(weighted.get_weights(), repeated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h1.train_cost, h2.train_cost, rtol=1e-10)


# ---------------------------------------------------------------------- data frames
def _named(backend):
    net = _net(backend)
    net.metadata["feature_names"] = ["a", "b", "c"]
    return net


def test_data_frames_are_matched_by_recorded_feature_names(backend):
    pd = pytest.importorskip("pandas")
    X, y = _data(20)
    net = _named(backend)
    expected = to_numpy(net.predict(X))
    swapped = pd.DataFrame({"c": X[:, 2], "a": X[:, 0], "b": X[:, 1]})
    np.testing.assert_array_equal(to_numpy(net.predict(swapped)), expected)
    np.testing.assert_array_equal(net.predict_classes(swapped), net.predict_classes(X))
    assert net.evaluate(swapped, pd.Series(y)) == net.evaluate(X, y)
    with pytest.warns(UserWarning, match="ignoring column extra"):
        np.testing.assert_array_equal(to_numpy(net.predict(swapped.assign(extra=1.0))), expected)
    with pytest.raises(ValueError, match=r"lacks the column b\b.*a, b, c"):
        net.predict(swapped.drop(columns="b"))
    with pytest.raises(ValueError, match="lacks the columns a, b, c"):
        net.predict(pd.DataFrame(X, columns=["x", "y", "z"]))


def test_fit_on_a_reordered_frame_equals_fit_on_the_array(backend):
    pd = pytest.importorskip("pandas")
    X, y = _data(20)
    frame = pd.DataFrame({"b": X[:, 1], "c": X[:, 2], "a": X[:, 0]})
    by_name, by_array = _named(backend), _named(backend)
    by_name.fit(frame, y, epochs=2, batch_size=8, validation_data=(frame, y))
    by_array.fit(X, y, epochs=2, batch_size=8, validation_data=(X, y))
    for u, v in zip(by_name.get_weights(), by_array.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_frames_without_recorded_names_are_read_by_position(backend):
    pd = pytest.importorskip("pandas")
    X, _ = _data(10)
    net = _net(backend)
    frame = pd.DataFrame(X, columns=["z", "y", "x"])
    np.testing.assert_array_equal(to_numpy(net.predict(frame)), to_numpy(net.predict(X)))


def test_ffnn_does_not_import_pandas():
    import subprocess
    import sys

    code = "import sys, ffnn, ffnn.training; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
