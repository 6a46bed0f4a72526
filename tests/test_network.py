"""Network: forward/backward on every backend, gradchecks of every pairing, torch
autograd as an oracle, seeded initialisation, and the documented input errors."""

from __future__ import annotations

import numpy as np
import pytest

import ffnn
from backends import Backend, get_backend, to_numpy
from ffnn import Dense, Network
from tests.helpers import assert_allclose, assert_on_backend

VALID = [
    ("linear", "mse"),
    ("relu", "mse"),
    ("sigmoid", "mse"),
    ("tanh", "mse"),
    ("softmax", "mse"),
    ("sigmoid", "binary_crossentropy"),
    ("softmax", "binary_crossentropy"),
    ("softmax", "categorical_crossentropy"),
    ("sigmoid", "categorical_crossentropy"),
]
INVALID = [(a, l) for a in ("relu", "tanh", "linear") for l in ("binary_crossentropy", "categorical_crossentropy")]
M, N_IN, N_OUT = 7, 4, 3


def make_net(backend: Backend | str, output: str = "softmax", loss: str = "categorical_crossentropy", **kw: object) -> Network:
    """4 → 6 (relu) → 5 (tanh) → 4 (sigmoid) → 3 (output): every activation appears."""
    layers = [
        Dense(N_IN, 6, activation="relu"),
        Dense(6, 5, activation="tanh"),
        Dense(5, 4, activation="sigmoid"),
        Dense(4, N_OUT, activation=output),
    ]
    opts = {"dtype": "float64", "seed": 7, **kw}
    return Network(layers, loss=loss, backend=backend, **opts)  # type: ignore[arg-type]


def make_data(loss: str, m: int = M) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(m, N_IN))
    if loss == "categorical_crossentropy":
        return X, rng.integers(0, N_OUT, size=m)
    if loss == "binary_crossentropy":
        return X, rng.integers(0, 2, size=(m, N_OUT)).astype(float)
    return X, rng.normal(size=(m, N_OUT))


def test_predict_shape_dtype_device(backend: Backend) -> None:
    net = make_net(backend, dtype="float32")
    X, _ = make_data("mse")
    out = net.predict(X)
    assert_on_backend(out, backend, (M, N_OUT), "float32")
    np.testing.assert_allclose(to_numpy(out).sum(axis=1), 1.0, rtol=1e-5)


def test_predict_in_batches_equals_whole(backend: Backend) -> None:
    net = make_net(backend)
    X, _ = make_data("mse", m=10)
    assert_allclose(net.predict(X, batch_size=3), net.predict(X))


def test_loss_and_gradients_shapes(backend: Backend) -> None:
    net = make_net(backend, dtype="float32")
    X, Y = make_data("categorical_crossentropy")
    cost, grads = net.loss_and_gradients(X, Y)
    assert isinstance(cost, float) and cost > 0
    assert len(grads) == len(net.layers)
    for layer, (dW, db) in zip(net.layers, grads):
        assert_on_backend(dW, backend, (layer.n_out, layer.n_in), "float32")
        assert_on_backend(db, backend, (layer.n_out, 1), "float32")


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize(("output", "loss"), VALID)
def test_gradcheck_every_pairing(backend: Backend, output: str, loss: str, fuse: bool) -> None:
    """Seed H: backpropagation equals central differences, relative error < 1e-6 (float64)."""
    net = make_net(backend, output, loss, fuse_output=fuse)
    assert net.fused == (fuse and output == {"mse": "linear", "binary_crossentropy": "sigmoid"}.get(loss, "softmax"))
    X, Y = make_data(loss)
    result = ffnn.gradcheck(net, X, Y)
    assert len(result) == 4 and result.n_checked == net.n_params
    assert result.max_error < 1e-6, result.per_layer


