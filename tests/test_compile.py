"""Compiled training steps (issue 15 §2): ffnn's own step compiled whole by jax.jit or
torch.compile agrees with the eager step within the README's parity tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from backends import get_backend
from ffnn import Dense, Network
from ffnn.optimizers import SGD, Adam, AdamW
from ffnn.testing import assert_close
from ffnn.training import compile_step, compiled_step, make_step

# README parity table: one forward/backward 1e-5 (float32), 1e-12 (float64); training 1e-4 / 1e-10.
TRAINING_TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


def _net(backend: str, dtype: str = "float32", activation: str = "relu") -> Network:
    layers = [Dense(6, 12, activation=activation), Dense(12, 8, activation="tanh"), Dense(8, 3, activation="softmax")]
    return Network(layers, backend=backend, dtype=dtype, seed=3)


def _data(m: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((m, 6)), rng.integers(0, 3, m)


def _compiler(name: str) -> None:
    backend = pytest.importorskip(name, reason=f"{name} is not installed") and get_backend(name, "cpu")
    assert backend.can_compile


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_optimizer", [lambda: SGD(0.05, momentum=0.9), lambda: Adam(0.01), lambda: AdamW(0.01)],
                         ids=["sgd-momentum", "adam", "adamw"])
def test_jax_compiled_step_agrees_with_eager(dtype: str, make_optimizer: object) -> None:
    _compiler("jax")
    X, y = _data()
    eager, jitted = _net("jax", dtype), _net("jax", dtype)
    opt_e, opt_c = make_optimizer(), make_optimizer()  # type: ignore[operator]
    xb, yb = eager.inputs(X).T, eager.targets(y, X.shape[0]).T
    step_e, step_c = make_step(eager, opt_e), compiled_step(jitted, opt_c)
    pe, pc = eager.named_parameters(), jitted.named_parameters()
    se, sc = opt_e.init(pe, xp=eager.xp), opt_c.init(pc, xp=jitted.xp)
    for _ in range(20):
        pe, se, cost_e, _ = step_e(pe, se, xb, yb)
        pc, sc, cost_c, _ = step_c(pc, sc, xb, yb)
        assert_close(cost_c, cost_e, rtol=TRAINING_TOLERANCE[dtype])
    assert list(pc) == list(pe) and sc["step"] == se["step"] == 20
    for k in pe:
        assert pc[k].dtype == pe[k].dtype
        assert_close(pc[k], pe[k], rtol=TRAINING_TOLERANCE[dtype])
    for slot in opt_c.slot_names:
        assert list(sc[slot]) == list(se[slot])
        for k in pe:
            assert_close(sc[slot][k], se[slot][k], rtol=TRAINING_TOLERANCE[dtype])


def test_jax_fit_compile_matches_eager_fit() -> None:
    _compiler("jax")
    X, y = _data(50)  # batches of 16: the last one (2 rows) compiles a second shape
    eager, jitted = _net("jax"), _net("jax")
    h_e = eager.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(0.05), validation_split=0.2)
    h_c = jitted.fit(X, y, epochs=3, batch_size=16, optimizer=SGD(0.05), validation_split=0.2, compile=True)
    for key in ("train_cost", "val_cost", "train_accuracy"):
        np.testing.assert_allclose(getattr(h_c, key), getattr(h_e, key), rtol=1e-4)
    for a, b in zip(jitted.get_weights(), eager.get_weights()):
        assert_close(a, b, rtol=1e-4)
    assert jitted.optimizer is not None and jitted.optimizer.iterations == eager.optimizer.iterations == 9


def test_compile_step_trains_the_network_in_place() -> None:
    _compiler("jax")
    X, y = _data()
    net, ref = _net("jax"), _net("jax")
    opt, opt_ref = Adam(0.01), Adam(0.01)
    xb, yb = net.inputs(X).T, net.targets(y, X.shape[0]).T
    step = compile_step(net, opt)
    first = float(step(xb, yb))
    from ffnn.training import train_step

    assert first == pytest.approx(float(train_step(ref, opt_ref, xb, yb)), rel=1e-5)
    for _ in range(4):
        step(xb, yb)
        train_step(ref, opt_ref, xb, yb)
    assert opt.iterations == 5
    for a, b in zip(net.get_weights(), ref.get_weights()):
        assert_close(a, b, rtol=1e-4)
    assert not np.allclose(net.get_weights()[0], _net("jax").get_weights()[0])  # it did train


def test_compile_step_follows_rebound_parameters_and_a_changed_structure() -> None:
    """Between calls of a compile_step function, set_weights rebinds the parameters (the
    next step trains the new ones) and a changed loss compiles the step again (the cost
    is the new loss's), both as the eager train_step computes them."""
    _compiler("jax")
    from ffnn.losses import get_loss
    from ffnn.training import train_step

    X, y = _data()
    net, ref = _net("jax"), _net("jax")
    opt, opt_ref = SGD(0.05), SGD(0.05)
    xb, yb = net.inputs(X).T, net.targets(y, X.shape[0]).T
    step = compile_step(net, opt)
    step(xb, yb)
    train_step(ref, opt_ref, xb, yb)
    new = [w * 0.5 for w in net.get_weights()]
    net.set_weights(new)
    ref.set_weights(new)
    assert_close(step(xb, yb), train_step(ref, opt_ref, xb, yb), rtol=1e-5)
    for a, b in zip(net.get_weights(), ref.get_weights()):
        assert_close(a, b, rtol=1e-5)
    net.loss = ref.loss = get_loss("mse")
    assert_close(step(xb, yb), train_step(ref, opt_ref, xb, yb), rtol=1e-5)
    for a, b in zip(net.get_weights(), ref.get_weights()):
        assert_close(a, b, rtol=1e-5)


# torch.compile imports parts of TorchScript that warn about their own deprecation (torch 2.13)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")
def test_torch_compiled_fit_agrees_with_eager() -> None:
    _compiler("torch")
    X, y = _data(32)
    eager, compiled = _net("torch"), _net("torch")
    h_e = eager.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(0.05))
    h_c = compiled.fit(X, y, epochs=2, batch_size=16, optimizer=SGD(0.05), compile=True)
    np.testing.assert_allclose(h_c.train_cost, h_e.train_cost, rtol=1e-4)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        assert_close(a, b, rtol=1e-4)


