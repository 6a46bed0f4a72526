"""ffnn.testing: assert_close across libraries, ParityConfig, and compare_backends with its failures."""

from __future__ import annotations

import numpy as np
import pytest

from backends import BackendUnavailableError, backend_status, get_backend
from ffnn.testing import BackendParity, ParityConfig, assert_close, checkpoints, compare_backends
from tests.conftest import make_backend
from tests.helpers import perturb_off_numpy


def unusable_spec() -> tuple[str, str]:
    """A backend spec that cannot run here and the words its reason contains, or a skip."""
    for name in ("cupy", "jax"):
        status = backend_status(name)
        if not status.usable:
            return name, status.reason
    if backend_status("torch").usable and "cuda:0" not in backend_status("torch").devices:
        return "torch:cuda:0", "no usable CUDA device"
    pytest.skip("every backend can run here; nothing to skip")


# ---------------------------------------------------------------------------- assert_close
def test_assert_close_accepts_equal_values_from_different_libraries() -> None:
    make_backend("torch", "cpu")
    host = np.array([[1.5, -2.0], [0.25, 3.0]])
    for name, device in (("torch", "cpu"), ("array_api_strict", "device1")):
        be = get_backend(name, device)
        assert_close(be.asarray(host), host)
        assert_close(host, be.asarray(host))


def test_assert_close_message_gives_largest_differences_and_where() -> None:
    desired = np.array([[1.0, 2.0], [3.0, 4.0]])
    actual = desired.copy()
    actual[1, 0] += 1e-6
    actual[0, 1] += 1e-7
    with pytest.raises(AssertionError) as info:
        assert_close(actual, desired)
    msg = str(info.value)
    abs_diff = actual[1, 0] - desired[1, 0]
    assert f"max abs difference: {abs_diff:.6g} at index (1, 0)" in msg
    assert f"max rel difference: {abs_diff / 4.0:.6g}" in msg
    assert f"max element-wise rel difference: {abs_diff / 3.0:.6g} at index (1, 0)" in msg
    assert "rtol=1e-12" in msg


def test_assert_close_tolerance_follows_the_less_precise_dtype() -> None:
    desired = np.array([1.0, -2.0, 0.5])
    actual = desired * (1 + 1e-6)
    with pytest.raises(AssertionError, match="rtol=1e-12"):
        assert_close(actual, desired)  # float64: 1e-12
    assert_close(actual.astype(np.float32), desired)  # float32 against float64: 1e-5
    assert_close(desired, actual.astype(np.float32))


def test_assert_close_float32_default_is_1e_5() -> None:
    desired = np.array([4.0, 2.0], dtype=np.float32)
    assert_close(desired * np.float32(1 + 5e-6), desired)
    with pytest.raises(AssertionError, match="rtol=1e-05"):
        assert_close(desired * np.float32(1 + 5e-5), desired)


def test_assert_close_float16_default_is_1e_3() -> None:
    desired = np.array([1.0, 0.5], dtype=np.float16)
    one_ulp = np.array([np.nextafter(np.float16(1), np.float16(2)), 0.5], dtype=np.float16)
    assert_close(one_ulp, desired)  # 9.8e-4
    with pytest.raises(AssertionError, match="rtol=0.001"):
        assert_close(np.array([1.002, 0.5], dtype=np.float16), desired)


def test_assert_close_is_normwise_so_cancelled_entries_pass() -> None:
    desired = np.array([1.0, 1e-20])
    actual = np.array([1.0, 3e-20])  # element-wise 200 % off, norm-wise 2e-20
    assert_close(actual, desired)
    with pytest.raises(AssertionError):
        assert_close(actual[1:], desired[1:])  # alone, the entry is its own scale


def test_assert_close_explicit_rtol_and_atol() -> None:
    desired = np.zeros(3)
    actual = np.array([0.0, 1e-30, 0.0])
    with pytest.raises(AssertionError, match=r"max abs difference: 1e-30 at index \(1,\)"):
        assert_close(actual, desired)
    assert_close(actual, desired, atol=1e-20)
    assert_close(np.array([1.1]), np.array([1.0]), rtol=0.2)


def test_assert_close_shapes_must_match() -> None:
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(2,\), desired \(2, 1\)"):
        assert_close(np.zeros(2), np.zeros((2, 1)))


def test_assert_close_nan_and_inf_must_sit_at_the_same_places() -> None:
    assert_close(np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, 1.0]))
    with pytest.raises(AssertionError, match="NaN/inf at different places: 2 of 3"):
        assert_close(np.array([np.nan, 1.0, -np.inf]), np.array([1.0, 1.0, np.inf]))


