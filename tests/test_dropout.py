"""Inverted dropout, D (1)–(8) of MATH.md §8, and L2 as D (4)–(5) (issue 12 §4): the
keep probabilities and their errors, the epoch masks (host-drawn, bit-identical on every
backend, one copy per epoch), the forward/backward with a fixed mask against finite
differences and torch autograd, training and exact resume, model files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ffnn
from backends import Backend, to_numpy
from ffnn import Dense, Network
from ffnn._schema import SchemaError, check_metadata
from ffnn.dropout import DropoutError, EpochMasks, draw_masks, keep_probabilities
from ffnn.optimizers import SGD
from ffnn.serialization import read_metadata
from ffnn.training.step import apply_l2, make_step
from tests.helpers import assert_allclose

HIDDEN = ["relu", "tanh", "sigmoid", "linear", "leaky_relu(alpha=0.2)", "elu", "softplus", "silu", "gelu"]
COSTS = [("linear", "mse"), ("sigmoid", "binary_crossentropy"), ("softmax", "categorical_crossentropy")]
M, N_IN, N_H, N_OUT = 7, 4, 5, 3
WORST: dict[str, float] = {}  # the worst errors seen (printed with -s by the last test)
DROP = {0: 0.8, 1: [0.5, 0.9, 0.7, 1.0, 0.6], 2: 0.5}  # input, per-unit, scalar


def _data(loss: str, m: int = M) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(m, N_IN))
    if loss == "categorical_crossentropy":
        return X, rng.integers(0, N_OUT, size=m)
    if loss == "binary_crossentropy":
        return X, rng.integers(0, 2, size=(m, N_OUT)).astype(float)
    return X, rng.normal(size=(m, N_OUT))


def _net(backend, hidden: str, output: str, loss: str, *, dropout=DROP, dtype="float64", fuse=True) -> Network:
    layers = [
        Dense(N_IN, N_H, activation=hidden),
        Dense(N_H, N_H, activation=hidden),
        Dense(N_H, N_OUT, activation=output),
    ]
    return Network(layers, loss=loss, backend=backend, dtype=dtype, seed=5, fuse_output=fuse, dropout=dropout)


def _masks(net: Network, m: int = M, *, seed: int = 11, epoch: int = 0) -> dict:
    masks = EpochMasks(net.dropout, net.sizes, net.backend, net.dtype)
    masks.start_epoch(seed, epoch, m)
    return masks.batch(0, m, xp=net.xp)


def _cost_and_grads(net: Network, X, Y, masks, params=None):
    x, y = net.inputs(X), None
    y = net.targets(Y, x.shape[0])
    cache, Z_L = net.forward_columns(x.T, params, masks=masks)
    cost = float(net.cost_columns(cache, Z_L, y.T))
    grads = net.backward(cache, y.T, params=params)
    return cost, grads


# ---------------------------------------------------------------------- keep probabilities
def test_keep_probabilities_forms() -> None:
    sizes = [4, 5, 5, 3]
    assert keep_probabilities(None, sizes) == {}
    assert keep_probabilities(1.0, sizes) == {}
    assert keep_probabilities(0.5, sizes) == {1: 0.5, 2: 0.5}  # hidden layers only
    assert keep_probabilities({"0": 0.9, 2: 1}, sizes) == {0: 0.9}  # JSON keys; p = 1 drops nothing
    assert keep_probabilities([0.9, None, [0.5, 1, 1, 1, 0.25]], sizes) == {0: 0.9, 2: (0.5, 1.0, 1.0, 1.0, 0.25)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (0.0, r"dropout = 0.0 is not a keep probability in \(0, 1\]"),
        (1.5, r"dropout = 1.5 is not a keep probability in \(0, 1\]"),
        (-0.2, r"not a keep probability"),
        (float("nan"), r"not a keep probability"),
        (True, r"must be a keep probability in \(0, 1\], got True"),
        ({1: [0.5, 0.5]}, r"dropout of layer 1 gives 2 keep probabilities, but layer 1 has 5 units"),
        ({1: [0.5, 0.5, 0.5, 0.5, 0.0]}, r"dropout of layer 1, unit 4 = 0.0 is not a keep probability"),
        ({3: 0.5}, r"dropout on the output layer \(3\) is not allowed"),
        ([0.5, 0.5, 0.5, 0.5], r"one entry per layer l = 0 \(the input\) … 2, i.e. 3 entries"),
        ({5: 0.5}, r"dropout names layer 5, but this network's layers are 0 \(the input\) … 2"),
        ({"x": 0.5}, r"dropout keys are layer numbers"),
        ("0.5", r"dropout must be a keep probability, a mapping"),
    ],
)
def test_bad_dropout_is_a_clear_error(spec, message: str) -> None:
    with pytest.raises(DropoutError, match=message):
        _net("numpy", "relu", "softmax", "categorical_crossentropy", dropout=spec)
    assert issubclass(DropoutError, ValueError)


def test_a_number_needs_hidden_layers() -> None:
    with pytest.raises(DropoutError, match=r"this network has none; give \{0: p\} to drop inputs"):
        Network([Dense(3, 1, activation="sigmoid")], dropout=0.5)
    net = Network([Dense(3, 1, activation="sigmoid")], dropout={0: 0.5}, backend="numpy")
    assert net.dropout == {0: 0.5}


# ---------------------------------------------------------------------- the masks
def test_masks_depend_only_on_seed_epoch_and_probabilities() -> None:
    probs, sizes = {0: 0.8, 1: (0.5, 0.9, 0.7, 1.0, 0.6)}, [4, 5, 3]
    a = draw_masks(probs, sizes, 7, 3, 9000)
    assert a.dtype == bool and a.shape == (9, 9000)
    np.testing.assert_array_equal(a, draw_masks(probs, sizes, 7, 3, 9000))
    assert not np.array_equal(a, draw_masks(probs, sizes, 7, 4, 9000))  # another epoch
    assert not np.array_equal(a, draw_masks(probs, sizes, 8, 3, 9000))  # another seed
    # the first examples' masks do not depend on m (drawn example by example, in chunks)
    np.testing.assert_array_equal(a[:, :5000], draw_masks(probs, sizes, 7, 3, 5000))
    kept = a.mean(axis=1)
    expected = np.array([0.8] * 4 + [0.5, 0.9, 0.7, 1.0, 0.6])
    assert np.all(np.abs(kept - expected) < 4 * np.sqrt(expected * (1 - expected) / 9000) + 1e-12)
    assert kept[7] == 1.0  # p = 1 keeps every unit


def test_batch_masks_are_bit_identical_on_every_backend(backend: Backend) -> None:
    for dtype in ("float64", "float32"):
        net = _net(backend, "relu", "softmax", "categorical_crossentropy", dtype=dtype)
        masks = EpochMasks(net.dropout, net.sizes, net.backend, net.dtype)
        masks.start_epoch(11, 2, 20)
        keep = draw_masks(net.dropout, net.sizes, 11, 2, 20)
        scale = (1.0 / np.concatenate([np.full(4, 0.8), DROP[1], np.full(5, 0.5)])).astype(dtype)[:, None]
        offsets = {0: (0, 4), 1: (4, 9), 2: (9, 14)}
        for start, stop in ((0, 8), (8, 16), (16, 20)):
            batch = masks.batch(start, stop, xp=net.xp)
            assert sorted(batch) == [0, 1, 2]
            for l, (a, b) in offsets.items():
                got = to_numpy(batch[l])
                assert got.dtype == np.dtype(dtype) and got.shape == (b - a, stop - start)
                np.testing.assert_array_equal(got, keep[a:b, start:stop].astype(dtype) * scale[a:b])


def test_forward_with_masks_is_d2_d3(backend: Backend) -> None:
    net = _net(backend, "tanh", "linear", "mse")
    X, _ = _data("mse")
    masks = _masks(net)
    cache, _ = net.forward_columns(net.inputs(X).T, masks=masks)
    W = net.get_weights()
    S = {l: to_numpy(v) for l, v in masks.items()}
    A = X.T * S[0]  # D (2) on the input
    for l in (1, 2):
        A = np.tanh(W[2 * l - 2] @ A + W[2 * l - 1])  # D (3)
        assert_allclose(cache[l], A, rtol=1e-13, atol=1e-15)
        A = A * S[l]
    assert_allclose(cache[3], W[4] @ A + W[5], rtol=1e-13, atol=1e-14)


def test_prediction_evaluation_and_cost_never_drop(backend: Backend) -> None:
    X, y = _data("categorical_crossentropy")
    dropped = _net(backend, "relu", "softmax", "categorical_crossentropy")
    plain = _net(backend, "relu", "softmax", "categorical_crossentropy", dropout=None)
    np.testing.assert_array_equal(to_numpy(dropped.predict(X)), to_numpy(plain.predict(X)))
    assert dropped.evaluate(X, y) == plain.evaluate(X, y)
    assert dropped.cost(X, y) == plain.cost(X, y)
    assert dropped.loss_and_gradients(X, y)[0] == plain.loss_and_gradients(X, y)[0]


# ---------------------------------------------------------------------- gradients with a fixed mask
def _fd_gradcheck(net: Network, X, Y, masks, eps: float = 1e-5) -> float:
    """Central differences of J at a fixed mask against backprop (MATH.md §7's error)."""
    params = {k: to_numpy(v).copy() for k, v in net.named_parameters().items()}
    _, grads = _cost_and_grads(net, X, Y, masks)
    worst = 0.0
    for name, value in params.items():
        bp = to_numpy(grads[name])
        for idx in np.ndindex(value.shape):
            J = []
            for step in (eps, -eps):
                bumped = dict(params)
                bumped[name] = value.copy()
                bumped[name][idx] += step
                device = {k: net.backend.asarray(v) for k, v in bumped.items()}
                J.append(_cost_and_grads_cost(net, X, Y, masks, device))
            fd = (J[0] - J[1]) / (2 * eps)
            worst = max(worst, abs(bp[idx] - fd) / max(abs(bp[idx]) + abs(fd), 1e-10))
    return worst


def _cost_and_grads_cost(net: Network, X, Y, masks, params) -> float:
    x = net.inputs(X)
    cache, Z_L = net.forward_columns(x.T, params, masks=masks)
    return float(net.cost_columns(cache, Z_L, net.targets(Y, x.shape[0]).T))


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize(("output", "loss"), COSTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradcheck_with_a_fixed_mask(hidden: str, output: str, loss: str, fuse: bool) -> None:
    net = _net("numpy", hidden, output, loss, fuse=fuse)
    X, Y = _data(loss)
    # Half-scale inputs: the 1/p scaling enlarges pre-activations, and where GELU/ELU
    # saturate some gradients fall to ~1e-9, below what J's rounding (|J|·2⁻⁵²/ε) lets
    # a difference quotient resolve; torch autograd checks those points exactly below.
    error = _fd_gradcheck(net, 0.5 * X, Y, _masks(net))
    WORST["gradcheck"] = max(WORST.get("gradcheck", 0.0), error)
    assert error <= 1e-6


def _torch_agrees(net: Network, X, Y, masks) -> float:
    torch = pytest.importorskip("torch", reason="torch autograd oracle needs torch")
    from tests.test_gradcheck import _torch_cost, _torch_forward

    S = [torch.from_numpy(to_numpy(masks[l]).copy()) if l in masks else None for l in range(len(net.layers))]
    F = torch.nn.functional
    fns = {
        "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=0), "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
        "silu": F.silu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.2), "elu": F.elu,
    }
    assert _torch_forward  # the oracle's activations are the ones of tests/test_gradcheck.py
    params = [torch.tensor(w, requires_grad=True) for w in net.get_weights()]
    A = torch.from_numpy(np.asarray(X).T.copy())
    for l, (layer, W, b) in enumerate(zip(net.layers, params[::2], params[1::2])):
        if S[l] is not None:
            A = A * S[l]
        A = fns[layer.activation.name](W @ A + b)
    Yt = torch.from_numpy(to_numpy(net.targets(Y, M)).T.copy())
    J = _torch_cost(torch, A, Yt, net.loss.name)
    J.backward()
    cost, grads = _cost_and_grads(net, X, Y, masks)
    assert cost == pytest.approx(J.item(), rel=1e-12)
    worst = 0.0
    for name, p in zip(net.parameter_names(), params):
        ours, theirs = to_numpy(grads[name]), p.grad.numpy()
        assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
        worst = max(worst, float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-300))))
    return worst