def test_compile_refused_without_a_compiler() -> None:
    net = _net("numpy")
    assert not net.backend.can_compile
    X, y = _data()
    with pytest.raises(ValueError, match=r"no compiler.*jax"):
        net.fit(X, y, epochs=1, optimizer="sgd", compile=True)
    with pytest.raises(ValueError, match="no compiler"):
        compile_step(net, SGD())


def test_compile_refuses_gradient_reduction() -> None:
    _compiler("jax")
    X, y = _data()
    with pytest.raises(ValueError, match="reduce_gradients"):
        _net("jax").fit(X, y, epochs=1, optimizer="sgd", compile=True, reduce_gradients=lambda g: g)


def test_cli_compile_on_jax_agrees_with_eager(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli_helpers import quiet_result, run, usable

    usable("jax")
    args = ["train", "--dataset", "iris", "--hidden", "5", "--epochs", "3", "--quiet", "--backend", "jax"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    code_c, out_c, err_c = run(capsys, *args, "--compile")
    assert code_c == 0, err_c
    assert quiet_result(out_c)[0] == pytest.approx(quiet_result(out)[0], rel=1e-4)


def test_cli_compile_needs_a_compiler(capsys: pytest.CaptureFixture[str]) -> None:
    from ffnn.cli import EXIT_OK
    from tests.cli_helpers import TINY, assert_short_error, run

    code, _, err = run(capsys, "train", "--dataset", "iris", "--backend", "numpy", "--compile", *TINY)
    assert code != EXIT_OK
    assert_short_error(err, "--compile", "numpy")


def test_compile_with_dropout_is_refused_not_ignored() -> None:
    """The compiled step applies no dropout masks yet: such a fit is refused with the way out."""
    import numpy as np

    import ffnn

    X = np.random.default_rng(0).normal(size=(16, 3))
    net = ffnn.Network(
        [ffnn.Dense(3, 4, activation="tanh"), ffnn.Dense(4, 1, activation="linear")], loss="mse", dropout=0.5, seed=0
    )
    with pytest.raises(ValueError, match="compile=True does not apply dropout masks yet"):
        net.fit(X, X[:, :1], epochs=1, compile=True)
