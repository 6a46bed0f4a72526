"""The training step's shortcuts change no number: the log-softmax shared between the
forward pass and the cost, the step built once per (network, optimizer), and the
parameter rebinding that skips arrays updated in place."""

from __future__ import annotations

import copy
import inspect
import math
import pickle

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import Dense, Network
from ffnn.activations import Activation, get_activation
from ffnn.dropout import apply
from ffnn.losses import get_loss
from ffnn.optimizers import SGD
from ffnn.training import make_step, train_step
from tests.helpers import assert_allclose

PAIRS = [
    ("softmax", "categorical_crossentropy"),  # fused, shared log-softmax
    ("sigmoid", "binary_crossentropy"),  # fused, cost from Z
    ("softmax", "mse"),  # not fused
]


def _net(backend: Backend | str, output: str, loss: str, dtype: str = "float64") -> Network:
    layers = [Dense(5, 7, activation="relu"), Dense(7, 6, activation="tanh"), Dense(6, 4, activation=output)]
    return Network(layers, loss=loss, backend=backend, dtype=dtype, seed=3)


def _batch(net: Network, loss: str, m: int = 9) -> tuple[object, object]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(m, 5)) * 3
    if loss == "categorical_crossentropy":
        Y = rng.integers(0, 4, size=m)
    elif loss == "binary_crossentropy":
        Y = rng.integers(0, 2, size=(m, 4)).astype(float)
    else:
        Y = rng.normal(size=(m, 4))
    x = net.inputs(X)
    return x.T, net.targets(Y, m).T


@pytest.mark.parametrize(("output", "loss"), PAIRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_forward_cost_columns_is_forward_then_cost_bit_for_bit(backend: Backend, output: str, loss: str,
                                                               weighted: bool) -> None:
    net = _net(backend, output, loss)
    xb, yb = _batch(net, loss)
    weights = backend.asarray(np.linspace(0.5, 2.0, xb.shape[1])[None, :], dtype=xb.dtype) if weighted else None
    cache, Z_L = net.forward_columns(xb)
    expected = net.cost_columns(cache, Z_L, yb, weights=weights)
    shared_cache, cost = net.forward_cost_columns(xb, yb, weights=weights)
    assert float(cost) == float(expected)
    assert len(shared_cache) == len(cache)
    for a, b in zip(shared_cache, cache):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_forward_cost_columns_with_dropout_masks_matches(backend: Backend) -> None:
    net = _net(backend, "softmax", "categorical_crossentropy")
    xb, yb = _batch(net, "categorical_crossentropy")
    rng = np.random.default_rng(0)
    masks = {l: backend.asarray((rng.random((n, xb.shape[1])) < 0.7) / 0.7, dtype=xb.dtype)
             for l, n in ((0, 5), (2, 6))}
    cache, Z_L = net.forward_columns(xb, masks=masks)
    expected = net.cost_columns(cache, Z_L, yb)
    shared_cache, cost = net.forward_cost_columns(xb, yb, masks=masks)
    assert float(cost) == float(expected)
    for l in (0, 2):
        np.testing.assert_array_equal(to_numpy(shared_cache.dropped[l]), to_numpy(apply(cache[l], masks[l])))
    np.testing.assert_array_equal(to_numpy(shared_cache[-1]), to_numpy(cache[-1]))


def test_softmax_forward_log_is_finite_where_the_probability_underflows(backend: Backend) -> None:
    xp = backend.xp
    Z = backend.asarray(np.array([[0.0, 3.0], [-800.0, 1.0], [5.0, -2.0]]), dtype=backend.dtype("float64"))
    softmax = get_activation("softmax")
    A, log_A = softmax.forward_log(Z, xp=xp)
    np.testing.assert_array_equal(to_numpy(A), to_numpy(softmax.forward(Z, xp=xp)))
    z = np.array([[0.0, 3.0], [-800.0, 1.0], [5.0, -2.0]])
    exact = z - z.max(axis=0) - np.log(np.exp(z - z.max(axis=0)).sum(axis=0))
    assert np.isfinite(to_numpy(log_A)).all() and to_numpy(A)[1, 0] == 0.0
    assert_allclose(to_numpy(log_A), exact, dtype="float64")


def test_train_step_builds_its_step_once_and_rebuilds_when_anything_changes() -> None:
    net = _net("numpy", "softmax", "categorical_crossentropy")
    xb, yb = _batch(net, "categorical_crossentropy")
    opt = SGD(0.1)
    train_step(net, opt, xb, yb)
    first = opt.__dict__["_steps"]["eager"][1]
    train_step(net, opt, xb, yb)
    assert opt.__dict__["_steps"]["eager"][1] is first
    train_step(net, opt, xb, yb, l2=0.5)
    assert opt.__dict__["_steps"]["eager"][1] is not first
    other = _net("numpy", "softmax", "categorical_crossentropy")
    train_step(other, opt, xb, yb, l2=0.5)
    assert opt.__dict__["_steps"]["eager"][0][0] is other


def test_a_network_trained_by_train_step_is_freed_with_its_optimizer() -> None:
    """The kept step references the network; only the optimizer holds it, so nothing leaks."""
    import gc
    import weakref

    net = _net("numpy", "softmax", "categorical_crossentropy")
    xb, yb = _batch(net, "categorical_crossentropy")
    opt = SGD(0.1)
    train_step(net, opt, xb, yb)
    ref = weakref.ref(net)
    del net, opt, xb, yb
    gc.collect()
    assert ref() is None


def test_a_copied_optimizer_does_not_step_with_the_original() -> None:
    """The copy's own learning rate is used, never the original's (the kept step is left out of copies)."""
    nets = [_net("numpy", "softmax", "categorical_crossentropy") for _ in range(3)]
    xb, yb = _batch(nets[0], "categorical_crossentropy")
    opt = SGD(0.1)
    train_step(nets[0], opt, xb, yb)
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):  # our own object
        assert "_steps" not in clone.__dict__
    twin = copy.copy(opt)
    twin.learning_rate = 0.5
    twin.state = None
    before = nets[0].get_weights()
    step = make_step(nets[0], SGD(0.5))
    expected, _, _, _ = step({k: np.array(v, copy=True) for k, v in nets[0].named_parameters().items()},
                             {"step": 0}, xb, yb)
    train_step(nets[0], twin, xb, yb)
    got = nets[0].get_weights()
    assert not np.array_equal(got[0], before[0])
    np.testing.assert_array_equal(got[0], to_numpy(expected["W1"]))


