"""ffnn.preprocessing: Standardizer (robust to huge finite values) and folding the scaling into a network."""

from __future__ import annotations

import numpy as np
import pytest

import ffnn
from ffnn.preprocessing import Standardizer, fold_standardization


def test_fold_standardization_makes_the_network_take_raw_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(50.0, 7.0, size=(20, 3))
    y = rng.normal(-3.0, 4.0, size=(20, 2))
    layers = [ffnn.Dense(3, 5, activation="tanh"), ffnn.Dense(5, 2, activation="linear")]
    net = ffnn.Network(layers, loss="mse", backend="numpy", dtype="float64", seed=1)
    x_scaler, y_scaler = Standardizer.fit(X), Standardizer.fit(y)
    expected = y_scaler.inverse(net.predict(x_scaler.transform(X)))
    fold_standardization(net, x_scaler, y_scaler)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12, atol=1e-12)


def test_fold_target_scaling_needs_a_linear_output() -> None:
    net = ffnn.Network([ffnn.Dense(2, 1, activation="sigmoid")], loss="mse", backend="numpy", seed=0)
    scaler = Standardizer.fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match="only into a linear output layer, not sigmoid"):
        fold_standardization(net, scaler, Standardizer.fit(np.arange(4.0)))


def test_standardizer_handles_values_near_the_float64_limit() -> None:
    X = np.array([[1.7e308, 1.0], [1.7e308, 2.0], [-1.7e308, 3.0]])
    scaler = Standardizer.fit(X)
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(np.mean(Z, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.std(Z, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse(Z)[:, 1], X[:, 1], rtol=1e-12)


def test_standardizer_names_columns_it_cannot_scale() -> None:
    with pytest.raises(ValueError, match="column 'b' hold NaN or infinite values"):
        Standardizer.fit(np.array([[1.0, np.inf], [2.0, 1.0]]), names=("a", "b"))


def test_standardizer_matches_mean_and_std_of_ordinary_data() -> None:
    X = np.random.default_rng(3).normal(5.0, 2.0, size=(50, 3))
    scaler = Standardizer.fit(X)
    np.testing.assert_allclose(scaler.mean, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(scaler.scale, X.std(axis=0), rtol=1e-13)
    assert Standardizer.fit(np.ones((4, 1))).scale.tolist() == [1.0]


@pytest.mark.parametrize("streamed", [False, True])
def test_a_standardization_that_would_overflow_is_refused_naming_the_column(
    monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    """The last guard of both fits: a scaled column that is not finite (forced here, since
    the unit-scaled statistics keep real data from reaching it) is named, with the way out."""
    from ffnn.sources import RowSource

    original = Standardizer.transform

    def overflowing(self: Standardizer, X: np.ndarray) -> np.ndarray:
        out = np.array(original(self, X), dtype=float)
        out[:, 1] = np.inf
        return out

    monkeypatch.setattr(Standardizer, "transform", overflowing)
    X = np.random.default_rng(0).normal(size=(12, 3))
    with pytest.raises(ValueError, match=r"'b'.* span too wide a range .*rescale them"):
        if streamed:
            Standardizer.fit_rows(RowSource(X), names=("a", "b", "c"), chunk_rows=5)
        else:
            Standardizer.fit(X, names=("a", "b", "c"))
