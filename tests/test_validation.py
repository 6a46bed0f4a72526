"""One policy for option values: NumPy scalars are numbers, bools are not, and every
refusal reads "<name> must be <constraint>, got <value>" (ffnn._validation)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ffnn
from ffnn import datasets
from ffnn._validation import Interval, Options, check_bool, is_integer, is_number, positive_int
from ffnn.activations import ELU, LeakyReLU
from ffnn.distributed._shares import batch_bounds, share_bounds
from ffnn.dropout import DropoutError, keep_probabilities
from ffnn.testing._compare import check_tolerance


def _net() -> ffnn.Network:
    layers = [ffnn.Dense(2, 3, activation="tanh"), ffnn.Dense(3, 1, activation="linear")]
    return ffnn.Network(layers, loss="mse", backend="numpy", dtype="float64", seed=0)


_X = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
_Y = np.array([[0.5], [-0.2], [0.1]])

# name, value of the option to pass, call(value) -> the value as the object keeps it (or None)
FLOAT_OPTIONS = [
    ("learning_rate", 0.5, lambda v: ffnn.SGD(learning_rate=v).learning_rate),
    ("momentum", 0.5, lambda v: ffnn.SGD(momentum=v).momentum),
    ("beta1", 0.5, lambda v: ffnn.Adam(beta1=v).beta1),
    ("beta2", 0.5, lambda v: ffnn.Adam(beta2=v).beta2),
    ("eps", 0.5, lambda v: ffnn.Adam(eps=v).eps),
    ("weight_decay", 0.5, lambda v: ffnn.AdamW(weight_decay=v).weight_decay),
    ("initial_learning_rate", 0.5, lambda v: ffnn.StepDecay(v).initial_learning_rate),
    ("drop", 0.5, lambda v: ffnn.StepDecay(0.1, drop=v).drop),
    ("alpha", 0.5, lambda v: ffnn.CosineDecay(0.1, decay_steps=10, alpha=v).alpha),
    ("leaky_relu alpha", 0.5, lambda v: LeakyReLU(alpha=v).alpha),
    ("elu alpha", 0.5, lambda v: ELU(alpha=v).alpha),
    ("eps", 2.0**-10, lambda v: ffnn.gradcheck(_net(), _X, _Y, eps=v).eps),
    ("floor", 0.5, lambda v: ffnn.gradcheck(_net(), _X, _Y, floor=v).eps),
    ("noise", 0.5, lambda v: datasets.make_moons(20, noise=v).X.shape[0]),
    ("noise", 0.5, lambda v: datasets.make_spirals(30, noise=v).X.shape[0]),
    ("noise", 0.5, lambda v: datasets.make_regression(20, noise=v).X.shape[0]),
    ("test_size", 0.5, lambda v: len(datasets.train_test_split(_X, _Y[:, 0], test_size=v)[1])),
    ("rtol", 0.5, lambda v: check_tolerance(v, "rtol")),
]

INT_OPTIONS = [
    ("every", 3, lambda v: ffnn.StepDecay(0.1, every=v).every),
    ("decay_steps", 3, lambda v: ffnn.CosineDecay(0.1, decay_steps=v).decay_steps),
    ("max_per_param", 2, lambda v: ffnn.gradcheck(_net(), _X, _Y, max_per_param=v).n_checked),
    ("seed", 3, lambda v: ffnn.gradcheck(_net(), _X, _Y, seed=v).n_checked),
    ("n_samples", 20, lambda v: datasets.make_moons(v).X.shape[0]),
    ("n_classes", 3, lambda v: datasets.make_spirals(30, n_classes=v).X.shape[0]),
    ("count", 7, lambda v: share_bounds(v, 1, 2)),
    ("rank", 1, lambda v: share_bounds(7, v, 2)),
    ("size (the number of ranks)", 2, lambda v: share_bounds(7, 1, v)),
    ("batch_size", 3, lambda v: batch_bounds(7, v)),
]

_ids = [f"{name}-{i}" for i, (name, _, _) in enumerate(FLOAT_OPTIONS)]
_int_ids = [f"{name}-{i}" for i, (name, _, _) in enumerate(INT_OPTIONS)]


@pytest.mark.parametrize(("name", "value", "call"), FLOAT_OPTIONS, ids=_ids)
def test_float_options_take_numpy_scalars(name, value, call):
    assert call(np.float32(value)) == call(value)
    assert call(np.float64(value)) == call(value)


@pytest.mark.parametrize(("name", "value", "call"), INT_OPTIONS, ids=_int_ids)
def test_int_options_take_numpy_integers(name, value, call):
    assert call(np.int64(value)) == call(value)
    assert call(np.int32(value)) == call(value)


@pytest.mark.parametrize(("name", "value", "call"), FLOAT_OPTIONS + INT_OPTIONS, ids=_ids + _int_ids)
@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_options_refuse_bools_with_one_wording(name, value, call, flag):
    pattern = rf"^{re.escape(name)} must be (a|an) .+, got {re.escape(repr(flag))}$"
    with pytest.raises(ValueError, match=pattern):
        call(flag)


@pytest.mark.parametrize(("name", "value", "call"), INT_OPTIONS, ids=_int_ids)
def test_int_options_refuse_fractions(name, value, call):
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} must be (a|an) .*integer.*, got 1\.5$"):
        call(1.5)


def test_dropout_and_explain_follow_the_policy():
    # NumPy scalars are numbers, bools are not (dropout keeps its own D-specific wording)
    assert keep_probabilities(np.float32(0.5), [2, 3, 1]) == {1: 0.5}
    assert keep_probabilities({np.int64(1): 0.5}, [2, 3, 1]) == {1: 0.5}
    with pytest.raises(DropoutError, match=r"must be a keep probability in \(0, 1\], got True"):
        keep_probabilities(True, [2, 3, 1])
    with pytest.raises(DropoutError, match="dropout keys are layer numbers"):
        keep_probabilities({True: 0.5}, [2, 3, 1])
    layers = [ffnn.Dense(2, 3, activation="tanh"), ffnn.Dense(3, 1, activation="sigmoid")]
    net = ffnn.Network(layers, loss="binary_crossentropy", backend="numpy", dtype="float64", seed=0)
    y = np.array([[1.0], [0.0], [1.0]])
    a = ffnn.explain_gradient(net, _X, y, layer=np.int64(2), row=np.int64(0), col=np.int64(1))
    b = ffnn.explain_gradient(net, _X, y, layer=2, row=0, col=1)
    assert a.backprop == b.backprop
    with pytest.raises(ValueError, match=r"layer must be the seeds' l in 1\.\.2, got True"):
        ffnn.explain_gradient(net, _X, y, layer=True)


def test_nesterov_must_be_a_bool():
    assert ffnn.SGD(momentum=0.9, nesterov=np.True_).nesterov is True
    with pytest.raises(TypeError, match=r"^nesterov must be True or False, got 1$"):
        ffnn.SGD(momentum=0.9, nesterov=1)


def test_helpers():
    assert is_number(np.float32(1)) and is_number(np.int64(1)) and not is_number(True) and not is_number("1")
    assert is_integer(np.int8(1)) and not is_integer(np.float64(1)) and not is_integer(np.True_)
    assert Interval(0, 1, closed="left").check(np.float32(0.25), "x") == 0.25
    with pytest.raises(ValueError, match=r"^x must be a finite number in \[0, 1\), got 1$"):
        Interval(0, 1, closed="left").check(1, "x")
    with pytest.raises(ValueError, match=r"^x must be a finite number in \[0, 1\), got nan$"):
        Interval(0, 1, closed="left").check(float("nan"), "x")
    assert positive_int(np.int64(3), "n") == 3
    assert type(positive_int(np.int64(3), "n")) is int
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got 0$"):
        positive_int(0, "n")
    assert Options("a", "b").check("b", "mode") == "b"
    with pytest.raises(ValueError, match=r"^mode must be one of 'a', 'b', got 'c'$"):
        Options("a", "b").check("c", "mode")
    assert check_bool(np.False_, "flag") is False


@pytest.mark.parametrize("label_dtype", ["int8", "uint8", "int32", "int64"])
def test_class_labels_become_the_identity_rows_and_out_of_range_ones_are_named(backend, label_dtype):
    """Integer labels of any integer dtype become the one-hot rows e_yᵀ (m, n_out) in the
    network's dtype, on every backend; labels outside 0..n_out−1 are refused with their
    range in the message. The one-hot rows are NumPy's identity rows, bit for bit."""
    from ffnn._validation import targets_with_labels

    host = np.array([3, 0, 2, 2, 1, 3, 0], dtype=label_dtype)
    for dtype in ("float32", "float64"):
        y, labels = targets_with_labels(backend.asarray(host), backend, dtype, "categorical_crossentropy", 4, 7)
        assert y.dtype == backend.dtype(dtype)
        assert np.array_equal(backend.to_numpy(y), np.eye(4, dtype=dtype)[host.astype(np.int64)])
        assert backend.to_numpy(labels).tolist() == host.tolist()
    for bad, n_out, shown in (([0, 4, 1], 4, r"\[0, 4\]"), ([2, 1, 3], 3, r"\[1, 3\]")):
        with pytest.raises(ValueError, match=rf"Y holds class labels in {shown} but the network has {n_out} outputs"):
            targets_with_labels(backend.asarray(np.array(bad, dtype=label_dtype)), backend, "float32",
                                "categorical_crossentropy", n_out, 3)
    if label_dtype != "uint8":
        with pytest.raises(ValueError, match=r"labels in \[-1, 2\]"):
            targets_with_labels(backend.asarray(np.array([2, -1], dtype=label_dtype)), backend, "float32",
                                "categorical_crossentropy", 4, 2)
