"""The library core's seams (issue 10 §1b): name-keyed parameters and gradients, the
functional optimizer update (bit-for-bit the earlier positional update), the training
step as one function, the gradient hook, the sampler, the stopping rule, sample
weights, dJ/dX, activations that need Z, loss inference, summary, configuration,
equal optimizers on resume, and the one validation policy for numbers."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import ffnn
from backends import Backend, to_numpy
from ffnn import Dense, Network
from ffnn.activations import Activation
from ffnn.optimizers import SGD, Adam, AdamW, Optimizer, optimizer_from_config
from ffnn.schedules import CosineDecay, StepDecay
from ffnn.training import EarlyStopping, make_step, shuffle_order, train_step
from tests.helpers import assert_allclose


def rings(m: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = np.arange(m) % 3
    angle = rng.uniform(0, 2 * np.pi, m)
    radius = 0.4 + 0.3 * label + rng.normal(0, 0.05, m)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)], label.astype(np.int64)


def net3(backend: Backend | str = "numpy", *, dtype: str = "float64", seed: int = 3, **kw: object) -> Network:
    layers = [Dense(2, 5, activation="tanh"), Dense(5, 4, activation="relu"), Dense(4, 3, activation="softmax")]
    return Network(layers, backend=backend, dtype=dtype, seed=seed, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the earlier update, as a reference
def legacy_step(opt: Optimizer, weights: list, grads: list, slots: dict, iterations: int, xp) -> int:
    """The positional update as ffnn made it before the functional one (state keyed by
    2*i, AdamW editing the weights first), on lists of arrays; returns the new count."""
    lr = opt.learning_rate_at(iterations)
    if isinstance(opt, AdamW) and 1 - lr * opt.weight_decay != 1:
        for i in range(0, len(weights), 2):
            weights[i] *= 1 - lr * opt.weight_decay
    iterations += 1
    for k, g in enumerate(grads):
        if isinstance(opt, Adam):
            t = iterations
            step_size, root = lr / (1 - opt.beta1**t), 1 / math.sqrt(1 - opt.beta2**t)
            square = g * g
            square *= 1 - opt.beta2
            slots["v"][k] *= opt.beta2
            slots["v"][k] += square
            g *= 1 - opt.beta1
            slots["m"][k] *= opt.beta1
            slots["m"][k] += g
            denominator = xp.sqrt(slots["v"][k])
            denominator *= root
            denominator += opt.eps
            delta = slots["m"][k] / denominator
            delta *= step_size
        elif not opt.momentum:
            g *= lr
            delta = g
        else:
            slots["velocity"][k] *= opt.momentum
            slots["velocity"][k] += g
            if opt.nesterov:
                g += opt.momentum * slots["velocity"][k]
                g *= lr
                delta = g
            else:
                delta = lr * slots["velocity"][k]
        weights[k] -= delta
    return iterations


OPTIMIZERS = [
    lambda: SGD(0.3),
    lambda: SGD(StepDecay(0.3, drop=0.5, every=2), momentum=0.9),
    lambda: SGD(0.1, momentum=0.8, nesterov=True),
    lambda: Adam(0.05),
    lambda: AdamW(CosineDecay(0.05, decay_steps=3), weight_decay=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_named_update_equals_the_positional_update_bit_for_bit(backend, make):
    X, y = rings(12)
    new_net, old_net = net3(backend), net3(backend)
    opt = make()
    xp = backend.xp
    weights = old_net.parameters()
    slots = {s: [xp.zeros_like(p) for p in weights] for s in opt.slot_names}
    state, iterations = None, 0
    for _ in range(4):
        grads = dict(zip(new_net.parameter_names(), (g for pair in new_net.loss_and_gradients(X, y)[1] for g in pair)))
        params = new_net.named_parameters()
        state = opt.init(params, xp=xp) if state is None else state
        params, state = opt.update(params, grads, state, xp=xp)
        new_net.set_parameters(params)
        old_grads = [g for pair in old_net.loss_and_gradients(X, y)[1] for g in pair]
        iterations = legacy_step(opt, weights, old_grads, slots, iterations, xp)
        old_net.set_parameters(dict(zip(old_net.parameter_names(), weights)))
    assert state["step"] == iterations == 4
    for got, want in zip(new_net.parameters(), old_net.parameters(), strict=True):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
    for slot in opt.slot_names:
        assert list(state[slot]) == new_net.parameter_names()
        for got, want in zip(state[slot].values(), slots[slot], strict=True):
            np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


def test_update_returns_new_dicts_and_finds_the_namespace_itself():
    net, opt = net3(), Adam(0.1)
    params = net.named_parameters()
    state = opt.init(params)  # no xp: taken from the arrays
    grads = {k: np.ones_like(p) for k, p in params.items()}
    new_params, new_state = opt.update(params, grads, state)
    assert new_params is not params and new_state is not state
    assert state["step"] == 0 and new_state["step"] == 1
    assert list(new_state["m"]) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert float(np.max(np.abs(new_state["m"]["W1"]))) > 0


def test_adamw_decays_only_weights_inside_the_update():
    params = {"W1": np.full((2, 2), 2.0), "b1": np.full((2, 1), 2.0)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    opt = AdamW(0.1, weight_decay=0.5)
    new, _ = opt.update(params, grads, opt.init(params))
    np.testing.assert_array_equal(new["W1"], np.full((2, 2), 2.0 * (1 - 0.1 * 0.5)))
    np.testing.assert_array_equal(new["b1"], np.full((2, 1), 2.0))


# ---------------------------------------------------------------------- optimizers are configuration
def test_optimizers_are_equal_by_class_and_configuration():
    a, b = Adam(CosineDecay(0.01, decay_steps=10)), Adam(CosineDecay(0.01, decay_steps=10))
    assert a == b and hash(a) == hash(b)
    assert a != Adam(CosineDecay(0.01, decay_steps=11))
    assert a != AdamW(CosineDecay(0.01, decay_steps=10), weight_decay=0.0)
    assert SGD(0.1) != SGD(0.1, momentum=0.5)
    assert optimizer_from_config(a.get_config()) == a == Optimizer.from_config(a.get_config())
    a.build(net3().named_parameters())
    assert a == b  # the state is not compared


def test_resume_accepts_an_equal_optimizer_object(tmp_path):
    """The README's recipe: load a checkpoint and repeat the same fit call, with a new
    but equal optimizer object, and resume=True."""
    X, y = rings(24)
    options = dict(epochs=4, batch_size=8)
    reference = net3()
    reference.fit(X, y, optimizer=Adam(CosineDecay(0.05, decay_steps=9)), **options)

    class Stop(Exception):
        pass

    def stop_after_two(logs):
        if logs["epoch"] == 2:
            raise Stop

    net = net3()
    with pytest.raises(Stop):
        net.fit(X, y, optimizer=Adam(CosineDecay(0.05, decay_steps=9)), callbacks=[stop_after_two], **options)
    net.save(tmp_path / "mid.npz")
    again = ffnn.load(tmp_path / "mid.npz")
    history = again.fit(X, y, optimizer=Adam(CosineDecay(0.05, decay_steps=9)), resume=True, **options)
    assert history.epochs == 4 and history.stop_reason == "completed"
    for got, want in zip(again.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"continues with the saved optimizer Adam.*or an equal optimizer object"):
        ffnn.load(tmp_path / "mid.npz").fit(X, y, optimizer=Adam(0.05), resume=True, **options)


# ---------------------------------------------------------------------- the network's parameters and maths
def test_parameters_are_keyed_by_name_and_rebound_without_copies():
    net = net3()
    params = net.named_parameters()
    assert list(params) == net.parameter_names() == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [tuple(p.shape) for p in params.values()] == [(5, 2), (5, 1), (4, 5), (4, 1), (3, 4), (3, 1)]
    assert all(a is b for a, b in zip(params.values(), net.parameters(), strict=True))
    fresh = {k: np.zeros_like(p) for k, p in params.items()}
    net.set_parameters(fresh)
    assert net.layers[1].W is fresh["W2"]
    with pytest.raises(ValueError, match="needs the keys"):
        net.set_parameters({"W1": fresh["W1"]})
    with pytest.raises(ValueError, match=r"W\^\[1\] must have shape \(5, 2\)"):
        net.set_parameters({**fresh, "W1": np.zeros((2, 5))})
    net.set_weights({k: np.ones_like(p) for k, p in params.items()})
    assert float(np.sum(net.get_weights()[0])) == 10.0


def test_backward_is_keyed_by_name_and_matches_the_pair_list(backend):
    X, y = rings(6)
    net = net3(backend)
    x, t = net.inputs(X), net.targets(y, 6)
    cache, _ = net.forward_columns(x.T)
    grads = net.backward(cache, t.T)
    pairs = net.loss_and_gradients(X, y)[1]
    assert list(grads) == net.parameter_names()
    for (dW, db), l in zip(pairs, range(1, 4), strict=True):
        assert_allclose(grads[f"W{l}"], dW)
        assert_allclose(grads[f"b{l}"], db)


def test_backward_input_gradient_is_dJ_dX(backend):
    """dJ/dA^[0] (P1 (22) for l = 1) against central differences of J in X."""
    X, y = rings(4)
    net = net3(backend)
    x, t = net.inputs(X), net.targets(y, 4)
    cache, _ = net.forward_columns(x.T)
    grads, dX = net.backward(cache, t.T, input_gradient=True)
    assert set(grads) == set(net.parameter_names())
    assert tuple(dX.shape) == (2, 4)
    numeric = np.zeros((2, 4))
    eps = 1e-6
    for i in range(4):
        for j in range(2):
            bumped = [X.copy(), X.copy()]
            bumped[0][i, j] += eps
            bumped[1][i, j] -= eps
            numeric[j, i] = (net.cost(bumped[0], y) - net.cost(bumped[1], y)) / (2 * eps)
    assert_allclose(dX, numeric, rtol=1e-6, atol=1e-8)


class Square(Activation):
    """g(z) = z²: its derivative 2z is not a function of a = z² alone, so it needs Z."""

    name = "square_test"
    needs_z = True

    def forward(self, Z, /, *, xp):
        return Z * Z

    def backward(self, dA, A, Z=None, /, *, xp):
        return dA * (2 * Z)


def test_an_activation_that_needs_z_gets_it_and_only_it_is_cached():
    layers = [Dense(2, 4, activation=Square(), init="glorot_uniform"), Dense(4, 1, activation="linear")]
    net = Network(layers, loss="mse", dtype="float64", seed=1)
    X, y = rings(5)
    cache, _ = net.forward_columns(net.inputs(X).T)
    assert list(cache.z) == [1]
    result = ffnn.gradcheck(net, X, y.astype(np.float64))
    assert result.max_error < 1e-6


# ---------------------------------------------------------------------- the step and the loop's seams
def test_the_step_is_a_function_of_its_arrays(backend):
    """make_step's step on (params, state, batch) equals train_step on the network."""
    X, y = rings(8)
    a, b = net3(backend), net3(backend)
    opt_a, opt_b = SGD(0.2, momentum=0.9), SGD(0.2, momentum=0.9)
    step = make_step(a, opt_a, l2=0.1)
    x, t = a.inputs(X), a.targets(y, 8)
    params, state = a.named_parameters(), opt_a.init(a.named_parameters(), xp=backend.xp)
    for _ in range(3):
        params, state, cost, A = step(params, state, x.T, t.T)
        want = train_step(b, opt_b, x.T, t.T, l2=0.1)
        assert float(cost) == float(want)
        assert tuple(A.shape) == (3, 8)
    assert state["step"] == opt_b.iterations == 3
    for k, p in params.items():
        np.testing.assert_array_equal(to_numpy(p), to_numpy(b.named_parameters()[k]))