def test_set_parameters_checks_arrays_that_are_not_the_networks_own(backend: Backend) -> None:
    net = _net(backend, "softmax", "categorical_crossentropy")
    params = net.named_parameters()
    net.set_parameters(params)  # the same arrays: accepted as they are
    wrong = dict(params)
    wrong["W2"] = backend.asarray(np.zeros((3, 3)), dtype=params["W2"].dtype)
    with pytest.raises(ValueError, match=r"W\^\[2\] must have shape \(6, 7\)"):
        net.set_parameters(wrong)
    with pytest.raises(ValueError, match="needs the keys"):
        net.set_parameters({k: params[k] for k in list(params)[:-1]})  # b3 missing


# ---------------------------------------------------------------- the end-of-fit finiteness proof
ALL_ACTIVATIONS = ["relu", "sigmoid", "tanh", "linear", "leaky_relu", "elu", "softplus", "silu", "gelu"]


def _bounded(net: Network, X: np.ndarray) -> bool:
    from ffnn._validation import inputs_with_bound
    from ffnn.training.loop import _bounded_outputs

    x, bound = inputs_with_bound(X, net.backend, net.dtype, net.n_in)
    assert bound == float(np.max(np.abs(to_numpy(x))))  # β_0 = max |x|, read with the finiteness check
    return _bounded_outputs(net, bound, net.parameters())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_bound_proof_never_accepts_outputs_that_are_not_finite(backend: Backend, dtype: str) -> None:
    """Random networks of every activation, weights from ordinary to near overflow: whenever
    the bound says "finite", predict is finite; ordinary networks pass, overflowing ones do not."""
    rng = np.random.default_rng(0)
    accepted = refused = 0
    for trial in range(24):
        hidden = ALL_ACTIVATIONS[trial % len(ALL_ACTIVATIONS)]
        output = ["softmax", "linear", "sigmoid", "relu"][trial % 4]
        layers = [Dense(4, 6, activation=hidden), Dense(6, 5, activation=hidden), Dense(5, 3, activation=output)]
        net = Network(layers, loss="mse", backend=backend, dtype=dtype, seed=trial)
        scale = 10.0 ** rng.uniform(-1, 150 if dtype == "float64" else 16)
        net.set_weights([w * scale for w in net.get_weights()])
        X = rng.normal(size=(8, 4)) * 10.0 ** rng.uniform(0, 6)
        with np.errstate(all="ignore"):
            finite = bool(np.all(np.isfinite(to_numpy(net.predict(X)))))
        if _bounded(net, X):
            accepted += 1
            assert finite, (hidden, output, scale)
        else:
            refused += 1
    assert accepted >= 3 and refused >= 3, (accepted, refused)


