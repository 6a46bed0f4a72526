"""No implicit host-to-device transfers per batch on JAX (issue 15 §2): the steps of a
fit run under ``jax.transfer_guard("disallow")``; and the helpers behind it."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, constant, fast_calls, get_backend, reductions
from ffnn import Dense, Network
from ffnn.optimizers import SGD, Adam, AdamW, Optimizer
from ffnn.training import loop as loop_module
from ffnn.training import make_step


def _jax() -> object:
    return pytest.importorskip("jax", reason="jax is not installed")


def _net(**options: object) -> Network:
    layers = [Dense(5, 9), Dense(9, 7, activation="relu"), Dense(7, 3, activation="softmax")]
    return Network(layers, backend="jax", seed=1, **options)  # type: ignore[arg-type]


def _data(m: int = 45) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.standard_normal((m, 5)), rng.integers(0, 3, m)


@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_batches_make_no_implicit_transfers(monkeypatch: pytest.MonkeyPatch, shuffle: bool) -> None:
    jax = _jax()
    guarded_epochs = []
    original = loop_module.Loop.train_batches

    def guarded(self: loop_module.Loop) -> object:
        with jax.transfer_guard("disallow"):  # type: ignore[attr-defined]
            out = original(self)
        guarded_epochs.append(True)
        return out

    monkeypatch.setattr(loop_module.Loop, "train_batches", guarded)
    X, y = _data()
    net = _net()
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(0.05), shuffle=shuffle)
    assert len(guarded_epochs) == 2 and history.stop_reason == "completed"
    reference = Network([Dense(5, 9), Dense(9, 7), Dense(7, 3, activation="softmax")], backend="numpy", seed=1)
    reference.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(0.05), shuffle=shuffle)
    np.testing.assert_allclose(history.train_cost, reference.training_state.history.train_cost, rtol=1e-4)


@pytest.mark.parametrize(
    "opt",
    [SGD(0.1), SGD(0.1, momentum=0.9), SGD(0.1, momentum=0.9, nesterov=True), Adam(0.01), AdamW(0.01)],
    ids=["sgd", "momentum", "nesterov", "adam", "adamw"],
)
def test_step_makes_no_implicit_transfers(opt: Optimizer) -> None:
    jax = _jax()
    X, y = _data(16)
    net = _net()
    step = make_step(net, opt)
    xb, yb = net.inputs(X).T, net.targets(y, 16).T
    params = net.named_parameters()
    state = opt.init(params, xp=net.xp)
    with jax.transfer_guard("disallow"):  # type: ignore[attr-defined]
        for _ in range(3):
            params, state, cost, _ = step(params, state, xb, yb)
    assert state["step"] == 3 and np.isfinite(float(cost))


def test_a_python_number_would_be_refused() -> None:
    """The guard does catch what the step avoids (so the tests above can fail)."""
    jax = _jax()
    Z = get_backend("jax").asarray(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(Exception, match=r"(?i)disallowed host-to-device"), jax.transfer_guard("disallow"):  # type: ignore[attr-defined]
        Z * 0.5


def test_constant_is_a_reused_device_scalar_on_jax_and_a_number_elsewhere() -> None:
    _jax()
    Z = get_backend("jax").asarray(np.ones((2, 2), dtype=np.float32))
    c = constant(0.25, Z)
    assert c is constant(0.25, Z)  # made once
    assert tuple(c.shape) == () and c.dtype == Z.dtype and float(c) == 0.25
    torch = pytest.importorskip("torch")
    assert isinstance(constant(0.25, torch.ones(2)), float)


def test_a_jax_constant_first_made_while_tracing_is_a_concrete_array_kept_after_it() -> None:
    """A constant of a concrete array made for the first time inside ``jax.jit`` (ReLU's
    kernel built while a step is traced) is made at once, not traced: the
    table keeps a device array, never a tracer that would leak out of the trace."""
    jax = _jax()
    like = get_backend("jax").asarray(np.ones((2, 3), dtype=np.float32))
    value = 1 / 7919  # held nowhere else

    @jax.jit  # type: ignore[attr-defined]
    def scaled(x):  # type: ignore[no-untyped-def]
        return x * constant(value, like)

    assert np.allclose(np.asarray(scaled(like)), np.float32(value))
    held = constant(value, like)
    assert not isinstance(held, jax.core.Tracer)  # type: ignore[attr-defined]
    assert float(held) == float(np.float32(value)) and held.dtype == like.dtype
    assert np.allclose(np.asarray(like * held), np.float32(value))  # usable outside the trace


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_constants_are_typed_read_only_and_change_no_bit(dtype: str) -> None:
    """NumPy's constants are 0-d arrays of the operand's dtype (typed_constants): made
    once, read-only, and every operation gives the bits the Python number gives."""
    x = np.random.default_rng(3).standard_normal((37, 53)).astype(dtype)
    c = constant(0.1, x)
    assert isinstance(c, np.ndarray) and c.shape == () and c.dtype == x.dtype and c is constant(0.1, x)
    assert not c.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        c += 1
    for value in (0.1, 1 / 3, 1 / 64, 0.0, -2.5):
        k = constant(value, x)
        for typed, plain in ((x * k, x * value), (x - k, x - value), (np.maximum(x, k), np.maximum(x, value)),
                             (x > k, x > value)):
            assert typed.dtype == plain.dtype and typed.tobytes() == plain.tobytes()
    assert constant(0.5, np.arange(3)) == 0.5 and isinstance(constant(0.5, np.arange(3)), float)  # no rounding to 0
    assert constant(2, np.arange(3)).dtype == np.arange(3).dtype
    assert constant(float("inf"), np.arange(3)) == float("inf")  # no OverflowError, no rounding
    assert isinstance(constant(1.0, np.ones(2, dtype=bool)), float)  # a bool dtype keeps the number


def test_negative_zero_and_nan_stay_python_numbers_and_dtypes_get_their_own_constants() -> None:
    """−0.0 equals 0.0 as a key and NaN equals nothing: both stay Python numbers (a held
    +0.0 would flip the sign of a zero result); float32 and float64 operands each get a
    constant of their own dtype for the same number."""
    x32, x64 = np.ones(3, dtype=np.float32), np.ones(3, dtype=np.float64)
    zero = constant(0.0, x32)
    assert isinstance(zero, np.ndarray) and np.signbit(zero) == np.False_
    negative = constant(-0.0, x32)
    assert isinstance(negative, float) and np.signbit(x32 * negative).all()  # +1 · −0 = −0
    assert isinstance(constant(float("nan"), x32), float)
    half32, half64 = constant(0.5, x32), constant(0.5, x64)
    assert half32.dtype == np.float32 and half64.dtype == np.float64 and half32 is not half64
    assert constant(0.5, x32) is half32 and constant(0.5, x64) is half64


def test_an_update_types_the_numbers_that_stay_and_keeps_a_schedule_a_number() -> None:
    """Optimizer.update hands its rule backends.constant's 0-d array of the gradients'
    dtype for each number that was the same at the previous update (a fixed rate,
    momentum, Adam's β1, β2, ε); numbers that change (Adam's bias corrections, a
    schedule's rate) stay Python numbers, and so does everything when the gradients'
    dtypes differ: a float64 parameter beside float32 ones gets the float64 rounding
    of the rate, as a Python number gives it, at every update."""
    from ffnn.schedules import StepDecay

    rng = np.random.default_rng(0)
    g32 = {"W1": rng.standard_normal((3, 2)).astype(np.float32)}
    adam = Adam(0.01)
    for t in (1, 2, 3):
        scalars = adam._typed(adam._scalars(0.01, t), g32)
        stable = [scalars[k] for k in ("lr", "beta1", "beta2", "one_minus_beta1", "one_minus_beta2", "eps")]
        assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in stable) == (t > 1)
        assert all(type(scalars[k]) is float for k in ("step_size", "root_correction"))  # change every update
        assert float(scalars["beta2"]) == float(np.float32(0.999) if t > 1 else 0.999)
    assert type(adam._typed({"lr": 0.01}, {"W1": np.ones(2)})["lr"]) is float  # a new dtype: seen once so far
    for rate in (0.1, StepDecay(0.1, drop=0.5, every=1)):
        opt = SGD(rate)
        params = {"W1": rng.standard_normal((3, 2)).astype(np.float32), "b1": rng.standard_normal((3, 1)),
                  "W2": rng.standard_normal((1, 3)).astype(np.float32)}
        state = opt.init(params)
        for t in range(3):
            grads = {k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in params.items()}
            lr = 0.1 if not isinstance(rate, StepDecay) else rate(t)
            expected = {k: p - g * lr for k, p, g in zip(params, params.values(), grads.values())}
            assert all(type(v) is float for v in opt._typed({"lr": lr}, grads).values())  # mixed dtypes
            params, state = opt.update({k: p.copy() for k, p in params.items()}, dict(grads), state, xp=np)
            for k, p in params.items():
                assert p.dtype == expected[k].dtype
                np.testing.assert_array_equal(p, expected[k])
    same = {k: rng.standard_normal((2, 2)).astype(np.float32) for k in ("W1", "b1")}
    fixed = SGD(0.1)
    fixed._typed({"lr": 0.1}, same)
    assert isinstance(fixed._typed({"lr": 0.1}, same)["lr"], np.ndarray)
    mixed = dict(same, W2=rng.standard_normal((2, 2)))  # after typed updates, a float64 array joins
    assert type(fixed._typed({"lr": 0.1}, mixed)["lr"]) is float
    grads = {k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in mixed.items()}
    expected = mixed["W2"] - grads["W2"] * 0.1
    new, _ = fixed.update({k: p.copy() for k, p in mixed.items()}, dict(grads), {"step": 0}, xp=np)
    np.testing.assert_array_equal(new["W2"], expected)  # the float64 rounding of the rate, not float32's
    decaying = SGD(StepDecay(0.1, drop=0.5, every=1))
    assert all(type(decaying._typed({"lr": decaying.learning_rate_at(t)}, same)["lr"]) is float for t in range(3))


def test_numpy_training_with_typed_numbers_is_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's numbers as 0-d arrays (constants and the optimizer's per-step numbers)
    train to the very bits of Python numbers, with Adam (bias corrections) and SGD."""
    import backends._backend as backend_module
    import ffnn.training.step as step_module

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 5)).astype(np.float32), rng.integers(0, 3, 16)

    def train(typed: bool, make: object) -> list[np.ndarray]:
        monkeypatch.setattr(step_module, "_typed_numbers", lambda spec: typed)
        spec = (backend_module._spec_of(np.ones(1)), True) if typed else None
        monkeypatch.setitem(backend_module._CONSTANT_SPECS, np.ndarray, spec)
        net = Network([Dense(5, 7, activation="relu"), Dense(7, 3, activation="softmax")], backend="numpy",
                      dtype="float32", seed=1)
        opt = make()  # type: ignore[operator]
        step = make_step(net, opt)
        params = net.named_parameters()
        state = opt.init(params, xp=net.xp)
        x, t = net.inputs(X).T, net.targets(y, 16).T
        for _ in range(5):
            params, state, _, _ = step(params, state, x, t)
        assert isinstance(constant(0.5, x), np.ndarray) is typed
        return [np.array(p) for p in params.values()]

    from ffnn.schedules import StepDecay

    rules = (lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01),
             lambda: AdamW(0.01, weight_decay=0.1), lambda: SGD(StepDecay(0.1, drop=0.5, every=2)))
    results = []
    for make in rules:
        typed, plain = train(True, make), train(False, make)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(typed, plain))
        results.append(typed)
    assert not np.array_equal(results[0][0], results[2][0])  # the comparison sees a different rule
    assert not np.array_equal(results[0][0], results[4][0])  # and a learning rate that changes (held numbers renewed)