def test_assert_close_integers_and_scalars() -> None:
    assert_close(np.array([1, 2, 3]), [1, 2, 3])
    with pytest.raises(AssertionError, match="at index \\(2,\\)"):
        assert_close(np.array([1, 2, 3]), np.array([1, 2, 4]))
    assert_close(2.0, 2.0 + 1e-15)
    with pytest.raises(AssertionError, match=r"at index \(\)"):
        assert_close(2.0, 2.0 + 1e-9)


@pytest.mark.parametrize("bad", [-1e-3, "1e-3", float("nan"), True])
def test_assert_close_rejects_bad_tolerances(bad: object) -> None:
    with pytest.raises(ValueError, match="rtol must be a non-negative finite number"):
        assert_close(np.ones(1), np.ones(1), rtol=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atol must be a non-negative finite number"):
        assert_close(np.ones(1), np.ones(1), atol=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- ParityConfig
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sizes": (3,)}, ValueError, "at least two positive integers"),
        ({"sizes": (3, 0)}, ValueError, "at least two positive integers"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"data_seed": 1.5}, ValueError, "data_seed must be a non-negative integer"),
        ({"activation": "mish"}, ValueError, "unknown activation 'mish'"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'"),
        ({"loss": "bce", "output_activation": "relu"}, ValueError, "needs outputs in \\(0, 1\\)"),
        ({"optimizer": "lbfgs"}, ValueError, "lbfgs"),
        ({"optimizer": "sgd", "optimizer_kwargs": {"learning_rate": -1.0}}, ValueError, "learning_rate"),
        ({"optimizer": "sgd", "optimizer_kwargs": {"beta1": 0.9}}, TypeError, "beta1"),
        ({"optimizer_kwargs": [("learning_rate", 0.1)]}, TypeError, "optimizer_kwargs must be a mapping"),
    ],
)
def test_parity_config_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ParityConfig(**kwargs)


def test_parity_config_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown parity config keys \['layers'\]; known: sizes"):
        ParityConfig.from_mapping({"layers": (2, 1)})
    assert ParityConfig.from_mapping({"sizes": [4, 2], "loss": "bce"}).sizes == (4, 2)


def test_parity_config_defaults_the_output_to_the_loss_pairing() -> None:
    assert ParityConfig(loss="mse").output_activation == "linear"
    assert ParityConfig(loss="bce").output_activation == "sigmoid"
    assert ParityConfig(loss="cce").output_activation == "softmax"
    net = ParityConfig(sizes=(4, 3, 2), activation="relu", loss="cce").build("numpy", dtype="float32")
    assert [la.activation.name for la in net.layers] == ["relu", "softmax"]
    assert (net.dtype, net.loss.name, net.seed) == ("float32", "categorical_crossentropy", 0)


def test_parity_config_batches_are_reproducible_and_match_the_loss() -> None:
    first = [b for _, b in zip(range(3), ParityConfig(loss="bce", data_seed=3).batches())]
    again = [b for _, b in zip(range(3), ParityConfig(loss="bce", data_seed=3).batches())]
    other = next(ParityConfig(loss="bce", data_seed=4).batches())
    for (X, Y), (X2, Y2) in zip(first, again):
        assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    assert not np.array_equal(first[0][0], other[0])
    X, Y = first[0]
    assert X.shape == (16, 6) and Y.shape == (16, 3) and set(np.unique(Y)) <= {0.0, 1.0}
    X, Y = next(ParityConfig(loss="cce").batches())
    assert np.array_equal(Y.sum(axis=1), np.ones(16)) and set(np.unique(Y)) == {0.0, 1.0}


def test_checkpoints() -> None:
    assert checkpoints(100) == [0, 1, 25, 50, 75, 100]
    assert checkpoints(2) == [0, 1, 2]
    assert checkpoints(0) == [0]


# ---------------------------------------------------------------------------- compare_backends
def test_compare_backends_identical_library_has_zero_differences() -> None:
    result = compare_backends(("numpy", "array_api_strict:device1"), steps=20)
    run = result.backends["array_api_strict:device1"]
    assert result.passed and run.passed and run.initial_identical and run.first_failure is None
    assert result.reference == "numpy:cpu"
    assert result.parameter_names == ("W1", "b1", "W2", "b2", "W3", "b3")
    assert run.cost_abs.shape == run.cost_rel.shape == (21,)
    assert run.param_abs.shape == run.param_rel.shape == (21, 6)
    assert not run.cost_abs.any() and not run.param_abs.any()  # same NumPy kernels underneath
    assert result.reference_change[0] == 0 and result.reference_change[-1] > 1e-2
    assert np.all(np.isfinite(result.reference_cost)) and result.reference_cost.shape == (21,)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compare_backends_numpy_and_torch_agree(dtype: str) -> None:
    make_backend("torch", "cpu")
    result = compare_backends(
        ["numpy", "torch:cpu"],
        config={"optimizer": "adam", "optimizer_kwargs": {"learning_rate": 0.01}},
        steps=30,
        dtype=dtype,
    )
    run = result.backends["torch:cpu"]
    assert result.passed, result.summary()
    assert result.rtol == {"float64": 1e-10, "float32": 1e-4}[dtype]
    assert run.param_rel.max() <= result.rtol and run.cost_rel.max() <= result.rtol
    assert result.reference_change[-1] > 1e-2