def test_gradient_hook_sees_named_gradients_between_backward_and_update():
    X, y = rings(12)
    seen = []

    def record(grads):
        seen.append(sorted(grads))
        return grads

    plain, hooked = net3(), net3()
    plain.fit(X, y, epochs=2, batch_size=4, optimizer=SGD(0.1))
    hooked.fit(X, y, epochs=2, batch_size=4, optimizer=SGD(0.1), reduce_gradients=record)
    assert len(seen) == 6 and seen[0] == sorted(plain.parameter_names())
    for got, want in zip(hooked.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    frozen = net3()
    before = frozen.get_weights()
    frozen.fit(
        X, y, epochs=1, batch_size=4, optimizer=SGD(0.1), reduce_gradients=lambda g: {k: 0 * v for k, v in g.items()}
    )
    for got, want in zip(frozen.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_sampler_sets_each_epochs_order():
    X, y = rings(10)
    calls = []

    def reverse(epoch, m):
        calls.append((epoch, m))
        return np.arange(m)[::-1]

    net, manual, opt = net3(), net3(), SGD(0.1)
    net.fit(X, y, epochs=2, batch_size=4, optimizer=SGD(0.1), sampler=reverse)
    assert calls == [(0, 10), (1, 10)]
    order = np.arange(10)[::-1]
    for _ in range(2):
        for start in range(0, 10, 4):
            rows = order[start : start + 4]
            train_step(manual, opt, manual.inputs(X[rows]).T, manual.targets(y[rows], len(rows)).T)
    for got, want in zip(net.get_weights(), manual.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    default = net3()
    default.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(0.1))
    shuffled = net3()
    shuffled.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(0.1), sampler=lambda e, m: shuffle_order(3, e, m))
    for got, want in zip(default.get_weights(), shuffled.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="sampler must be a callable"):
        net3().fit(X, y, sampler=3)


def test_stopping_rule_modes_and_references():
    keras = EarlyStopping(patience=2, min_delta=0.1, monitor="train_cost")
    check = keras.observe(1.0, None, 0)
    assert check == (1.0, 0, True, False)
    check = keras.observe(0.95, 1.0, 0)  # better, but not by min_delta: reference stays 1.0
    assert check == (1.0, 1, False, False)
    assert keras.observe(0.95, 1.0, 1).stop
    mlp = EarlyStopping(patience=2, min_delta=0.1, monitor="train_cost", reference="best")
    check = mlp.observe(0.95, 1.0, 0)  # not an improvement, but the new best
    assert check == (0.95, 1, True, False)
    accuracy = EarlyStopping(patience=1, monitor="val_accuracy")
    assert accuracy.direction == "max"
    assert accuracy.observe(0.9, 0.8, 0) == (0.9, 0, True, False)
    assert accuracy.observe(0.7, 0.8, 0).stop
    assert EarlyStopping(monitor="val_cost", mode="max").direction == "max"


def test_fit_stops_on_a_maximised_accuracy():
    X, y = rings(24)
    net = net3()
    history = net.fit(
        X,
        y,
        epochs=40,
        batch_size=8,
        optimizer=Adam(0.05),
        early_stopping=EarlyStopping(patience=2, monitor="train_accuracy", restore_best=True),
    )
    best = int(np.argmax(history.train_accuracy))
    assert net.training_state.best_epoch == best + 1
    if history.stop_reason == "early_stopping":
        assert history.epochs == best + 1 + 2
    with pytest.raises(ValueError, match="needs a classifier"):
        Network([Dense(2, 1, activation="linear")]).fit(
            X, X[:, 0], early_stopping=EarlyStopping(monitor="train_accuracy")
        )


def test_sample_weight_is_validated_then_needs_weighted_losses():
    X, y = rings(12)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(12,\)"):
        net3().fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="finite non-negative weights"):
        net3().fit(X, y, sample_weight=-np.ones(12))
    net = net3()
    if "weights" in inspect.signature(net.loss.cost).parameters:
        uniform, plain = net3(), net3()
        uniform.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(0.1), sample_weight=np.full(12, 2.0))
        plain.fit(X, y, epochs=1, batch_size=4, optimizer=SGD(0.1))
        for got, want in zip(uniform.get_weights(), plain.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        with pytest.raises(NotImplementedError, match="sample_weight needs a loss that takes per-example weights"):
            net.fit(X, y, sample_weight=np.ones(12))


def test_fit_is_written_once():
    from ffnn.training import Trainer, fit

    assert fit is Trainer.fit and Network.fit is Trainer.fit
    names = list(inspect.signature(fit).parameters)
    assert names[:3] == ["self", "X", "y"] and {"sample_weight", "sampler", "reduce_gradients"} <= set(names)


# ---------------------------------------------------------------------- construction and description
@pytest.mark.parametrize(
    ("output", "loss"),
    [("softmax", "categorical_crossentropy"), ("sigmoid", "binary_crossentropy"), ("linear", "mse"), ("tanh", "mse")],
)
def test_loss_is_inferred_from_the_output_activation(output, loss):
    net = Network([Dense(2, 3), Dense(3, 2, activation=output)])
    assert net.loss.name == loss == ffnn.network.infer_loss(output)
    assert Network([Dense(2, 2, activation="softmax")], loss="mse").loss.name == "mse"


def test_summary_lists_layers_shapes_activations_and_counts():
    net = net3(dtype="float32")
    text = net.summary()
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Output", "shape", "Activation", "Params"]
    rows = [line for line in lines if line.startswith("dense_")]
    assert len(rows) == 3
    for row, layer in zip(rows, net.layers, strict=True):
        assert row.split()[-1] == f"{layer.n_out * (layer.n_in + 1):,}"
        assert layer.activation.name in row and f"(None, {layer.n_out})" in row
    assert f"Total params: {net.n_params:,}" in text and "categorical_crossentropy" in text
    assert "float32" in text and net.backend.name in text


def test_config_round_trip():
    net = net3(fuse_output=False)
    config = net.get_config()
    again = Network.from_config(config)
    assert again.get_config() == config
    for got, want in zip(again.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)  # same seed, same initial weights


# ---------------------------------------------------------------------- one validation policy
def test_plain_lists_of_integer_labels_train_and_evaluate(backend):
    X, y = rings(12)
    labels = [int(v) for v in y]
    by_list, by_array = net3(backend), net3(backend)
    by_list.fit(X.tolist(), labels, epochs=2, batch_size=4, optimizer=SGD(0.1))
    by_array.fit(X, y, epochs=2, batch_size=4, optimizer=SGD(0.1))
    for got, want in zip(by_list.get_weights(), by_array.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert by_list.evaluate(X, labels) == by_array.evaluate(X, y)


def test_numpy_scalars_are_numbers_and_bools_are_not():
    X, y = rings(12)
    opt = Adam(np.float32(0.01), beta1=np.float64(0.9), eps=np.float32(1e-7))
    assert isinstance(opt.learning_rate, float) and opt.beta1 == 0.9
    SGD(np.float64(0.1), momentum=np.float32(0.5))
    AdamW(weight_decay=np.float64(0.01))
    StepDecay(np.float32(0.1), every=np.int64(3))
    Dense(np.int64(2), np.int32(3))
    stopper = EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.0), monitor="train_cost")
    history = net3(seed=np.int64(3)).fit(
        X, y, epochs=np.int64(2), batch_size=np.int32(4), l2=np.float32(0.01), early_stopping=stopper
    )
    assert history.epochs == 2
    for make, message in [
        (lambda: SGD(True), "learning_rate must be a positive finite number"),
        (lambda: Adam(beta1=np.bool_(True)), r"beta1 must be a finite number in \[0, 1\)"),
        (lambda: Dense(True, 3), "Dense n_in must be a positive integer, got True"),
        (lambda: EarlyStopping(patience=True), "patience must be a positive integer, got True"),
        (lambda: net3().fit(X, y, epochs=True), "epochs must be a positive integer, got True"),
        (lambda: net3().fit(X, y, l2=False), "l2 must be a non-negative finite number"),
    ]:
        with pytest.raises(ValueError, match=message):
            make()