def test_fast_take_and_argmax_equal_the_standard_functions() -> None:
    """The loop's gather and the predicted classes by the cheapest call: NumPy's array
    methods (no Python frame of numpy.take/argmax), the standard functions elsewhere."""
    x = np.random.default_rng(1).standard_normal((9, 4)).astype(np.float32)
    rows = np.array([3, 0, 8, 3])
    for name in ("numpy", "array_api_strict"):
        be = get_backend(name)
        xp, xd, rd = be.xp, be.asarray(x), be.asarray(rows)
        fast = fast_calls(xp)
        assert fast is fast_calls(xp)  # found once per namespace
        for axis in (0, 1):
            assert np.array_equal(be.to_numpy(fast.argmax(xd, axis)), np.argmax(x, axis=axis))
        assert np.array_equal(be.to_numpy(fast.take(xd, rd, 0)), x[rows])
        assert np.array_equal(be.to_numpy(fast.take(be.asarray(x.T.copy()), rd, 1)), x.T[:, rows])
    assert fast_calls(get_backend("numpy").xp).take is np.ndarray.take


def test_all_finite_is_true_only_when_every_entry_of_every_array_is(backend: Backend) -> None:
    """``fast_calls(xp).all_finite``: NumPy's ufunc form and the standard form of every
    other library, on float and integer arrays, each kind of non-finite value, any position."""
    fast = fast_calls(backend.xp)
    dtype = backend.dtype("float32")
    good = [backend.asarray(np.ones((3, 4)), dtype=dtype), backend.asarray(np.arange(5)), backend.asarray(np.zeros((2, 1)), dtype=dtype)]
    result = fast.all_finite(good)
    assert tuple(result.shape) == () and bool(backend.to_numpy(result))
    for bad in (np.nan, np.inf, -np.inf):
        for where in range(3):
            arrays = list(good)
            if where != 1:  # the integer array cannot hold one
                host = np.ones((3, 4)) if where == 0 else np.zeros((2, 1))
                host.flat[-1] = bad
                arrays[where] = backend.asarray(host, dtype=dtype)
                assert not bool(backend.to_numpy(fast.all_finite(arrays))), (bad, where)


