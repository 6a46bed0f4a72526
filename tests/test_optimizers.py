"""Optimizers and learning-rate schedules: updates against hand-computed steps, state, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backends import get_backend, to_numpy
from ffnn import Dense, Network
from ffnn.optimizers import SGD, Adam, AdamW, Optimizer, get_optimizer, optimizer_from_config
from ffnn.schedules import CosineDecay, ExponentialDecay, StepDecay, schedule_from_config
from tests.helpers import assert_allclose, assert_on_backend


def _net(backend, dtype="float64", seed=0):
    layers = [Dense(3, 4, activation="tanh"), Dense(4, 2, activation="softmax")]
    return Network(layers, loss="cce", backend=backend, dtype=dtype, seed=seed)


def _data(m=7):
    rng = np.random.default_rng(5)
    return rng.standard_normal((m, 3)), rng.integers(0, 2, m)


def _grads(net, X, y):
    """Backend gradients (to feed the optimizer) and host copies [dW1, db1, ...]."""
    _, grads = net.loss_and_gradients(X, y)
    return grads, [to_numpy(g).copy() for pair in grads for g in pair]


def _assert_params(net, expected):
    for got, want in zip(net.get_weights(), expected):
        assert_allclose(got, want, "float64")


# ---------------------------------------------------------------------- hand-computed steps
def test_sgd_step_is_w_minus_lr_grad(backend):
    net, (X, y) = _net(backend), _data()
    opt = SGD(0.3)
    for _ in range(2):
        before = net.get_weights()
        grads, g = _grads(net, X, y)
        opt.step(net, grads)
        _assert_params(net, [w - 0.3 * d for w, d in zip(before, g)])
    assert opt.iterations == 2


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_hand_computed_velocity(backend, nesterov):
    net, (X, y) = _net(backend), _data()
    opt = SGD(0.1, momentum=0.8, nesterov=nesterov)
    velocity = [np.zeros_like(w) for w in net.get_weights()]
    for _ in range(3):
        before = net.get_weights()
        grads, g = _grads(net, X, y)
        opt.step(net, grads)
        velocity = [0.8 * v + d for v, d in zip(velocity, g)]
        steps = [d + 0.8 * v for d, v in zip(g, velocity)] if nesterov else velocity
        _assert_params(net, [w - 0.1 * s for w, s in zip(before, steps)])


def _adam_reference(params, grads, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = [b1 * a + (1 - b1) * g for a, g in zip(m, grads)]
    v = [b2 * a + (1 - b2) * g * g for a, g in zip(v, grads)]
    new = [p - lr * (a / (1 - b1**t)) / (np.sqrt(c / (1 - b2**t)) + eps) for p, a, c in zip(params, m, v)]
    return new, m, v


def test_adam_matches_algorithm_one_with_bias_correction(backend):
    net, (X, y) = _net(backend), _data()
    opt = Adam(0.01)
    m = v = [np.zeros_like(w) for w in net.get_weights()]
    for t in (1, 2, 3):
        grads, g = _grads(net, X, y)
        expected, m, v = _adam_reference(net.get_weights(), g, m, v, t, 0.01)
        opt.step(net, grads)
        _assert_params(net, expected)
    for k, (want_m, want_v) in enumerate(zip(m, v)):
        assert_allclose(opt.slots["m"][k], want_m, "float64")
        assert_allclose(opt.slots["v"][k], want_v, "float64")


def test_adamw_decays_weights_not_biases(backend):
    net, (X, y) = _net(backend), _data()
    opt = AdamW(0.01, weight_decay=0.5)
    m = v = [np.zeros_like(w) for w in net.get_weights()]
    for t in (1, 2):
        before = net.get_weights()
        grads, g = _grads(net, X, y)
        decayed = [w * (1 - 0.01 * 0.5) if k % 2 == 0 else w for k, w in enumerate(before)]
        expected, m, v = _adam_reference(decayed, g, m, v, t, 0.01)
        opt.step(net, grads)
        _assert_params(net, expected)


def test_schedule_sets_each_steps_learning_rate(backend):
    net, (X, y) = _net(backend), _data()
    opt = SGD(StepDecay(0.4, drop=0.25, every=2))
    for rate in (0.4, 0.4, 0.1, 0.1, 0.025):
        before = net.get_weights()
        grads, g = _grads(net, X, y)
        opt.step(net, grads)
        _assert_params(net, [w - rate * d for w, d in zip(before, g)])


# ---------------------------------------------------------------------- state
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_lives_on_the_device_in_the_parameters_dtype(backend, dtype):
    net, (X, y) = _net(backend, dtype), _data()
    opt = Adam()
    opt.step(net, net.loss_and_gradients(X, y)[1])
    for name in ("m", "v"):
        for slot, p in zip(opt.slots[name], net.parameters()):
            assert_on_backend(slot, backend, tuple(p.shape), dtype)
    assert all(str(to_numpy(p).dtype) == dtype for p in net.parameters())


def test_plain_sgd_keeps_no_state(backend):
    opt = SGD(0.1)
    net, (X, y) = _net(backend), _data()
    opt.step(net, net.loss_and_gradients(X, y)[1])
    assert opt.slots == {} and opt.state_arrays() == {}


def test_bind_refuses_state_of_another_network_and_reset_clears_it():
    small, (X, y) = _net("numpy"), _data()
    other = Network([Dense(3, 5), Dense(5, 2, activation="softmax")], loss="cce", backend="numpy", seed=0)
    opt = Adam()
    opt.step(small, small.loss_and_gradients(X, y)[1])
    with pytest.raises(ValueError, match="holds 'm' state for other parameters"):
        opt.bind(other)
    opt.reset()
    assert opt.iterations == 0 and opt.slots is None
    opt.bind(other)
    assert [tuple(s.shape) for s in opt.slots["m"]] == [tuple(p.shape) for p in other.parameters()]


def test_to_moves_state_between_backends_with_values_kept(backend):
    net, (X, y) = _net("numpy"), _data()
    opt = SGD(0.1, momentum=0.9)
    opt.step(net, net.loss_and_gradients(X, y)[1])
    host = [a.copy() for a in opt.slots["velocity"]]
    assert opt.to(backend) is opt
    for slot, want in zip(opt.slots["velocity"], host):
        assert_on_backend(slot, backend, want.shape, "float64")
        np.testing.assert_array_equal(to_numpy(slot), want)


def test_load_state_requires_every_slot():
    opt = Adam()
    with pytest.raises(ValueError, match="missing m.1"):
        opt.load_state(3, {"m.0": np.zeros(2)}, get_backend("numpy"), 2)


# ---------------------------------------------------------------------- construction and configuration
def test_get_optimizer_builds_fresh_defaults_and_passes_objects_through():
    first, second = get_optimizer("adam"), get_optimizer(" ADAM ")
    assert isinstance(first, Adam) and first is not second and first.learning_rate == 0.001
    assert isinstance(get_optimizer("sgd"), SGD) and get_optimizer("sgd").learning_rate == 0.01
    assert get_optimizer("adamw").weight_decay == 0.01
    tuned = get_optimizer("sgd", learning_rate=0.5, momentum=0.9)
    assert (tuned.learning_rate, tuned.momentum) == (0.5, 0.9)
    mine = SGD(0.2)
    assert get_optimizer(mine) is mine


def test_get_optimizer_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; known: sgd, adam, adamw"):
        get_optimizer("rmsprop")
    with pytest.raises(TypeError, match="optimizer must be a name"):
        get_optimizer(3)
    with pytest.raises(TypeError, match="apply to an optimizer name"):
        get_optimizer(SGD(), momentum=0.9)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD(0.0), "learning_rate must be a positive finite number"),
        (lambda: SGD(float("nan")), "learning_rate must be a positive finite number"),
        (lambda: SGD("fast"), "learning_rate must be a positive finite number"),
        (lambda: SGD(momentum=1.0), r"momentum must be a finite number in \[0, 1\), got 1.0"),
        (lambda: SGD(nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda: Adam(beta1=1.0), r"beta1 must be a finite number in \[0, 1\), got 1.0"),
        (lambda: Adam(beta2=-0.1), r"beta2 must be a finite number in \[0, 1\), got -0.1"),
        (lambda: Adam(eps=0.0), "eps must be a positive finite number, got 0.0"),
        (lambda: AdamW(weight_decay=-1.0), "weight_decay must be a non-negative finite number, got -1.0"),
        (lambda: SGD(momentum="0.9"), r"momentum must be a finite number in \[0, 1\), got '0.9'"),
        (lambda: Adam(beta1=None), r"beta1 must be a finite number in \[0, 1\), got None"),
    ],
)
def test_invalid_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "opt",
    [
        SGD(0.2, momentum=0.5, nesterov=True),
        Adam(0.003, beta1=0.8, eps=1e-6),
        AdamW(CosineDecay(0.1, decay_steps=9), weight_decay=0.2),
    ],
    ids=["sgd", "adam", "adamw-cosine"],
)
def test_config_round_trip(opt):
    again = optimizer_from_config(opt.get_config())
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert [again.learning_rate_at(t) for t in range(12)] == [opt.learning_rate_at(t) for t in range(12)]


def test_optimizer_from_config_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        optimizer_from_config({"name": "lion", "learning_rate": 0.1})
    with pytest.raises(ValueError, match="invalid settings for the 'sgd' optimizer"):
        optimizer_from_config({"name": "sgd", "learning_rate": 0.1, "beta1": 0.9})


def test_base_class_has_no_update_rule():
    class Bare(Optimizer):
        name = "bare"

    with pytest.raises(NotImplementedError):
        Bare(0.1).step(_net("numpy"), _net("numpy").loss_and_gradients(*_data())[1])


# ---------------------------------------------------------------------- schedules
def test_schedule_values():
    step = StepDecay(1.0, drop=0.5, every=3)
    assert [step(t) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    smooth = ExponentialDecay(2.0, decay_rate=0.5, decay_steps=4)
    assert smooth(0) == 2.0 and math.isclose(smooth(2), 2.0 * 0.5**0.5) and math.isclose(smooth(8), 0.5)
    stairs = ExponentialDecay(2.0, decay_rate=0.5, decay_steps=4, staircase=True)
    assert [stairs(t) for t in (0, 3, 4, 7, 8)] == [2.0, 2.0, 1.0, 1.0, 0.5]
    cosine = CosineDecay(1.0, decay_steps=10, alpha=0.1)
    assert cosine(0) == 1.0 and math.isclose(cosine(5), 0.55) and math.isclose(cosine(10), 0.1)
    assert cosine(50) == cosine(10)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StepDecay(0.0), "initial_learning_rate must be a positive finite number"),
        (lambda: StepDecay(0.1, drop=1.5), r"drop must be a finite number in \(0, 1\], got 1.5"),
        (lambda: StepDecay(0.1, every=0), "every must be a positive integer"),
        (lambda: ExponentialDecay(0.1, decay_rate=0.0), r"decay_rate must be a finite number in \(0, 1\], got 0.0"),
        (lambda: ExponentialDecay(0.1, decay_steps=2.5), "decay_steps must be a positive integer"),
        (lambda: CosineDecay(0.1, decay_steps=10, alpha=2.0), r"alpha must be a finite number in \[0, 1\], got 2.0"),
    ],
)
def test_invalid_schedules_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_config_round_trip_and_errors():
    schedules = (
        StepDecay(0.1, drop=0.3, every=4),
        ExponentialDecay(0.2, staircase=True),
        CosineDecay(0.3, decay_steps=7),
    )
    for schedule in schedules:
        again = schedule_from_config(schedule.get_config())
        assert type(again) is type(schedule) and [again(t) for t in range(20)] == [schedule(t) for t in range(20)]
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'"):
        schedule_from_config({"name": "linear", "initial_learning_rate": 0.1})
    with pytest.raises(ValueError, match="invalid settings for the 'step' schedule"):
        schedule_from_config({"name": "step", "initial_learning_rate": 0.1, "gamma": 2})
