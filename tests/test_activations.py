"""Activations: P2 forward/backward rules, their Jacobians (L6) and extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest

from backends import Backend, to_numpy
from ffnn import activations, jacobians
from ffnn.activations import get_activation
from tests.helpers import assert_allclose, assert_on_backend

NAMES = ["relu", "sigmoid", "tanh", "softmax", "linear", "leaky_relu", "elu", "softplus", "silu", "gelu_tanh"]
E_NAMES = ["leaky_relu", "elu", "softplus", "silu", "gelu_tanh", "leaky_relu(alpha=0.3)", "elu(alpha=0.5)"]


def _reference(name: str, z: np.ndarray) -> np.ndarray:
    """The seeds' formulas written directly with NumPy in float64."""
    if name == "relu":
        return np.maximum(0.0, z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=0, keepdims=True)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.exp(z) - 1)
    if name == "softplus":
        return np.log(1 + np.exp(z))
    if name == "silu":
        return z / (1 + np.exp(-z))
    if name == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    return z


@pytest.fixture
def z_host() -> np.ndarray:
    return np.random.default_rng(0).normal(scale=2.0, size=(4, 6))


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_seed_formula(backend: Backend, name: str, z_host: np.ndarray) -> None:
    xp = backend.xp
    A = get_activation(name).forward(backend.asarray(z_host), xp=xp)
    assert_on_backend(A, backend, (4, 6), "float64")
    assert_allclose(A, _reference(name, z_host))


@pytest.mark.parametrize("name", NAMES)
def test_backward_equals_jacobian_product(backend: Backend, name: str, z_host: np.ndarray) -> None:
    """P2's vectorized rule equals vec(dJ/dZ) = Jᵀ vec(dJ/dA) with the explicit L6/P2 Jacobian."""
    xp = backend.xp
    g = get_activation(name)
    A = g.forward(backend.asarray(z_host), xp=xp)
    dA = backend.asarray(np.random.default_rng(1).normal(size=(4, 6)))
    Z = backend.asarray(z_host)
    dZ = g.backward(dA, A, Z, xp=xp)
    J = jacobians.batch_activation_jacobian(g, A, Z, xp=xp)
    expected = xp.reshape(J.T @ jacobians.vec(dA, xp=xp), (6, 4)).T
    assert_on_backend(dZ, backend, (4, 6), "float64")
    assert_allclose(dZ, expected)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", *E_NAMES])
def test_jacobian_matches_finite_differences(name: str) -> None:
    """The explicit one-example Jacobian against central differences of the forward (numpy)."""
    from backends import get_backend

    xp = get_backend("numpy").xp
    g = get_activation(name)
    z = np.array([0.3, -1.2, 2.0])
    J = g.jacobian(g.forward(z[:, None], xp=xp)[:, 0], z, xp=xp)
    h = 1e-6
    numeric = np.stack(
        [(g.forward((z + h * e)[:, None], xp=xp) - g.forward((z - h * e)[:, None], xp=xp))[:, 0] / (2 * h) for e in np.eye(3)],
        axis=1,
    )
    np.testing.assert_allclose(J, numeric, rtol=1e-7, atol=1e-9)