@pytest.mark.parametrize(("output", "loss"), COSTS)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "leaky_relu(alpha=0.2)", "elu", "silu", "gelu"])
def test_fixed_mask_equals_torch_autograd(backend: Backend, hidden: str, output: str, loss: str) -> None:
    net = _net(backend, hidden, output, loss)
    X, Y = _data(loss)
    WORST["torch"] = max(WORST.get("torch", 0.0), _torch_agrees(net, X, Y, _masks(net)))


def test_input_gradient_through_an_input_mask(backend: Backend) -> None:
    """D (8) on the input: dJ/dX = (W^[1]ᵀ dJ/dZ^[1]) ⊙ mask."""
    net = _net(backend, "tanh", "sigmoid", "binary_crossentropy")
    X, Y = _data("binary_crossentropy")
    masks = _masks(net)
    x, y = net.inputs(X), net.targets(Y, M)
    cache, _ = net.forward_columns(x.T, masks=masks)
    _, dX = net.backward(cache, y.T, input_gradient=True)
    eps, host = 1e-6, to_numpy(dX)  # finite differences in X at the fixed mask
    for i, k in [(0, 0), (2, 3), (6, 1)]:
        J = []
        for step in (eps, -eps):
            Xb = X.copy()
            Xb[i, k] += step
            J.append(_cost_and_grads_cost(net, Xb, Y, masks, None))
        assert abs(host[k, i] - (J[0] - J[1]) / (2 * eps)) <= 1e-8 * max(1.0, abs(host[k, i]))
    dropped = to_numpy(masks[0]) == 0
    assert dropped.any() and np.all(host[dropped] == 0)