def test_the_bound_proof_accepts_an_ordinary_network_and_refuses_what_it_cannot_bound(backend: Backend) -> None:
    from ffnn.activations import Activation

    net = _net(backend, "softmax", "categorical_crossentropy")
    X = np.random.default_rng(1).normal(size=(9, 5))
    assert _bounded(net, X)

    class Cube(Activation):  # states no bound
        name = "cube"

        def forward(self, Z, /, *, xp):  # type: ignore[no-untyped-def]
            return Z * Z * Z

    net.layers[1].activation = Cube()
    assert not _bounded(net, X)


def test_the_bound_proof_refuses_non_finite_optimizer_state(backend: Backend) -> None:
    from ffnn.training.loop import _bounded_outputs

    net = _net(backend, "softmax", "categorical_crossentropy")
    bad = backend.asarray(np.array([[np.nan]]), dtype=backend.dtype("float64"))
    assert _bounded_outputs(net, 1.0, net.parameters())
    assert not _bounded_outputs(net, 1.0, [*net.parameters(), bad])
    assert not _bounded_outputs(net, math.inf, net.parameters())  # inputs of unknown size: no proof


def test_the_last_epoch_read_carries_the_bound_proof_only_when_nothing_runs_after_it(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit without callbacks or stopping rule reads the norms of the end-of-fit proof
    with its last epoch (no measurement of its own), and they are the norms the proof
    measures itself; with a callback, the proof measures afresh: a callback that spoils
    the weights after the last epoch is caught (DivergedError, the network back at its
    start)."""
    from ffnn.training import DivergedError
    from ffnn.training import loop as loop_module

    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(24, 5)) * 3, rng.integers(0, 4, size=24)
    measured: list[bool] = []
    real = loop_module._bounded_outputs

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        measured.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_module, "_bounded_outputs", counting)
    net = _net(backend, "softmax", "categorical_crossentropy")
    net.fit(X, y, epochs=3, batch_size=8, optimizer="sgd")
    assert measured == []  # the proof came with the last epoch's read
    params = net.parameters()
    folded = [float(v) for v in to_numpy(loop_module._weight_norms_of(net)(params))]
    bound = float(np.max(np.abs(X)))
    assert real(net, bound, params)  # the proof measured on its own agrees
    expected = []
    for W, b in zip(net.get_weights()[0::2], net.get_weights()[1::2]):
        expected += [np.max(np.sum(np.abs(W), axis=1)), np.max(np.abs(b))]
    assert_allclose(np.array(folded), np.array(expected), rtol=1e-12)

    net = _net(backend, "softmax", "categorical_crossentropy")
    before = net.get_weights()

    def spoil(logs):  # type: ignore[no-untyped-def]
        if logs["epoch"] == 2:
            weights = net.get_weights()
            weights[0][0, 0] = np.nan
            net.set_weights(weights)

    with pytest.raises(DivergedError):
        net.fit(X, y, epochs=2, batch_size=8, optimizer="sgd", callbacks=[spoil])
    assert measured == [True]  # a callback ran after the last read: measured afresh
    for w, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(w, b)


# ---------------------------------------------------------------- the epoch's bookkeeping
@pytest.mark.parametrize("task", ["multiclass", "multilabel", "regression"])
def test_the_epoch_sums_agree_with_their_definition(backend: Backend, task: str) -> None:
    """Σ_b w_b J_b and the hits (or regression sums), compiled on JAX, plain elsewhere: the
    same numbers as the definitions, the hits counted against the targets decided once
    per fit (:func:`target_classes`) in the epoch's order."""
    from ffnn.metrics import hits_of, predicted_columns, target_classes
    from ffnn.training.evaluation import regression_sums
    from ffnn.training.loop import _epoch_sums

    net = _net(backend, "softmax", "categorical_crossentropy")
    xp, rng = net.xp, np.random.default_rng(2)
    dtype = backend.dtype("float64")
    costs = [backend.asarray(np.array(c), dtype=dtype) for c in rng.random(3)]
    weights = backend.asarray(np.array([4.0, 4.0, 2.0]), dtype=dtype)
    y_host = np.eye(4)[rng.integers(0, 4, 10)]
    if task == "multilabel":
        y_host = (rng.random((10, 4)) > 0.5).astype(float)
    y = backend.asarray(y_host, dtype=dtype)
    order_host = rng.permutation(10)
    order = backend.asarray(order_host)
    outputs = [backend.asarray(rng.random((4, n)), dtype=dtype) for n in (4, 4, 2)]
    targets = y
    if task != "regression":
        outputs = [predicted_columns(o, task=task, xp=xp) for o in outputs]
        targets = target_classes(y.T, task=task, xp=xp)
    sums = _epoch_sums(net, task)
    assert inspect.isfunction(sums) == (backend.name != "jax")  # jax: a jax.jit function, built once
    assert (_epoch_sums(net, task) is sums) == (backend.name == "jax")
    cost_sum, measures = sums(costs, weights, outputs, targets, order)
    assert_allclose(cost_sum, float(np.dot([float(c) for c in costs], [4.0, 4.0, 2.0])))
    ordered = backend.asarray(y_host[order_host], dtype=dtype).T
    if task == "regression":
        expected = regression_sums(xp.concat(outputs, axis=1), ordered, xp=xp)
    else:
        expected = hits_of(outputs, ordered, task=task, xp=xp)
        decided = np.concatenate([to_numpy(o) for o in outputs], axis=-1)
        wanted = y_host[order_host].argmax(1) if task == "multiclass" else (y_host[order_host] > 0.5).T
        assert float(expected) == np.sum(decided == wanted) / (1 if task == "multiclass" else 4)
    assert_allclose(measures, expected)
    plain, _ = sums(costs, weights, outputs, targets, None)
    assert_allclose(plain, cost_sum)


@pytest.mark.parametrize("case", ["labels", "probabilities", "binary", "multilabel", "regression"])
def test_a_fit_decides_its_targets_once_and_reads_the_input_bound_with_the_validation(
    backend: Backend, case: str
) -> None:
    """``training_data`` hands the loop the targets decided once per fit (the labels as
    given, in argmax's integer dtype; argmax of probability rows; y > 0.5 as (n, m)
    for binary labels) and β_0 = max |x|, both cut by a validation split."""
    from ffnn.training.loop import training_data

    output, loss = {"labels": ("softmax", "categorical_crossentropy"), "probabilities": ("softmax", "categorical_crossentropy"),
                    "binary": ("sigmoid", "binary_crossentropy"), "multilabel": ("sigmoid", "binary_crossentropy"),
                    "regression": ("linear", "mse")}[case]
    rng = np.random.default_rng(7)
    layers = [Dense(5, 6, activation="tanh"), Dense(6, 1 if case == "binary" else 4, activation=output)]
    net = Network(layers, loss=loss, backend=backend, dtype="float32", seed=1)
    X = rng.normal(size=(12, 5)) * 3
    X[4, 2] = -40.0  # the largest |x|, in the training part
    y = {"labels": rng.integers(0, 4, 12), "probabilities": rng.dirichlet(np.ones(4), 12),
         "binary": rng.integers(0, 2, 12).astype(float), "multilabel": rng.integers(0, 2, (12, 4)).astype(float),
         "regression": rng.normal(size=(12, 4))}[case]
    data = training_data(net, X, y, None, 0.25, 3, True)
    assert data.x_bound == 40.0
    assert data.x.shape[0] == 9
    if case == "regression":
        assert data.classes is None
        return
    classes = to_numpy(data.classes)
    if case == "labels":
        assert data.classes.dtype == net.xp.argmax(data.y[:1, :], axis=1).dtype
        np.testing.assert_array_equal(classes, y[:9])
    elif case == "probabilities":
        np.testing.assert_array_equal(classes, y[:9].argmax(1))
    else:
        np.testing.assert_array_equal(classes, (y[:9].reshape(9, -1) > 0.5).T)


def test_inputs_with_bound_refuses_nan_and_infinities_and_names_the_array(backend: Backend) -> None:
    from ffnn._validation import inputs_with_bound

    for bad in (np.nan, np.inf, -np.inf):
        X = np.ones((4, 3))
        X[2, 1] = bad
        with pytest.raises(ValueError, match="X_val contains NaN or infinite values"):
            inputs_with_bound(X, backend, "float64", 3, name="X_val")
    assert inputs_with_bound(-np.arange(6.0).reshape(2, 3), backend, "float64", 3)[1] == 5.0
    from ffnn._validation import max_abs

    assert math.isnan(max_abs(backend.asarray(np.array([1.0, np.nan, -3.0])), backend))
    assert max_abs(backend.asarray(np.array([1.0, -np.inf])), backend) == math.inf


def test_the_epoch_decides_the_batches_outputs_at_once(backend: Backend) -> None:
    """fit hands the epoch sums the batches' outputs A^[L] (decided once per epoch): the
    hits equal those from each batch's own argmax, with and without an order."""
    from ffnn.training.loop import _epoch_sums

    net = _net(backend, "softmax", "categorical_crossentropy")
    xp, rng = net.xp, np.random.default_rng(4)
    dtype = backend.dtype("float64")
    costs = [backend.asarray(np.array(c), dtype=dtype) for c in rng.random(3)]
    weights = backend.asarray(np.array([4.0, 4.0, 2.0]), dtype=dtype)
    classes = backend.asarray(rng.integers(0, 4, 10))
    outputs = [backend.asarray(rng.random((4, n)), dtype=dtype) for n in (4, 4, 2)]
    decided = [xp.argmax(o, axis=0) for o in outputs]
    for order in (None, backend.asarray(rng.permutation(10))):
        at_once = _epoch_sums(net, "multiclass", decided=False)(costs, weights, outputs, classes, order)[1]
        per_batch = _epoch_sums(net, "multiclass")(costs, weights, decided, classes, order)[1]
        assert float(at_once) == float(per_batch) and float(at_once) > 0


def test_a_network_with_a_compiled_step_is_freed_too() -> None:
    """Compiled steps are kept the same way (they used to stay in a module-level cache keyed
    by the network, whose entries held the network itself and so were never freed)."""
    import gc
    import weakref

    pytest.importorskip("jax")
    from ffnn.training import compiled_step

    net = _net("jax", "softmax", "categorical_crossentropy")
    opt = SGD(0.1)
    step = compiled_step(net, opt)
    assert compiled_step(net, opt) is step  # kept: a second call compiles nothing
    assert compiled_step(net, SGD(0.2)) is not step
    ref = weakref.ref(net)
    del net, opt, step
    gc.collect()
    assert ref() is None


# ---------------------------------------------------------------- the kept passes
def test_the_kept_passes_follow_what_they_fix(backend: Backend) -> None:
    """Network.passes() is kept between calls and rebuilt when the output pairing, the
    fusion or the loss change; a step made after the change runs the new passes."""
    net = _net(backend, "softmax", "categorical_crossentropy")
    first = net.passes()
    assert net.passes() is first and first.fused and first.log_output is not None
    xb, yb = _batch(net, "categorical_crossentropy")
    opt = SGD(learning_rate=1e-3)
    train_step(net, opt, xb, yb)
    assert opt.__dict__["_steps"]["eager"][1].passes is first
    fused_cost = float(first.forward_cost(xb, yb)[1])
    net.fuse_output = False
    second = net.passes()
    assert second is not first and not second.fused and second.log_output is None
    unfused_cost = float(second.forward_cost(xb, yb)[1])
    assert unfused_cost == pytest.approx(fused_cost, rel=1e-9)  # the same J, from A instead of Z
    train_step(net, opt, xb, yb)
    assert opt.__dict__["_steps"]["eager"][1].passes is second  # the held step was made again, for the new passes
    net.loss = get_loss("mse")
    assert net.passes() is not second and net.passes().loss is net.loss


def test_copies_of_a_trained_network_build_their_own_passes(backend: Backend) -> None:
    net = _net(backend, "softmax", "categorical_crossentropy")
    X = np.random.default_rng(2).normal(size=(12, 5))
    y = np.arange(12) % 4
    net.fit(X, y, epochs=2, batch_size=5)
    kept = net.passes()
    deep, shallow = copy.deepcopy(net), copy.copy(net)
    assert "_passes" not in deep.__dict__  # left out of the copy, rebuilt on first use
    for clone in (deep, shallow):
        assert clone.passes() is not kept and clone.passes().net is clone
    before = [to_numpy(p).copy() for p in net.parameters()]
    deep.fit(X, y, epochs=1, batch_size=5)
    assert_allclose(to_numpy(deep.predict(X)).shape, (12, 4))
    for a, b in zip(before, net.parameters()):
        np.testing.assert_array_equal(a, to_numpy(b))  # training the copy left the original alone


# ---------------------------------------------------------------- rebinding between steps
def test_train_step_follows_parameters_rebound_between_calls(backend: Backend) -> None:
    """train_step keeps the parameter dict between calls; set_weights, a direct
    ``layer.W = …`` and a replaced layer between calls are all seen: the next step
    trains the new arrays, exactly as a fresh step would."""
    net = _net(backend, "softmax", "categorical_crossentropy")
    twin = _net(backend, "softmax", "categorical_crossentropy")
    xb, yb = _batch(net, "categorical_crossentropy")
    opt, twin_opt = SGD(0.1), SGD(0.1)
    train_step(net, opt, xb, yb)
    rng = np.random.default_rng(11)
    new = [rng.normal(size=np.shape(to_numpy(p))) for p in net.parameters()]
    net.set_weights(new)
    twin.set_weights(new)
    net.layers[1].W = backend.asarray(to_numpy(net.layers[1].W) * 0.5, dtype=net.layers[1].W.dtype)
    twin.layers[1].W = backend.asarray(to_numpy(twin.layers[1].W) * 0.5, dtype=twin.layers[1].W.dtype)
    costs = [float(train_step(net, opt, xb, yb)), float(make_step_cost(twin, twin_opt, xb, yb))]
    assert costs[0] == costs[1]
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def make_step_cost(net: Network, opt: SGD, xb: object, yb: object) -> object:
    """One step by a step made afresh, its results bound to the network (the reference)."""
    params = net.named_parameters()
    state = opt.state if opt.state is not None else opt.init(params, xp=net.xp)
    params, opt.state, cost, _ = make_step(net, opt)(params, state, xb, yb)
    net.set_parameters(params)
    return cost


def test_train_step_follows_a_layer_replaced_in_the_list_without_a_rebinding() -> None:
    """``net.layers[i] = layer`` rebinds nothing on the network; the kept step compares
    the list itself and runs the new layer's activation."""
    net = _net("numpy", "softmax", "categorical_crossentropy")
    twin = _net("numpy", "softmax", "categorical_crossentropy")
    xb, yb = _batch(net, "categorical_crossentropy")
    opt, twin_opt = SGD(0.1), SGD(0.1)
    replaced = Dense(7, 6, activation="sigmoid")
    replaced.W, replaced.b = net.layers[1].W, net.layers[1].b  # the same arrays: NumPy trains them in place
    train_step(net, opt, xb, yb)
    make_step_cost(twin, twin_opt, xb, yb)
    train_step(net, opt, xb, yb)  # the kept step is current again
    make_step_cost(twin, twin_opt, xb, yb)
    net.layers[1] = replaced
    twin.layers[1].activation = get_activation("sigmoid")
    assert float(train_step(net, opt, xb, yb)) == float(make_step_cost(twin, twin_opt, xb, yb))
    for a, b in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a, b)