def test_keep_zeroes_where_the_mask_is_false_as_the_cast_product_does(backend: Backend) -> None:
    """``fast_calls(xp).keep(x, mask)`` = x ⊙ astype(mask): the same bits as the product
    with the cast mask (−0.0 for a negative entry dropped, NaN kept as NaN), in place on
    NumPy (NumPy multiplies by the boolean array, with no float copy of the mask)."""
    fast = fast_calls(backend.xp)
    dtype = backend.dtype("float32")
    host = np.array([[1.5, -2.0, np.nan, 0.0], [-0.0, np.inf, -3.0, 4.0]], dtype=np.float32)
    mask = np.array([[True, False, False, True], [False, True, True, False]])
    expected = host * mask.astype(np.float32)
    x = backend.asarray(host, dtype=dtype)
    out = fast.keep(x, backend.asarray(mask))
    got = backend.to_numpy(out)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))  # bit for bit, signs of zeros included
    if backend.name == "numpy":
        assert out is x


def test_stack_of_batch_costs_is_the_standard_stack(backend: Backend) -> None:
    """``fast_calls(xp).stack``: the same values, dtype and shape as ``xp.stack``, for the
    0-d costs a step returns (NumPy scalars on NumPy) and for equal-shape arrays."""
    xp, fast = backend.xp, fast_calls(backend.xp)
    for dtype_name in ("float32", "float64"):
        dtype = backend.dtype(dtype_name)
        x = backend.asarray(np.linspace(-2.0, 3.0, 12).reshape(3, 4), dtype=dtype)
        costs = [xp.sum(x[i, :]) for i in range(3)]  # what a step's cost is on each library
        for items in (costs, [x[i, :] for i in range(3)]):
            got, expected = fast.stack(items), xp.stack(items)
            assert got.dtype == expected.dtype == dtype
            assert tuple(got.shape) == tuple(expected.shape)
            assert np.array_equal(backend.to_numpy(got), backend.to_numpy(expected))


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_argmax_hits_counts_as_argmax_does_with_ties_and_nan(backend: Backend, dtype_name: str) -> None:
    """``fast_calls(xp).argmax_hits(x, classes)`` = Σ_j [argmax_k x[k, j] == classes[j]]:
    the count of ``numpy.argmax`` on the host, for distinct columns (NumPy's faster
    count), and for columns that hold their largest value twice, are uniform (all ties:
    the first row wins), hold NaN or infinities (NumPy falls back to argmax), in the
    integer dtype of the classes."""
    xp, fast = backend.xp, fast_calls(backend.xp)
    rng = np.random.default_rng(5)
    dtype = backend.dtype(dtype_name)
    distinct = rng.random((7, 50))
    tied = distinct.copy()
    tied[3, :10] = tied[5, :10] = 2.0  # the largest value twice: argmax takes row 3
    uniform = np.full((7, 50), 0.25)  # zero weights give uniform outputs: every argmax is 0
    special = distinct.copy()
    special[2, 4], special[6, 9], special[0, 11] = np.nan, np.inf, -np.inf
    mixed = distinct.copy()  # one NaN column and one tied column: m entries at their maximum in all
    mixed[2, 4] = np.nan
    mixed[3, 7] = mixed[5, 7] = 2.0
    for host in (distinct, tied, uniform, special, mixed):
        for classes_host in (rng.integers(0, 7, 50), np.argmax(host, axis=0), np.full(50, 3), np.zeros(50, int)):
            expected = int(np.sum(np.argmax(host.astype(dtype_name), axis=0) == classes_host))
            x = backend.asarray(host, dtype=dtype)
            classes = xp.argmax(x, axis=0)  # the integer dtype argmax gives
            classes = xp.astype(backend.asarray(classes_host), classes.dtype)
            got = fast.argmax_hits(x, classes)
            assert tuple(got.shape) == ()
            assert got.dtype == classes.dtype
            assert int(backend.to_numpy(got)) == expected, (host[:, :3], classes_host[:3])