# ---------------------------------------------------------------------- training
def test_training_with_dropout_is_the_same_on_every_backend(backend: Backend) -> None:
    X, y = _data("categorical_crossentropy", m=40)
    runs = []
    for where in ("numpy", backend):
        net = _net(where, "relu", "softmax", "categorical_crossentropy")
        history = net.fit(X, y, epochs=3, batch_size=16, optimizer="adam")
        runs.append((history.train_cost, net.get_weights()))
    (c0, w0), (c1, w1) = runs
    np.testing.assert_allclose(c1, c0, rtol=1e-10)
    for a, b in zip(w1, w0):
        assert_allclose(a, b, "float64")
    plain = _net("numpy", "relu", "softmax", "categorical_crossentropy", dropout=None)
    assert plain.fit(X, y, epochs=3, batch_size=16, optimizer="adam").train_cost != c0  # dropout acted


def test_the_loop_draws_and_copies_masks_once_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"start": [], "batch": 0}
    start, batch = EpochMasks.start_epoch, EpochMasks.batch

    def counted_start(self, seed, epoch, m):
        calls["start"].append((seed, epoch, m))
        return start(self, seed, epoch, m)

    def counted_batch(self, *args, **kw):
        calls["batch"] += 1
        return batch(self, *args, **kw)

    monkeypatch.setattr(EpochMasks, "start_epoch", counted_start)
    monkeypatch.setattr(EpochMasks, "batch", counted_batch)
    X, y = _data("categorical_crossentropy", m=40)
    net = _net("numpy", "relu", "softmax", "categorical_crossentropy")
    net.fit(X, y, epochs=3, batch_size=16)
    seed = net.training_state.shuffle_seed
    assert calls == {"start": [(seed, 0, 40), (seed, 1, 40), (seed, 2, 40)], "batch": 9}