def test_compare_backends_detects_a_drifting_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    perturb_off_numpy(monkeypatch, 1 + 1e-7)
    result = compare_backends(("numpy", "array_api_strict"), steps=5)
    run = result.backends["array_api_strict:cpu"]
    assert not result.passed and not run.passed
    assert run.initial_identical
    assert run.first_failure == (0, "cost")
    assert 1e-9 < run.cost_rel[0] < 1e-5
    assert "FAILED: cost beyond tolerance from step 0" in result.summary()
    loose = compare_backends(("numpy", "array_api_strict"), steps=5, rtol=1e-3)
    assert loose.passed


def test_compare_backends_requires_bit_identical_initial_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ParityConfig.build

    def build(self: ParityConfig, backend: object, **kwargs: object):
        net = original(self, backend, **kwargs)
        if net.backend.name != "numpy":
            weights = net.get_weights()
            weights[0][0, 0] = np.nextafter(weights[0][0, 0], np.inf)
            net.set_weights(weights)
        return net

    monkeypatch.setattr(ParityConfig, "build", build)
    result = compare_backends(("numpy", "array_api_strict"), steps=2)
    (run,) = result.backends.values()
    assert not run.initial_identical and not run.passed and not result.passed
    assert "initial weights DIFFER" in result.summary()


def test_compare_backends_lists_unusable_backends_as_skipped() -> None:
    spec, reason = unusable_spec()
    result = compare_backends(("numpy", spec, "array_api_strict"), steps=2)
    assert list(result.skipped) == [spec]
    assert reason in result.skipped[spec]
    assert len(result.backends) == 1 and result.passed
    assert f"{spec:<22} skipped: " in result.summary()


def test_compare_backends_needs_a_usable_reference() -> None:
    spec, _ = unusable_spec()
    with pytest.raises(BackendUnavailableError, match=f"the reference backend '{spec}' \\(the first one\\)"):
        compare_backends((spec, "numpy"), steps=1)


def test_compare_backends_restores_precision_settings() -> None:
    torch = make_backend("torch", "cpu").module

    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        result = compare_backends(("numpy", "torch:cpu"), steps=1)
        assert any("TF32 off" in line for line in result.precision)
        assert torch.get_float32_matmul_precision() == "high"
        kept = compare_backends(("numpy", "torch:cpu"), steps=1, allow_reduced_precision=True)
        assert kept.precision == ()
    finally:
        torch.set_float32_matmul_precision(before)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"backends": ("numpy", "tensorflow")}, ValueError, "unknown backend 'tensorflow'"),
        ({"backends": ("numpy", "numpy:cpu")}, ValueError, "numpy:cpu is listed twice"),
        ({"backends": ()}, ValueError, "non-empty sequence"),
        ({"backends": "numpy,torch"}, ValueError, "non-empty sequence"),
        ({"backends": ("numpy", 3)}, TypeError, "backends must be names"),
        ({"steps": -1}, ValueError, "steps must be a non-negative integer"),
        ({"steps": True}, ValueError, "steps must be a non-negative integer"),
        ({"dtype": "float16"}, ValueError, "dtype must be one of float64, float32"),
        ({"rtol": -1.0}, ValueError, "rtol must be a non-negative finite number"),
        ({"config": {"sizes": (2, 1), "hidden": 3}}, ValueError, r"unknown parity config keys \['hidden'\]"),
    ],
)
def test_compare_backends_errors(kwargs: dict, error: type, match: str) -> None:
    args = {"config": None, "backends": ("numpy", "array_api_strict"), **kwargs}
    with pytest.raises(error, match=match):
        compare_backends(args.pop("backends"), config=args.pop("config"), **args)


def test_compare_backends_takes_the_backends_first() -> None:
    result = compare_backends(["numpy", "array_api_strict"], steps=1)
    assert result.reference.startswith("numpy") and result.passed
    with pytest.raises(TypeError, match="backends first and the config as a keyword"):
        compare_backends(ParityConfig())  # type: ignore[arg-type]


def test_backend_parity_verdict() -> None:
    zeros = np.zeros(2)
    ok = BackendParity("x:cpu", True, zeros, zeros, np.zeros((2, 2)), np.zeros((2, 2)), None)
    assert ok.passed
    assert not BackendParity("x:cpu", False, zeros, zeros, np.zeros((2, 2)), np.zeros((2, 2)), None).passed
    assert not BackendParity("x:cpu", True, zeros, zeros, np.zeros((2, 2)), np.zeros((2, 2)), (1, "W1")).passed