@pytest.mark.parametrize("dtype_name", ["float32", "float64", "int64"])
def test_extrema_are_the_smallest_and_largest_entry_with_nan_propagated(backend: Backend, dtype_name: str) -> None:
    """``fast_calls(xp).extrema(x)`` = [min x, max x] as one 1-D array of x's dtype, for
    1-D and 2-D arrays, ±inf kept, and NaN in either result when any entry is NaN."""
    fast = fast_calls(backend.xp)
    rng = np.random.default_rng(8)
    hosts = [rng.standard_normal((9, 13)) * 50, rng.standard_normal(17) * 3, np.array([[4.0]])]
    if dtype_name != "int64":
        inf = hosts[0].copy()
        inf[2, 3], inf[7, 1] = np.inf, -np.inf
        hosts.append(inf)
    for host in hosts:
        host = host.astype(dtype_name)
        x = backend.asarray(host)  # the host dtype, integers included
        got = fast.extrema(x)
        assert tuple(got.shape) == (2,)
        assert got.dtype == x.dtype
        assert backend.to_numpy(got).tolist() == [host.min(), host.max()]
    if dtype_name != "int64":
        for where in ((0, 0), (4, 6), (8, 12)):
            host = hosts[0].astype(dtype_name)
            host[where] = np.nan
            got = backend.to_numpy(fast.extrema(backend.asarray(host)))
            assert np.isnan(got).all(), where


def test_numpy_reductions_are_bit_identical_to_the_standard_functions() -> None:
    xp = get_backend("numpy").xp
    x = np.random.default_rng(0).standard_normal((37, 53)).astype(np.float32)
    sum_along, max_along = reductions(xp)
    for axis in (0, 1):
        assert np.array_equal(sum_along(x, axis), xp.sum(x, axis=axis, keepdims=True))
        assert np.array_equal(max_along(x, axis), xp.max(x, axis=axis, keepdims=True))
    strict = get_backend("array_api_strict").xp
    y = strict.asarray(x)
    assert np.array_equal(np.asarray(reductions(strict)[0](y, 1)), np.asarray(strict.sum(y, axis=1, keepdims=True)))