class _Stop(Exception):
    pass


def test_resume_from_a_checkpoint_is_bit_identical(tmp_path: Path) -> None:
    """The mask stream is part of the training state: (shuffle seed, epoch count)."""
    X, y = _data("categorical_crossentropy", m=40)
    options = dict(epochs=4, batch_size=16, optimizer="adam")
    reference = _net("numpy", "tanh", "softmax", "categorical_crossentropy")
    expected = reference.fit(X, y, **options)

    def stop_after_two(logs):
        if logs["epoch"] == 2:
            raise _Stop

    net = _net("numpy", "tanh", "softmax", "categorical_crossentropy")
    path = tmp_path / "ckpt.ffnn"
    with pytest.raises(_Stop):
        net.fit(X, y, checkpoint=path, callbacks=[stop_after_two], **options)
    resumed = ffnn.load(path)  # saved after epoch 1
    assert resumed.dropout == net.dropout and resumed.training_state.epoch == 1
    history = resumed.fit(X, y, resume=True, **options)
    assert history.train_cost == expected.train_cost
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- L2 is D (4)–(5)
def test_l2_is_d4_d5_with_the_batch_size() -> None:
    net = _net("numpy", "tanh", "linear", "mse", dropout=None)
    X, Y = _data("mse", m=12)
    lam, m = 0.3, 5  # a batch of 5 rows out of 12
    params = net.named_parameters()
    squares = sum(float(np.sum(to_numpy(v) ** 2)) for k, v in params.items() if k.startswith("W"))
    data_cost, grads = _cost_and_grads(net, X[:m], Y[:m], None)
    # apply_l2 itself
    g = {k: np.array(v, copy=True) for k, v in grads.items()}
    penalty = float(apply_l2(params, g, lam, m, xp=net.xp))
    assert penalty == pytest.approx((1 / m) * (lam / 2) * squares, rel=1e-14)
    for k in params:
        extra = (lam / m) * to_numpy(params[k]) if k.startswith("W") else 0.0  # D (6): no penalty on b
        np.testing.assert_allclose(g[k], to_numpy(grads[k]) + extra, rtol=1e-14, atol=1e-15)
    # and the training step: J includes the penalty, plain SGD with rate 1 subtracts D (5)
    opt = SGD(1.0)
    step = make_step(net, opt, l2=lam)
    before = {k: to_numpy(v).copy() for k, v in params.items()}
    x, y = net.inputs(X[:m]), net.targets(Y[:m], m)
    new, _, cost, _ = step(dict(params), opt.init(params, xp=net.xp), x.T, y.T)
    assert float(cost) == pytest.approx(data_cost + (1 / m) * (lam / 2) * squares, rel=1e-14)
    for k, v in new.items():
        np.testing.assert_allclose(to_numpy(v), before[k] - g[k], rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------- model files
def test_model_files_store_the_keep_probabilities(tmp_path: Path) -> None:
    net = _net("numpy", "leaky_relu(alpha=0.2)", "softmax", "categorical_crossentropy")
    assert net.get_config()["dropout"] == {"0": 0.8, "1": [0.5, 0.9, 0.7, 1.0, 0.6], "2": 0.5}
    path = net.save(tmp_path / "m.ffnn")
    loaded = ffnn.load(path)
    assert loaded.dropout == net.dropout
    assert loaded.layers[0].activation.spec == "leaky_relu(alpha=0.2)"
    assert Network.from_config(net.get_config(), backend="numpy").dropout == net.dropout
    plain = _net("numpy", "relu", "softmax", "categorical_crossentropy", dropout=None)
    assert "dropout" not in plain.get_config()  # files without dropout read as before
    assert ffnn.load(plain.save(tmp_path / "n.ffnn")).dropout == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"1": 0.0}, r"architecture.dropout.1 must be a keep probability in \(0, 1\], got 0.0"),
        ({"1": 1.5}, r"must be a keep probability in \(0, 1\], got 1.5"),
        ({"1": [0.5, True]}, r"architecture.dropout.1\[1\] must be a keep probability"),
        ({"one": 0.5}, r"architecture.dropout key must be a layer number, got 'one'"),
        ([0.5], r"architecture.dropout must be an object of keep probabilities by layer"),
    ],
)
def test_the_schema_checks_the_dropout_field(tmp_path: Path, value, message: str) -> None:
    net = _net("numpy", "relu", "softmax", "categorical_crossentropy")
    meta = json.loads(json.dumps(read_metadata(net.save(tmp_path / "m.ffnn"))))
    check_metadata(meta)
    meta["architecture"]["dropout"] = value
    with pytest.raises(SchemaError, match=message):
        check_metadata(meta)