def test_gradcheck_detects_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle can fail: a tanh backward off by 1% is caught."""
    from ffnn.activations import Tanh

    net = make_net("numpy", "linear", "mse")
    X, Y = make_data("mse")
    for method in ("backward", "backward_in_place"):
        real = getattr(Tanh, method)
        monkeypatch.setattr(Tanh, method, lambda self, *args, xp, real=real: real(self, *args, xp=xp) * 1.01)
    assert ffnn.gradcheck(net, X, Y).max_error > 1e-3


def test_gradcheck_runs_float32_networks_in_float64() -> None:
    net = make_net("numpy", dtype="float32")
    X, Y = make_data("categorical_crossentropy")
    result = ffnn.gradcheck(net, X, Y, max_per_param=5)
    sizes = [p.size for p in net.get_weights()]
    assert result.max_error < 1e-6 and result.n_checked == sum(min(5, n) for n in sizes)
    assert net.dtype == "float32" and net.layers[0].W.dtype == np.float32


@pytest.mark.parametrize(("output", "loss"), INVALID)
def test_cross_entropy_needs_probability_outputs(output: str, loss: str) -> None:
    with pytest.raises(ValueError, match=f"{loss} needs outputs in \\(0, 1\\).*{output}"):
        make_net("numpy", output, loss)


def _torch_cost(torch, A, Y, loss: str):  # noqa: ANN001, ANN202 - torch is imported lazily
    m = A.shape[1]
    if loss == "mse":
        return ((Y - A) ** 2).sum() / m
    if loss == "binary_crossentropy":
        return -(Y * torch.log(A) + (1 - Y) * torch.log(1 - A)).sum() / m
    return -(Y * torch.log(A)).sum() / m


@pytest.mark.parametrize(("output", "loss"), VALID)
def test_gradients_equal_torch_autograd(backend: Backend, output: str, loss: str) -> None:
    """Oracle: torch autograd on the same weights and data, float64, 1e-10 relative."""
    torch = pytest.importorskip("torch", reason="torch autograd oracle needs torch")
    net = make_net(backend, output, loss)
    X, Y = make_data(loss)
    cost, grads = net.loss_and_gradients(X, Y)
    Yt = torch.from_numpy(to_numpy(net.targets(Y, M)).T.copy())
    params = [torch.tensor(w, requires_grad=True) for w in net.get_weights()]
    A = torch.from_numpy(X.T.copy())
    fns = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
           "softmax": lambda z: torch.softmax(z, dim=0), "linear": lambda z: z}
    for layer, W, b in zip(net.layers, params[::2], params[1::2]):
        A = fns[layer.activation.name](W @ A + b)
    J = _torch_cost(torch, A, Yt, loss)
    J.backward()
    assert cost == pytest.approx(J.item(), rel=1e-12)
    for (dW, db), W, b in zip(grads, params[::2], params[1::2]):
        assert_allclose(dW, W.grad.numpy(), rtol=1e-10, atol=1e-14)
        assert_allclose(db, b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_same_seed_same_weights_on_every_backend(backend: Backend) -> None:
    reference = make_net("numpy", dtype="float32").get_weights()
    here = make_net(backend, dtype="float32").get_weights()
    for a, b in zip(here, reference):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_different_seeds_differ() -> None:
    a = make_net("numpy", seed=1).get_weights()[0]
    b = make_net("numpy", seed=2).get_weights()[0]
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("init", ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform"])
def test_initializer_scales(init: str) -> None:
    """Var(W) = 2/n_in (He) or 2/(n_in + n_out) (Glorot), within sampling error."""
    net = Network([Dense(400, 300, activation="tanh", init=init)], backend="numpy", dtype="float64", seed=0)
    W = net.get_weights()[0]
    expected = 2 / 400 if init.startswith("he") else 2 / 700
    assert W.var() == pytest.approx(expected, rel=0.03)
    assert abs(W.mean()) < 0.01 and np.all(net.get_weights()[1] == 0)


@pytest.mark.parametrize(
    ("activation", "expected"),
    [("relu", "he_normal"), ("leaky_relu", "he_normal"), ("leaky_relu(alpha=0.05)", "he_normal"),
     ("elu", "he_normal"), ("tanh", "glorot_uniform"), ("sigmoid", "glorot_uniform"), ("linear", "glorot_uniform")],
)
def test_default_initializer_is_he_for_rectifiers(activation: str, expected: str) -> None:
    layer = Dense(400, 300, activation=activation)
    assert layer.init.name == expected
    W = Network([layer], backend="numpy", dtype="float64", seed=0).get_weights()[0]
    assert W.var() == pytest.approx(2 / 400 if expected == "he_normal" else 2 / 700, rel=0.03)


def test_extreme_inputs_give_finite_cost_and_gradients(backend: Backend) -> None:
    for output, loss in VALID:
        net = make_net(backend, output, loss, dtype="float32")
        X, Y = make_data(loss)
        cost, grads = net.loss_and_gradients(X * 1e4, Y)
        assert np.isfinite(cost), (output, loss)
        assert all(np.all(np.isfinite(to_numpy(g))) for pair in grads for g in pair), (output, loss)


def test_float32_stays_float32(backend: Backend) -> None:
    net = make_net(backend, "linear", "mse", dtype="float32")
    X, Y = make_data("mse")
    _, grads = net.loss_and_gradients(X, Y)  # float64 inputs are cast, never upcast the network
    assert all(str(to_numpy(g).dtype) == "float32" for pair in grads for g in pair)


def test_nested_lists_are_accepted(backend: Backend) -> None:
    net = make_net(backend, "linear", "mse")
    X, Y = make_data("mse", m=2)
    assert_allclose(net.predict(X.tolist()), net.predict(X))
    assert net.cost(X.tolist(), Y.tolist()) == pytest.approx(net.cost(X, Y), rel=1e-12)


def test_copy_to_other_backend_predicts_the_same(backend: Backend) -> None:
    net = make_net("numpy")
    X, _ = make_data("mse")
    moved = net.copy(backend=backend)
    assert moved.backend == backend
    assert_allclose(moved.predict(X), net.predict(X))


# ---------------------------------------------------------------- documented errors
@pytest.mark.parametrize(
    ("X", "error", "pattern"),
    [
        (np.ones(N_IN), ValueError, r"must be 2-D with shape \(m, 4\).*X.reshape\(1, -1\)"),
        (np.ones((2, 3, N_IN)), ValueError, "must be 2-D"),
        (np.ones((5, 63)), ValueError, "X has 63 features but the network expects 4"),
        (np.ones((0, N_IN)), ValueError, "X has no rows"),
        (np.ones((2, N_IN), dtype=np.int64), TypeError, "X has dtype int64; ffnn needs floating-point inputs"),
        (np.ones((2, N_IN), dtype=bool), TypeError, "needs floating-point inputs"),
        (np.array([[1.0, np.nan, 0.0, 0.0]]), ValueError, "X contains NaN or infinite values"),
        (np.array([[1.0, np.inf, 0.0, 0.0]]), ValueError, "X contains NaN or infinite values"),
        ([[1.0, 2.0], [3.0]], ValueError, "could not be read as a rectangular array"),
        ("abcd", TypeError, "X must be an array or nested lists"),
    ],
)
def test_bad_inputs(backend: Backend, X: object, error: type, pattern: str) -> None:
    net = make_net(backend)
    with pytest.raises(error, match=pattern):
        net.predict(X)


@pytest.mark.parametrize(
    ("loss", "Y", "error", "pattern"),
    [
        ("categorical_crossentropy", np.array([0, 1, 3]), ValueError, r"class labels in \[0, 3\].*3 outputs \(labels 0..2\)"),
        ("categorical_crossentropy", np.array([0, -1, 2]), ValueError, "class labels in"),
        ("categorical_crossentropy", np.array([0, 1]), ValueError, "Y has 2 rows but X has 3"),
        ("categorical_crossentropy", np.full((3, 3), 2.0), ValueError, r"must lie in \[0, 1\]"),
        ("binary_crossentropy", np.full((3, 3), -0.5), ValueError, r"must lie in \[0, 1\]"),
        ("mse", np.ones((3, 2)), ValueError, "Y has 2 columns but the network has 3 outputs"),
        ("mse", np.ones((3, 3, 1)), ValueError, r"must have shape \(3, 3\) or \(3,\)"),
        ("mse", np.array([[np.nan] * 3] * 3), ValueError, "Y contains NaN"),
        ("mse", np.array([["a"] * 3] * 3), TypeError, "targets must be real numbers"),
    ],
)
def test_bad_targets(backend: Backend, loss: str, Y: np.ndarray, error: type, pattern: str) -> None:
    output = {"mse": "linear", "binary_crossentropy": "sigmoid"}.get(loss, "softmax")
    net = make_net(backend, output, loss)
    if Y.dtype.kind == "U" and backend.name != "numpy":
        pytest.skip(f"{backend.name} cannot hold strings at all")
    X, _ = make_data(loss, m=3)
    with pytest.raises(error, match=pattern):
        net.loss_and_gradients(X, Y)


def test_labels_need_a_multi_output_network() -> None:
    net = Network([Dense(N_IN, 1, activation="sigmoid")], loss="mse", backend="numpy", seed=0)
    X, _ = make_data("mse", m=3)
    with pytest.raises(ValueError, match="Y has 3 columns but the network has 1 outputs"):
        net.cost(X, np.ones((3, 3)))


def test_foreign_array_on_other_device_is_refused() -> None:
    torch = pytest.importorskip("torch", reason="needs torch arrays as the foreign library")
    pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    net = make_net(get_backend("array_api_strict", "device1"))
    with pytest.raises(TypeError, match="backends.to_device"):
        net.predict(torch.ones((2, N_IN), dtype=torch.float64))


@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (lambda: Network([]), ValueError, "at least one Dense layer"),
        (lambda: Network([Dense(2, 3), Dense(4, 1)]), ValueError, r"layer 1 expects 4 inputs but layer 0 has 3 outputs"),
        (lambda: Network(["dense"]), TypeError, "layer 0 is a str; Network takes ffnn.Dense layers"),  # type: ignore[list-item]
        (lambda: Dense(0, 3), ValueError, "n_in must be a positive integer, got 0"),
        (lambda: Dense(2, 2.5), ValueError, "n_out must be a positive integer"),  # type: ignore[arg-type]
        (lambda: Dense(2, 2, init="lecun"), ValueError, "unknown initializer 'lecun'; known: he_normal"),
        (lambda: Network([Dense(2, 2)], loss="hinge"), ValueError, "unknown loss 'hinge'"),
        (lambda: Network([Dense(2, 2)], dtype="float16", backend="numpy"), ValueError, "dtype must be one of"),
        (lambda: Network([Dense(2, 2)], backend="numpyy"), ValueError, "unknown backend 'numpyy'"),
    ],
)
def test_bad_construction(build, error: type, pattern: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=pattern):
        build()


def test_set_weights_checks_shapes() -> None:
    net = make_net("numpy")
    weights = net.get_weights()
    with pytest.raises(ValueError, match=r"W\^\[2\] must have shape \(5, 6\), got \(6, 5\)"):
        net.set_weights([weights[0], weights[1], weights[2].T, *weights[3:]])
    with pytest.raises(ValueError, match="expected 8 arrays"):
        net.set_weights(weights[:2])


def test_float_class_labels_get_a_hint() -> None:
    net = make_net("numpy")
    X, _ = make_data("mse", m=3)
    with pytest.raises(ValueError, match=r"class labels must be integers: pass y.astype\(int\)"):
        net.cost(X, np.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
        make_net("numpy", seed=seed)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"eps": 0.0}, r"eps must be a finite number in \(0, 1\)"),
        ({"eps": "small"}, "eps must be a finite number"),
        ({"max_per_param": 0}, "max_per_param must be a positive integer"),
        ({"floor": 0.0}, "floor must be a positive finite number"),
    ],
)
def test_gradcheck_refuses_bad_options(kwargs: dict, pattern: str) -> None:
    X, Y = make_data("categorical_crossentropy")
    with pytest.raises(ValueError, match=pattern):
        ffnn.gradcheck(make_net("numpy"), X, Y, **kwargs)


@pytest.mark.parametrize(
    ("layer", "name", "index", "pattern"),
    [
        (9, "W", (0, 0), "no parameter 'W' in layer 9"),
        (0, "Z", (0, 0), "no parameter 'Z' in layer 0"),
        (0, "W", (6, 0), r"index \(6, 0\) is outside W\^\[1\] of shape \(6, 4\)"),
    ],
)
def test_numerical_partial_refuses_bad_coordinates(layer: int, name: str, index: tuple, pattern: str) -> None:
    X, Y = make_data("categorical_crossentropy")
    with pytest.raises(ValueError, match=pattern):
        ffnn.numerical_partial(make_net("numpy"), X, Y, layer, name, index)


def test_copy_keeps_metadata_without_sharing_it() -> None:
    net = make_net("numpy")
    net.metadata = {"classes": ["a", "b", "c"]}
    clone = net.copy(dtype="float32")
    assert clone.metadata == net.metadata
    clone.metadata["classes"].append("d")
    assert net.metadata["classes"] == ["a", "b", "c"]


def test_release_cache_frees_hidden_activations_only(backend: Backend) -> None:
    net = make_net(backend)
    X, Y = make_data("categorical_crossentropy")
    x, y = net.inputs(X), net.targets(Y, M)
    cache, _ = net.forward_columns(x.T)
    keep = net.backward_columns(cache, y.T)
    cache, _ = net.forward_columns(x.T)
    freed = net.backward_columns(cache, y.T, release_cache=True)
    assert all(a is None for a in cache[1:-1]) and cache[0] is not None and cache[-1] is not None
    for (dW, db), (eW, eb) in zip(freed, keep):
        assert_allclose(dW, eW, rtol=0, atol=0)
        assert_allclose(db, eb, rtol=0, atol=0)