def test_relu_derivative_at_zero_is_zero(backend: Backend) -> None:
    """P2 uses I(z > 0): no gradient flows through z == 0."""
    xp = backend.xp
    relu = get_activation("relu")
    A = relu.forward(backend.asarray([[0.0, 1.0, -1.0]]), xp=xp)
    dZ = relu.backward(backend.asarray([[5.0, 5.0, 5.0]]), A, xp=xp)
    assert to_numpy(dZ).tolist() == [[0.0, 5.0, 0.0]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_stay_finite(backend: Backend, name: str, dtype: str) -> None:
    """|z| up to 1e4 overflows nothing: outputs and gradients are finite and in range."""
    xp = backend.xp
    Z = backend.asarray([[1e4, -1e4, 0.0], [-1e4, 1e4, 50.0]], dtype=backend.dtype(dtype))
    g = get_activation(name)
    A = g.forward(Z, xp=xp)
    dZ = g.backward(xp.ones_like(A), A, Z, xp=xp)
    a, d = to_numpy(A), to_numpy(dZ)
    assert a.dtype == np.dtype(dtype) and d.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    if name in ("sigmoid", "softmax"):
        assert np.all((a >= 0) & (a <= 1))
    if name == "sigmoid":
        assert a[0, 0] == 1.0 and a[0, 1] == 0.0
    if name in ("leaky_relu", "elu", "softplus", "silu", "gelu_tanh"):
        assert a[0, 0] == 1e4 and d[0, 0] == 1.0  # identity far right, slope 1
        expected_left = {"leaky_relu": -100.0, "elu": -1.0}.get(name, 0.0)
        assert a[0, 1] == pytest.approx(expected_left) and d[0, 1] == pytest.approx({"leaky_relu": 0.01}.get(name, 0.0), abs=1e-7)
    if name == "softmax":
        np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-6)


def test_unknown_activation_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown activation 'mish'; known: relu, sigmoid, tanh, softmax, linear, leaky_relu"):
        get_activation("mish")


def test_activation_must_be_name_or_object() -> None:
    with pytest.raises(TypeError, match="activation must be a name"):
        get_activation(42)  # type: ignore[arg-type]


def test_registry_returns_shared_instances() -> None:
    assert get_activation("identity") is get_activation("linear")
    assert isinstance(get_activation("Softmax"), activations.Softmax)


@pytest.mark.parametrize("name", NAMES)
def test_backward_in_place_equals_backward(backend: Backend, name: str, z_host: np.ndarray) -> None:
    """The buffer-reusing rule of the training path gives P2's values exactly."""
    xp = backend.xp
    g = get_activation(name)
    A = g.forward(backend.asarray(z_host), xp=xp)
    dA = backend.asarray(np.random.default_rng(2).normal(size=(4, 6)))
    Z = backend.asarray(z_host)
    expected = g.backward(dA, A, Z, xp=xp)
    got = g.backward_in_place(backend.asarray(to_numpy(dA)), A, Z, xp=xp)
    assert_on_backend(got, backend, (4, 6), "float64")
    assert_allclose(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", [n for n in NAMES if not get_activation(n).needs_z])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_compute_forward_and_backward_in_place_bit_for_bit(
    backend: Backend, name: str, dtype: str, z_host: np.ndarray
) -> None:
    """The plain training pass's functions of the arrays alone (ReLU's with its 0 made
    once) give what the methods give, in the same dtype, on every backend."""
    xp = backend.xp
    g = get_activation(name)
    Z = backend.asarray(z_host, dtype=backend.dtype(dtype))
    forward, backward_in_place = g.kernels(Z, xp=xp)
    A = g.forward(Z, xp=xp)
    got_A = forward(Z)
    assert_on_backend(got_A, backend, (4, 6), dtype)
    assert np.array_equal(to_numpy(got_A), to_numpy(A))
    dA_host = np.random.default_rng(2).normal(size=(4, 6))
    expected = g.backward_in_place(backend.asarray(dA_host, dtype=backend.dtype(dtype)), A, None, xp=xp)
    got = backward_in_place(backend.asarray(dA_host, dtype=backend.dtype(dtype)), A)
    assert_on_backend(got, backend, (4, 6), dtype)
    assert np.array_equal(to_numpy(got), to_numpy(expected))