def test_the_schema_checks_activation_specs(tmp_path: Path) -> None:
    net = _net("numpy", "elu(alpha=0.5)", "softmax", "categorical_crossentropy")
    meta = read_metadata(net.save(tmp_path / "m.ffnn"))
    assert meta["architecture"]["layers"][0]["activation"] == "elu(alpha=0.5)"
    check_metadata(meta)
    meta["architecture"]["layers"][0]["activation"] = "elu(alpha=__import__)"
    with pytest.raises(SchemaError, match=r"must be an activation such as 'relu' or 'leaky_relu\(alpha=0.2\)'"):
        check_metadata(meta)



def test_report_worst_errors() -> None:
    """Prints the worst errors of this module's gradient tests (run with -s)."""
    print(f"\ndropout worst errors: {WORST}")
    assert all(v < 1e-6 for v in WORST.values())


def test_dropout_with_inputs_read_by_rows_is_refused_not_ignored(tmp_path) -> None:
    """The by-rows/distributed loop draws no masks yet: such a fit is refused, never silently undropped."""
    import numpy as np

    import ffnn

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    np.save(tmp_path / "x.npy", X)
    net = ffnn.Network(
        [ffnn.Dense(3, 4, activation="tanh"), ffnn.Dense(4, 1, activation="linear")], loss="mse", dropout=0.5, seed=0
    )
    with pytest.raises(ValueError, match="dropout is not supported yet with distributed="):
        net.fit(str(tmp_path / "x.npy"), X[:, :1], epochs=1)
