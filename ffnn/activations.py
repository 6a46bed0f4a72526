"""Activation functions g: forward P2 (1)(3)(5)(7) and E (1)–(6), backward P2 (2)(4)(6)(8)
and E, Jacobians (L6).

Arrays use the seeds' layout: one example per COLUMN, shape (n, m). The backward rule
of every activation of P2, and of leaky ReLU, ELU and softplus (E), needs only the
cached output ``A`` (MATH.md §5, §9). SiLU and GELU need Z as well: they set
``needs_z = True`` and the layer caches Z^[l] for them only.

Protocol (what a layer calls):

- ``forward(Z, *, xp) -> A``
- ``backward(dA, A, Z=None, *, xp) -> dZ`` and ``backward_in_place(dA, A, Z=None, *, xp)``
  (may overwrite ``dA``); ``Z`` is required when ``needs_z`` is True and ignored otherwise.
- ``derivative(A, Z=None, *, xp)`` (element-wise g'(z)), ``jacobian(a, z=None, *, xp)``.
- ``name`` (registry name), ``spec`` (name with its parameters, e.g.
  ``"leaky_relu(alpha=0.2)"``, accepted back by :func:`get_activation`) and
  ``get_config()`` (a JSON-ready dict, also accepted back).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from backends import caster, constant, device_of, fast_calls, reductions

from ._numerics import softmax_and_log, softmax_and_log_of
from ._registry import Registry
from ._types import Array, Namespace
from ._validation import Interval

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "Activation",
    "GELUTanh",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
]


class Activation:
    """Base class: a layer's g^[l] with its forward, backward and Jacobian.

    Subclasses implement :meth:`forward` and :meth:`backward`, and either
    :meth:`derivative` (element-wise g) or :meth:`jacobian` (coupled g, softmax).

    Attributes
    ----------
    name : str
        Registry name.
    elementwise : bool
        g acts on each entry alone, so ∂a/∂z = diag(g'(z)) (L6).
    needs_z : bool
        backward needs Z^[l] besides A^[l] (MATH.md §9): the layer must cache Z.
    """

    name: str = ""
    elementwise: bool = True
    needs_z: bool = False

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        """A = g(Z), shape (n, m) → (n, m)."""
        raise NotImplementedError

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        """dJ/dZ from the upstream dJ/dA and the cached A (and Z when :attr:`needs_z`),
        all (n, m). Element-wise g: dJ/dA ⊙ g'(Z) (P1 (18), MATH.md §5, §9)."""
        return dA * self.derivative(A, Z, xp=xp)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        """:meth:`backward` allowed to overwrite ``dA`` (a buffer the caller owns and
        no longer needs); returns dJ/dZ, which may be ``dA`` itself.

        The network's backward pass uses it on the fresh W^[l]ᵀ dZ^[l] product, so
        that each layer allocates no second (n, m) array. The default falls back to
        :meth:`backward`.
        """
        return self.backward(dA, A, Z, xp=xp)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        """g'(z) element-wise, from a = g(z) (and z when :attr:`needs_z`)."""
        raise NotImplementedError

    def kernels(self, like: Array, /, *, xp: Namespace) -> tuple[Callable[[Array], Array], Callable[..., Array]]:
        """``(forward(Z), backward_in_place(dA, A))``: :meth:`forward` (A = g(Z)) and
        :meth:`backward_in_place` (dJ/dZ = dJ/dA ⊙ g'(Z), written into ``dA``), without Z,
        as functions of the arrays alone (all (n^[l], m)), for arrays of namespace ``xp``
        with ``like``'s dtype and device. The training pass
        of a network whose activations do not read Z
        (:meth:`ffnn.network.Passes.train_plain`) calls them at every batch. The
        default binds ``xp``; a subclass may return functions with its constants made
        once (ReLU's 0), computing the same values, bit for bit."""
        return functools.partial(self.forward, xp=xp), functools.partial(self.backward_in_place, xp=xp)

    def output_bound(self, bound: float, /) -> float | None:
        """A number β with |g(z)| ≤ β for every |z| ≤ ``bound`` (and a computation of g
        that stays finite there), or None when the activation states none.

        Training uses it to prove, from the sizes of the weights and inputs alone,
        that a network's predictions are finite (:meth:`ffnn.training.Loop.verify`);
        None makes it run the network on the data instead.
        """
        return None

    def jacobian(self, a: Array, z: Array = None, /, *, xp: Namespace) -> Array:
        """∂a/∂z for ONE example, a 1-D output ``a`` of length n (and its 1-D ``z``
        when :attr:`needs_z`) → (n, n) matrix.

        Element-wise g give diag(g'(z)) (L6); softmax gives diag(a) − a aᵀ (P2).
        """
        return _diag(self.derivative(a, z, xp=xp), xp=xp)

    def get_config(self) -> dict[str, Any]:
        """A JSON-ready description, ``{"name": ..., **parameters}``, that
        :func:`get_activation` turns back into an equal activation."""
        return {"name": self.name}

    @property
    def spec(self) -> str:
        """The name with any non-default parameters, e.g. ``"leaky_relu(alpha=0.2)"``;
        :func:`get_activation` accepts it back."""
        params = {k: v for k, v in self.get_config().items() if k != "name"}
        defaults = type(self)().get_config() if params else {}
        changed = {k: v for k, v in params.items() if defaults.get(k) != v}
        if not changed:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({params})"


def _diag(v: Array, /, *, xp: Namespace) -> Array:
    """Diagonal matrix with 1-D ``v`` on its diagonal (L6's diag)."""
    n = v.shape[0]
    eye = xp.eye(n, dtype=v.dtype, device=device_of(v))
    return eye * xp.reshape(v, (1, n))


def _sigmoid(Z: Array, /, *, xp: Namespace) -> Array:
    """σ(Z) by the two-branch form: no exp ever overflows (MATH.md §5)."""
    e = xp.exp(-xp.abs(Z))
    r = 1 / (1 + e)
    return xp.where(Z >= 0, r, e * r)


def _need_z(g: Activation, Z: Array) -> Array:
    if Z is None:
        msg = (
            f"the {g.name} backward needs Z (MATH.md §9: g'(z) cannot be computed from A alone); "
            f"cache Z^[l] for layers whose activation has needs_z = True and pass it as backward(dA, A, Z)"
        )
        raise ValueError(msg)
    return Z


class ReLU(Activation):
    """ReLU, P2 (1): A = max(0, Z); P2 (2): dJ/dZ = dJ/dA ⊙ I(Z > 0).

    I(Z > 0) equals I(A > 0), so backward needs only A. At z = 0 the derivative
    is 0: ffnn keeps P2's I(z > 0), while L6 writes z ≥ 0 (MATH.md §5); the two
    differ only on the measure-zero set z = 0, where ReLU has no derivative.
    """

    name = "relu"

    # The 0 is backends.constant's: a Python number, or for JAX a device scalar made
    # once (a Python number would be a host-to-device transfer at every call).
    def output_bound(self, bound: float, /) -> float:
        return bound  # |max(0, z)| ≤ |z|

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.maximum(Z, constant(0.0, Z))

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        # A product with the 0/1 indicator rather than xp.where: NumPy's where branches
        # per element and runs about 10× slower than the compare, cast and multiply.
        zero = constant(0.0, A)
        return dA * caster(xp)(A > zero, dA.dtype)  # noqa: SIM300

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        # dA ⊙ I(A > 0) in place; NumPy multiplies by the boolean array (no float copy of
        # the mask: on a hidden layer that copy was the training step's peak memory)
        return fast_calls(xp).keep(dA, A > constant(0.0, A))  # noqa: SIM300

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        zero = constant(0.0, A)
        return xp.astype(A > zero, A.dtype)  # noqa: SIM300

    def kernels(self, like: Array, /, *, xp: Namespace) -> tuple[Callable[[Array], Array], Callable[..., Array]]:
        """:meth:`Activation.kernels`: P2 (1) and the in-place P2 (2) with their 0 (from
        :func:`backends.constant`, in ``like``'s dtype) and the namespace's calls found
        once; the same operations as :meth:`forward` and :meth:`backward_in_place`.
        A subclass that redefines either method gets the default."""
        if type(self).forward is not ReLU.forward or type(self).backward_in_place is not ReLU.backward_in_place:
            return super().kernels(like, xp=xp)
        zero, maximum, keep = constant(0.0, like), xp.maximum, fast_calls(xp).keep

        def forward(Z: Array) -> Array:
            return maximum(Z, zero)

        def backward_in_place(dA: Array, A: Array) -> Array:
            return keep(dA, A > zero)  # noqa: SIM300

        return forward, backward_in_place


class Sigmoid(Activation):
    """Sigmoid, P2 (3): A = 1 / (1 + exp(−Z)); P2 (4): dJ/dZ = dJ/dA ⊙ A ⊙ (1 − A).

    Evaluated as e = exp(−|Z|), A = 1/(1+e) for Z ≥ 0 and e/(1+e) otherwise, so no
    exp ever overflows.
    """

    name = "sigmoid"

    def output_bound(self, bound: float, /) -> float:
        return 1.0  # exp(−|z|) never overflows

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return _sigmoid(Z, xp=xp)

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return dA * A * (1 - A)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= A
        dA *= 1 - A
        return dA

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return A * (1 - A)


class Tanh(Activation):
    """tanh, P2 (5): A = tanh(Z); P2 (6): dJ/dZ = dJ/dA ⊙ (1 − A ⊙ A)."""

    name = "tanh"

    def output_bound(self, bound: float, /) -> float:
        return 1.0

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.tanh(Z)

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return dA * (1 - A * A)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= 1 - A * A
        return dA

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return 1 - A * A


class Softmax(Activation):
    """Softmax over each column, P2 (7): A = exp(Z) / Σ_{axis=0} exp(Z).

    The column maximum is subtracted before exp (same value, no overflow).
    Backward, P2 (8): dJ/dZ = A ⊙ (dJ/dA − Σ_{axis=0} (dJ/dA ⊙ A)).
    Jacobian (P2): ∂a/∂z = diag(a) − a aᵀ.
    """

    name = "softmax"
    elementwise = False

    def output_bound(self, bound: float, /) -> float:
        return 1.0  # exp(z − max) ≤ 1 and the column sum is ≥ 1

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        sum_along, max_along = reductions(xp)  # xp.sum / xp.max with keepdims, by their cheapest call
        E = xp.exp(Z - max_along(Z, 0))
        E /= sum_along(E, 0)
        return E

    # forward_log(Z, *, xp) -> (A, log A): P2 (7)'s softmax, equal to forward, and from the
    # same terms log A = (Z − max) − log Σ_{axis=0} exp(Z − max), finite even where A
    # underflows to 0. Training reads P3 (4)'s cross-entropy from it (MATH.md §4). The
    # function itself, not a method calling it: one call less per training step.
    forward_log = staticmethod(softmax_and_log)

    def log_kernel(self, like: Array, /, *, xp: Namespace) -> Callable[[Array], tuple[Array, Array]]:
        """:meth:`forward_log` as a function of Z alone, like :meth:`Activation.kernels`
        (:func:`~ffnn._numerics.softmax_and_log_of`: the namespace's calls found once);
        a subclass that redefines :meth:`forward_log` gets it with ``xp`` bound."""
        if type(self).forward_log is not Softmax.forward_log:
            return functools.partial(self.forward_log, xp=xp)
        return softmax_and_log_of(xp)

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return A * (dA - xp.sum(dA * A, axis=0, keepdims=True))

    def jacobian(self, a: Array, z: Array = None, /, *, xp: Namespace) -> Array:
        col = xp.reshape(a, (a.shape[0], 1))
        return _diag(a, xp=xp) - col * xp.reshape(a, (1, a.shape[0]))


class Linear(Activation):
    """Identity: A = Z; dJ/dZ = dJ/dA (the output layer of a regression)."""

    name = "linear"

    def output_bound(self, bound: float, /) -> float:
        return bound

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return Z

    def backward(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return dA

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return dA

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return xp.ones_like(A)


def _check_alpha(name: str, alpha: Any) -> float:
    return Interval(0, None, closed="neither").check(alpha, f"{name} alpha")


class LeakyReLU(Activation):
    """Leaky ReLU, E (1): a = z if z > 0 else αz; g'(z) = 1 if z > 0 else α (MATH.md §9).

    Backward from A alone: a > 0 ⇔ z > 0 (α > 0). At z = 0 the slope is α, as ReLU's
    is 0 there (P2's I(z > 0)).

    Parameters
    ----------
    alpha : float, default 0.01
        The slope for z ≤ 0, > 0.
    """

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = _check_alpha(self.name, alpha)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "alpha": self.alpha}

    def output_bound(self, bound: float, /) -> float:
        return max(1.0, self.alpha) * bound

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.where(Z > 0, Z, Z * self.alpha)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return self.alpha + (1 - self.alpha) * xp.astype(A > 0, A.dtype)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= self.derivative(A, xp=xp)
        return dA


class ELU(Activation):
    """ELU, E (2): a = z if z > 0 else α(eᶻ − 1); g'(z) = 1 if z > 0 else a + α (MATH.md §9).

    Backward from A alone: a > 0 ⇔ z > 0. The forward evaluates expm1(min(z, 0)), so
    no exp overflows for large positive z.

    Parameters
    ----------
    alpha : float, default 1.0
        The saturation value −α for z → −∞, > 0.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _check_alpha(self.name, alpha)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "alpha": self.alpha}

    def output_bound(self, bound: float, /) -> float:
        return max(bound, self.alpha)  # α(e^z − 1) ∈ (−α, 0] for z ≤ 0

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.where(Z > 0, Z, xp.expm1(xp.minimum(Z, 0.0)) * self.alpha)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return xp.where(A > 0, xp.ones_like(A), A + self.alpha)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= self.derivative(A, xp=xp)
        return dA


class Softplus(Activation):
    """Softplus, E (3): a = log(1 + eᶻ), evaluated as max(z, 0) + log1p(e^{−|z|});
    g'(z) = σ(z) = 1 − e^{−a}, evaluated as −expm1(−a) from A alone (MATH.md §9)."""

    name = "softplus"

    def output_bound(self, bound: float, /) -> float:
        return bound + math.log(2.0)  # max(z, 0) + log(1 + e^−|z|)

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.maximum(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return -xp.expm1(-A)

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= self.derivative(A, xp=xp)
        return dA


class SiLU(Activation):
    """SiLU (swish), E (4): a = z σ(z); g'(z) = σ(z)(1 + z(1 − σ(z))) (MATH.md §9).

    g' cannot be recovered from a alone, so ``needs_z = True``: backward takes Z.
    σ is the overflow-free two-branch sigmoid, so |z| up to any finite value is safe.
    """

    name = "silu"
    needs_z = True

    def output_bound(self, bound: float, /) -> float:
        return bound  # |z σ(z)| ≤ |z|

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return Z * _sigmoid(Z, xp=xp)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        Z = _need_z(self, Z)
        s = _sigmoid(Z, xp=xp)
        return s * (1 + Z * (1 - s))

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= self.derivative(A, Z, xp=xp)
        return dA


_GELU_C = math.sqrt(2 / math.pi)
_GELU_K = 0.044715


class GELUTanh(Activation):
    """GELU in its tanh approximation, E (6): a = ½ z (1 + tanh(u)),
    u = √(2/π)(z + 0.044715 z³) (MATH.md §9). Not the exact GELU E (5) z Φ(z): the
    Array API standard (through 2025.12) has no erf, so E (5) is not portable.

    Evaluated as a = z σ(2u), the same function (½(1 + tanh u) = σ(2u)) with the
    overflow-free sigmoid; differentiating E (6):
    g'(z) = σ(2u) + z σ(2u)(1 − σ(2u)) · 2√(2/π)(1 + 3·0.044715 z²).
    ``needs_z = True``: backward takes Z. Registered as ``"gelu_tanh"`` and ``"gelu"``.
    """

    name = "gelu_tanh"
    needs_z = True

    def _s(self, Z: Array, /, *, xp: Namespace) -> Array:
        return _sigmoid(Z * (1 + Z * Z * _GELU_K) * (2 * _GELU_C), xp=xp)

    def output_bound(self, bound: float, /) -> float | None:
        # |z s(z)| ≤ |z|; the cubic inside s is kept far from overflow (z² < 1e18 even in float32)
        return bound if bound < 1e9 else None

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return Z * self._s(Z, xp=xp)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        Z = _need_z(self, Z)
        s = self._s(Z, xp=xp)
        return s + Z * s * (1 - s) * ((1 + Z * Z * (3 * _GELU_K)) * (2 * _GELU_C))

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= self.derivative(A, Z, xp=xp)
        return dA


ACTIVATIONS: Registry[Activation] = Registry("activation", Activation)
for _cls in (ReLU, Sigmoid, Tanh, Softmax, Linear, LeakyReLU, ELU, Softplus, SiLU, GELUTanh):
    ACTIVATIONS.register(_cls.name, _cls())
for _alias, _name in (("identity", "linear"), ("swish", "silu"), ("gelu", "gelu_tanh")):
    ACTIVATIONS.register(_alias, ACTIVATIONS.get(_name))

_PARAMETERISED = {"leaky_relu": LeakyReLU, "elu": ELU}
_SPEC = re.compile(r"^\s*([a-z_]+)\s*\(\s*alpha\s*=\s*([^)]*?)\s*\)\s*$", re.IGNORECASE)


def get_activation(spec: str | Mapping[str, Any] | Activation) -> Activation:
    """The activation named by ``spec``.

    Parameters
    ----------
    spec : str, mapping or Activation
        A name (relu, sigmoid, tanh, softmax, linear/identity, leaky_relu, elu,
        softplus, silu/swish, gelu_tanh/gelu); a name with its parameter,
        ``"leaky_relu(alpha=0.2)"`` or ``"elu(alpha=0.5)"`` (what
        :attr:`Activation.spec` writes); a config dict ``{"name": "leaky_relu",
        "alpha": 0.2}`` (what :meth:`Activation.get_config` writes); or an
        Activation, returned as is. Names alone give the defaults (leaky_relu
        α = 0.01, elu α = 1).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), a parameter given to an
        activation that has none, or a bad α.
    TypeError
        ``spec`` of another kind.
    """
    if isinstance(spec, Mapping):
        params = dict(spec)
        name = params.pop("name", None)
        if not isinstance(name, str):
            msg = f"an activation config needs a 'name' string, got {spec!r}"
            raise TypeError(msg)
        return _build(name, params, spec)
    if isinstance(spec, str) and "(" in spec:
        match = _SPEC.match(spec)
        if match is None:
            msg = f"cannot read activation {spec!r}; write e.g. 'leaky_relu(alpha=0.2)' or 'elu(alpha=1.0)'"
            raise ValueError(msg)
        try:
            alpha = float(match.group(2))
        except ValueError:
            msg = f"activation {spec!r}: alpha must be a number, got {match.group(2)!r}"
            raise ValueError(msg) from None
        return _build(match.group(1), {"alpha": alpha}, spec)
    return ACTIVATIONS.get(spec)


def _build(name: str, params: dict[str, Any], spec: Any) -> Activation:
    key = name.strip().lower()
    if not params:
        return ACTIVATIONS.get(key)
    if key not in _PARAMETERISED:
        ACTIVATIONS.get(key)  # an unknown name gets the registry's error
        msg = f"activation {key!r} takes no parameters, got {spec!r}; only {', '.join(_PARAMETERISED)} take alpha"
        raise ValueError(msg)
    unknown = set(params) - {"alpha"}
    if unknown:
        msg = f"activation {key!r} takes only 'alpha', got {sorted(unknown)} in {spec!r}"
        raise ValueError(msg)
    return _PARAMETERISED[key](**params)


class Exp(Activation):
    """Exponential output, a = eᶻ; g'(z) = eᶻ = a (from A alone). The canonical
    output of the Poisson loss (:class:`ffnn.losses.Poisson`), whose fused
    dJ/dZ^[L] is (1/m)(Ŷ − Y) (MATH.md §4)."""

    name = "exp"

    def output_bound(self, bound: float, /) -> float:
        return math.exp(bound) if bound < 700 else math.inf

    def forward(self, Z: Array, /, *, xp: Namespace) -> Array:
        return xp.exp(Z)

    def derivative(self, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        return A

    def backward_in_place(self, dA: Array, A: Array, Z: Array = None, /, *, xp: Namespace) -> Array:
        dA *= A
        return dA


ACTIVATIONS.register(Exp.name, Exp())
__all__ += ["Exp"]  # noqa: PLE0605