def test_softmax_log_kernel_is_forward_log_bit_for_bit(backend: Backend, z_host: np.ndarray) -> None:
    xp = backend.xp
    Z = backend.asarray(z_host * 40)  # large enough that some entries of A underflow
    A, log_A = activations.Softmax.forward_log(Z, xp=xp)
    got_A, got_log_A = activations.Softmax().log_kernel(Z, xp=xp)(Z)
    assert np.array_equal(to_numpy(got_A), to_numpy(A))
    assert np.array_equal(to_numpy(got_log_A), to_numpy(log_A))
    assert np.all(np.isfinite(to_numpy(got_log_A)))

    class Shifted(activations.Softmax):
        @staticmethod
        def forward_log(Z, /, *, xp):  # type: ignore[no-untyped-def]
            A, log_A = activations.Softmax.forward_log(Z, xp=xp)
            return A, log_A - 1.0

    _, shifted = Shifted().log_kernel(Z, xp=xp)(Z)
    assert np.array_equal(to_numpy(shifted), to_numpy(log_A) - 1.0)


def test_a_relu_subclass_that_redefines_its_rule_gets_kernels_that_run_it() -> None:
    """ReLU's own kernels state P2 (1)/(2) directly, so a subclass with its own forward or
    backward must not inherit them: its kernels call its methods."""

    class Capped(activations.ReLU):
        def forward(self, Z, /, *, xp):  # type: ignore[no-untyped-def]
            return xp.minimum(xp.maximum(Z, 0.0), 1.0)

    class Halved(activations.ReLU):
        def backward_in_place(self, dA, A, Z=None, /, *, xp):  # type: ignore[no-untyped-def]
            return dA * 0.5

    Z = np.array([[-1.0, 0.5, 3.0]])
    forward, _ = Capped().kernels(Z, xp=np)
    assert forward(Z).tolist() == [[0.0, 0.5, 1.0]]
    _, backward = Halved().kernels(Z, xp=np)
    assert backward(np.ones_like(Z), Z).tolist() == [[0.5, 0.5, 0.5]]
    forward, backward = activations.ReLU().kernels(Z, xp=np)
    assert forward(Z).tolist() == [[0.0, 0.5, 3.0]]
    assert backward(np.ones_like(Z), forward(Z)).tolist() == [[0.0, 1.0, 1.0]]


def _torch_activation(torch, spec: str):
    """torch's own implementation of each E activation (an independent oracle)."""
    F = torch.nn.functional
    g = get_activation(spec)
    return {
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=getattr(g, "alpha", 0.0)),
        "elu": lambda z: F.elu(z, alpha=getattr(g, "alpha", 1.0)),
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),  # F.softplus returns z above z = 20
        "silu": F.silu,
        "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    }[g.name]