def test_rebinding_counts_and_kept_passes_are_found_without_rebuilding() -> None:
    """Rebinding a layer's W, b or activation, or a network's loss, backend or fusion,
    moves BINDINGS.count; a value changed in place does not. The kept passes are
    returned while nothing was rebound, and rebuilt when what they fix changed."""
    from ffnn.layers import BINDINGS

    net = _net("numpy", "softmax", "categorical_crossentropy")
    first = net.passes()
    count = BINDINGS.count
    net.layers[0].W[0, 0] = 1.0
    assert BINDINGS.count == count and net.passes() is first
    net.layers[0].W = net.layers[0].W.copy()
    assert BINDINGS.count > count and net.passes() is first  # checked again: the same structure
    count = BINDINGS.count
    net.fuse_output = False
    assert BINDINGS.count > count and net.passes() is not first
    for name, value in (("loss", get_loss("mse")), ("b", None), ("activation", get_activation("tanh"))):
        count = BINDINGS.count
        setattr(net if name == "loss" else net.layers[2], name, value)
        assert BINDINGS.count > count, name
    second = net.passes()
    assert second.loss is net.loss and second.rules[2][0] == net.layers[2].activation.forward
    count = BINDINGS.count
    net.set_parameters(net.named_parameters())  # the same arrays: nothing rebound
    assert BINDINGS.count == count
    fresh = {k: np.array(v) for k, v in net.named_parameters().items()}
    net.set_parameters(fresh, check=False)  # new arrays: counted once for all of them
    assert BINDINGS.count > count and all(a is b for a, b in zip(net.parameters(), fresh.values()))

    class Watched(Dense):  # a layer with its own __setattr__ is rebound through it
        def __setattr__(self, name: str, value: object) -> None:
            self.__dict__.setdefault("seen", []).append(name)
            super().__setattr__(name, value)

    watched = Network([Watched(5, 3, activation="relu"), Dense(3, 2, activation="softmax")], seed=0)
    watched.set_parameters({k: np.array(v) for k, v in watched.named_parameters().items()})
    assert watched.layers[0].seen[-2:] == ["W", "b"]


def test_set_parameters_checks_unless_told_not_to() -> None:
    net = _net("numpy", "softmax", "categorical_crossentropy")
    params = {k: np.array(v) for k, v in net.named_parameters().items()}
    params["W1"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"W\^\[1\] must have shape \(7, 5\)"):
        net.set_parameters(params)
    net.set_parameters(params, check=False)  # a compiled step's outputs, checked once before
    assert net.layers[0].W is params["W1"]


@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "leaky_relu"])
def test_the_plain_training_pass_is_the_general_passes_bit_for_bit(backend: Backend, hidden: str) -> None:
    """``Passes.train`` (softmax with cross-entropy, no layer reading Z^[l]): the same
    cost, outputs and gradients, bit for bit, as forward_cost and backward(release_cache),
    and a make_step step that takes it trains to the same parameters as one that cannot
    (a batch with unit example weights goes through the general passes)."""
    layers = [Dense(5, 7, activation=hidden), Dense(7, 6, activation="relu"), Dense(6, 4, activation="softmax")]
    net = Network(layers, loss="categorical_crossentropy", backend=backend, dtype="float64", seed=3)
    passes = net.passes()
    assert passes.train is not None
    xb, yb = _batch(net, "categorical_crossentropy")
    params = net.named_parameters()
    cost, A_L, grads = passes.train(xb, yb, params)
    cache, expected_cost = passes.forward_cost(xb, yb, params)
    expected_A = cache[-1]
    expected = passes.backward(cache, yb, params, None, True)
    assert np.array_equal(to_numpy(cost), to_numpy(expected_cost))
    assert np.array_equal(to_numpy(A_L), to_numpy(expected_A))
    assert list(grads) == list(expected)
    for k in expected:
        assert np.array_equal(to_numpy(grads[k]), to_numpy(expected[k])), k
    # through make_step: the plain pass (weights None) against the general one (unit weights)
    twin = copy.deepcopy(net)
    ones = backend.asarray(np.ones((1, xb.shape[1])), dtype=backend.dtype("float64"))
    steps = [make_step(n, SGD(learning_rate=0.1)) for n in (net, twin)]
    states = [{"step": 0}, {"step": 0}]
    pa, pb = net.named_parameters(), twin.named_parameters()
    for _ in range(3):
        pa, states[0], ca, _ = steps[0](pa, states[0], xb, yb)
        pb, states[1], cb, _ = steps[1](pb, states[1], xb, yb, ones)
        assert_allclose(to_numpy(ca), to_numpy(cb), rtol=1e-12, atol=0)
    for k in pa:
        assert_allclose(to_numpy(pa[k]), to_numpy(pb[k]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("batch_dtype", "target_dtype"), [("float64", "float64"), ("float32", "float32"),
                                                           ("float64", "float32")])
def test_the_plain_pass_runs_the_kernels_for_the_networks_dtype_and_the_methods_for_another(
    backend: Backend, batch_dtype: str, target_dtype: str
) -> None:
    """The kernels hold constants in the network's dtype (Activation.kernels), so
    train_plain calls them only on a batch of that dtype; a batch of another dtype goes
    through the activations' own methods. Either way the values are the general passes'."""
    calls: list[str] = []

    class Spied(Activation):
        name = "spied_relu"

        def forward(self, Z, /, *, xp):  # type: ignore[no-untyped-def]
            calls.append("forward")
            return xp.maximum(Z, 0.0)

        def backward_in_place(self, dA, A, Z=None, /, *, xp):  # type: ignore[no-untyped-def]
            calls.append("backward")
            return dA * xp.astype(A > 0.0, dA.dtype)

        def kernels(self, like, /, *, xp):  # type: ignore[no-untyped-def]
            def forward(Z):  # type: ignore[no-untyped-def]
                calls.append("kernel forward")
                return xp.maximum(Z, 0.0)

            def backward(dA, A):  # type: ignore[no-untyped-def]
                calls.append("kernel backward")
                return dA * xp.astype(A > 0.0, dA.dtype)

            return forward, backward

    layers = [Dense(5, 7, activation=Spied()), Dense(7, 4, activation="softmax")]
    net = Network(layers, loss="categorical_crossentropy", backend=backend, dtype="float64", seed=3)
    xb, yb = _batch(net, "categorical_crossentropy")
    xp, dtype = backend.xp, backend.dtype(batch_dtype)
    xb, yb = xp.astype(xb, dtype), xp.astype(yb, backend.dtype(target_dtype))
    passes = net.passes()
    params = {k: xp.astype(v, dtype) for k, v in net.named_parameters().items()}
    cost, A_L, grads = passes.train(xb, yb, params)
    own = batch_dtype == target_dtype == "float64"
    assert calls == (["kernel forward", "kernel backward"] if own else ["forward", "backward"])
    cache, expected_cost = passes.forward_cost(xb, yb, params)
    expected = passes.backward(cache, yb, params, None, True)
    assert np.array_equal(to_numpy(cost), to_numpy(expected_cost))
    assert np.array_equal(to_numpy(A_L), to_numpy(cache[-1]))
    for k in expected:
        assert np.array_equal(to_numpy(grads[k]), to_numpy(expected[k])), k


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "fuse"),
    [
        ("silu", "softmax", "categorical_crossentropy", True),  # reads Z^[l]
        ("relu", "sigmoid", "binary_crossentropy", True),  # fused, but the cost comes from Z
        ("relu", "softmax", "categorical_crossentropy", False),  # not fused
        ("relu", "softmax", "mse", True),  # not fused
    ],
)
def test_networks_the_plain_pass_does_not_cover_have_none(hidden: str, output: str, loss: str, fuse: bool) -> None:
    layers = [Dense(5, 7, activation=hidden), Dense(7, 4, activation=output)]
    net = Network(layers, loss=loss, backend="numpy", seed=3)
    net.fuse_output = fuse
    assert net.passes().train is None