@pytest.mark.parametrize("spec", E_NAMES)
def test_e_activations_equal_torch_autograd(backend: Backend, spec: str) -> None:
    """Oracle: forward and dJ/dZ = dJ/dA ⊙ g'(Z) (MATH.md §9) against torch's own
    functions and autograd, float64, on every backend (z = 0 avoided: the kink)."""
    torch = pytest.importorskip("torch", reason="torch autograd oracle needs torch")
    xp = backend.xp
    rng = np.random.default_rng(4)
    z_host = rng.normal(scale=3.0, size=(5, 8))
    dA_host = rng.normal(size=(5, 8))
    g = get_activation(spec)
    Z = backend.asarray(z_host)
    A = g.forward(Z, xp=xp)
    dZ = g.backward(backend.asarray(dA_host), A, Z if g.needs_z else None, xp=xp)
    zt = torch.tensor(z_host, requires_grad=True)
    at = _torch_activation(torch, spec)(zt)
    at.backward(torch.from_numpy(dA_host))
    assert_on_backend(dZ, backend, (5, 8), "float64")
    assert_allclose(A, at.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert_allclose(dZ, zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", E_NAMES)
def test_e_activations_match_torch_over_a_wide_range(spec: str, dtype: str) -> None:
    """Values and slopes stay accurate from −1e4 to 1e4 in both precisions (not only finite)."""
    torch = pytest.importorskip("torch", reason="torch oracle needs torch")
    from backends import get_backend

    xp = get_backend("numpy").xp
    z = np.concatenate([-np.logspace(4, -3, 40), np.logspace(-3, 4, 40)]).astype(dtype)[None, :]
    g = get_activation(spec)
    A = g.forward(z, xp=xp)
    d = g.derivative(A, z, xp=xp)
    zt = torch.tensor(z.astype(np.float64), requires_grad=True)
    at = _torch_activation(torch, spec)(zt)
    at.sum().backward()
    tol = {"float32": 2e-6, "float64": 1e-12}[dtype]
    assert A.dtype == np.dtype(dtype) and d.dtype == np.dtype(dtype)
    np.testing.assert_allclose(A, at.detach().numpy(), rtol=tol * 4, atol=tol)
    np.testing.assert_allclose(d, zt.grad.numpy(), rtol=tol * 4, atol=tol)


@pytest.mark.parametrize("name", ["silu", "gelu_tanh"])
def test_activations_that_need_z_say_so(backend: Backend, name: str) -> None:
    """§9: SiLU and GELU cannot differentiate from A alone; without Z they refuse clearly."""
    g = get_activation(name)
    assert g.needs_z
    A = g.forward(backend.asarray([[0.5]]), xp=backend.xp)
    with pytest.raises(ValueError, match=f"the {name} backward needs Z"):
        g.backward(backend.asarray([[1.0]]), A, xp=backend.xp)


def test_only_silu_and_gelu_need_z() -> None:
    needing = sorted({n for n in activations.ACTIVATIONS.names() if get_activation(n).needs_z})
    assert needing == ["gelu", "gelu_tanh", "silu", "swish"]


@pytest.mark.parametrize(
    ("spec", "config", "text"),
    [
        ("leaky_relu", {"name": "leaky_relu", "alpha": 0.01}, "leaky_relu"),
        ("leaky_relu(alpha=0.2)", {"name": "leaky_relu", "alpha": 0.2}, "leaky_relu(alpha=0.2)"),
        ({"name": "elu", "alpha": 0.5}, {"name": "elu", "alpha": 0.5}, "elu(alpha=0.5)"),
        ("ELU", {"name": "elu", "alpha": 1.0}, "elu"),
        ("gelu", {"name": "gelu_tanh"}, "gelu_tanh"),
        ("swish", {"name": "silu"}, "silu"),
        ("softplus", {"name": "softplus"}, "softplus"),
    ],
)
def test_config_and_spec_round_trip(spec: object, config: dict, text: str) -> None:
    """get_config / spec (what a model file stores) give back an equal activation."""
    g = get_activation(spec)  # type: ignore[arg-type]
    assert g.get_config() == config and g.spec == text
    assert get_activation(g.get_config()) == g and get_activation(g.spec) == g
    assert get_activation("leaky_relu(alpha=0.2)") != get_activation("leaky_relu")


def test_alpha_changes_the_function(backend: Backend) -> None:
    xp = backend.xp
    Z = backend.asarray([[-2.0, 3.0]])
    assert to_numpy(get_activation("leaky_relu(alpha=0.25)").forward(Z, xp=xp)).tolist() == [[-0.5, 3.0]]
    assert_allclose(get_activation({"name": "elu", "alpha": 2.0}).forward(Z, xp=xp), [[2 * (np.exp(-2) - 1), 3.0]])


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("leaky_relu(alpha=-1)", "leaky_relu alpha must be a positive finite number, got -1.0"),
        ("elu(alpha=inf)", "elu alpha must be a positive finite number"),
        ("elu(alpha=x)", "alpha must be a number, got 'x'"),
        ("relu(alpha=0.1)", "activation 'relu' takes no parameters"),
        ("leaky_relu(beta=0.1)", "cannot read activation"),
        ({"name": "elu", "beta": 1}, "activation 'elu' takes only 'alpha'"),
        ({"name": "mish", "alpha": 1}, "unknown activation 'mish'"),
    ],
)
def test_bad_parameterised_specs(spec: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern.replace("(", r"\(").replace(")", r"\)")):
        get_activation(spec)  # type: ignore[arg-type]


def test_config_without_a_name_is_refused() -> None:
    with pytest.raises(TypeError, match="an activation config needs a 'name' string"):
        get_activation({"alpha": 0.1})
