"""Whole training runs compared across backends: :class:`ParityConfig` and :func:`compare_backends`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from itertools import pairwise
from typing import Any

import numpy as np

from backends import (
    KNOWN_BACKENDS,
    Backend,
    BackendUnavailableError,
    get_backend,
    gpu_available,
    reduced_precision_disabled,
)

from .._validation import Interval, is_integer
from ..activations import get_activation
from ..layers import Dense
from ..losses import get_loss
from ..network import Network
from ..optimizers import Optimizer, get_optimizer
from ..training import train_step
from ._compare import TRAINING_RTOL, check_tolerance, difference

__all__ = ["BackendParity", "ParityConfig", "ParityResult", "checkpoints", "compare_backends"]


# ---------------------------------------------------------------------------- training parity
@dataclass(frozen=True)
class ParityConfig:
    """The network, data and training run that :func:`compare_backends` repeats on each backend.

    Parameters
    ----------
    sizes : tuple of int
        Layer sizes n^[0], …, n^[L] (at least two, all ≥ 1).
    activation : str
        g^[l] of the hidden layers.
    output_activation : str, optional
        g^[L]; default the loss's fused pairing (mse: linear, binary_crossentropy:
        sigmoid, categorical_crossentropy: softmax).
    loss : str
        mse, binary_crossentropy (bce), categorical_crossentropy (cce).
    optimizer : str
        sgd, adam, adamw (see :func:`ffnn.optimizers.get_optimizer`).
    optimizer_kwargs : mapping
        Passed to the optimizer (``learning_rate``, ``momentum``, ``beta1``, …).
    batch_size : int
        Examples per step (m).
    seed : int
        Seed of the initial weights (the same on every backend).
    data_seed : int
        Seed of the host NumPy Generator that draws the batches.
    fuse_output : bool
        See :class:`ffnn.Network`; ``False`` exercises the general backward path.

    Raises
    ------
    ValueError
        Bad sizes, batch size or seeds, unknown names, an output activation the
        loss cannot take, or optimizer argument values the optimizer refuses.
    TypeError
        ``optimizer_kwargs`` is not a mapping, or names an argument the optimizer
        does not take.
    """

    sizes: tuple[int, ...] = (6, 8, 5, 3)
    activation: str = "tanh"
    output_activation: str | None = None
    loss: str = "mse"
    optimizer: str = "sgd"
    optimizer_kwargs: Mapping[str, Any] = field(default_factory=lambda: {"learning_rate": 0.1})
    batch_size: int = 16
    seed: int = 0
    data_seed: int = 1
    fuse_output: bool = True

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if len(sizes) < 2 or not all(_is_count(n) for n in sizes):
            msg = f"sizes must list at least two positive integers (n_in, ..., n_out), got {self.sizes!r}"
            raise ValueError(msg)
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        if not _is_count(self.batch_size):
            msg = f"batch_size must be a positive integer, got {self.batch_size!r}"
            raise ValueError(msg)
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            Interval(0, None, integer=True).check(value, name)
        if not isinstance(self.optimizer_kwargs, Mapping):
            msg = f"optimizer_kwargs must be a mapping of keyword arguments, got {type(self.optimizer_kwargs).__name__}"
            raise TypeError(msg)
        get_activation(self.activation)
        out = self.output_activation or get_loss(self.loss).fused_activation
        object.__setattr__(self, "output_activation", get_activation(out).name)
        self.build("numpy", dtype="float64")  # the network's own checks of the loss/output pairing
        self.make_optimizer()

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> ParityConfig:
        """A config from a dict of its fields.

        Raises
        ------
        ValueError
            A key that is not a field (the message lists the fields).
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(spec) - set(known))
        if unknown:
            msg = f"unknown parity config keys {unknown}; known: {', '.join(known)}"
            raise ValueError(msg)
        return cls(**spec)

    def build(self, backend: str | Backend, *, dtype: str = "float64", device: Any = None) -> Network:
        """The network of this config on ``backend``: the same weights on every backend.

        Parameters
        ----------
        backend : str or Backend
            See :func:`backends.get_backend`.
        dtype : {"float64", "float32"}
        device : str, optional

        Raises
        ------
        ValueError, BackendUnavailableError
            As for :class:`ffnn.Network`.
        """
        sizes = self.sizes
        layers = [Dense(n_in, n_out, activation=self.activation) for n_in, n_out in pairwise(sizes[:-1])]
        layers.append(Dense(sizes[-2], sizes[-1], activation=self.output_activation or "linear"))
        return Network(
            layers,
            loss=self.loss,
            backend=backend,
            device=device,
            dtype=dtype,
            seed=self.seed,
            fuse_output=self.fuse_output,
        )

    def make_optimizer(self) -> Optimizer:
        """A fresh optimizer (no state) of this config."""
        return get_optimizer(self.optimizer, **dict(self.optimizer_kwargs))

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless host batches (X (m, n_in), Y (m, n_out)), float64, from ``data_seed``.

        X is standard normal; Y is standard normal for mse, independent 0/1 labels
        for binary cross-entropy, one-hot rows for categorical cross-entropy.
        """
        rng = np.random.default_rng(self.data_seed)
        m, n_in, n_out = self.batch_size, self.sizes[0], self.sizes[-1]
        loss = get_loss(self.loss).name
        while True:
            X = rng.standard_normal((m, n_in))
            if loss == "binary_crossentropy":
                Y = (rng.random((m, n_out)) < 0.5).astype(np.float64)
            elif loss == "categorical_crossentropy":
                Y = np.eye(n_out)[rng.integers(0, n_out, m)]
            else:
                Y = rng.standard_normal((m, n_out))
            yield X, Y

    def describe(self) -> str:
        """One line: sizes, activations, loss, optimizer, batch size and seeds."""
        kwargs = ", ".join(f"{k}={v}" for k, v in self.optimizer_kwargs.items())
        fused = "" if self.fuse_output else ", unfused output"
        return (
            f"{'-'.join(map(str, self.sizes))} {self.activation}/{self.output_activation}, "
            f"{get_loss(self.loss).name}, {self.optimizer}({kwargs}), batch {self.batch_size}, "
            f"seed {self.seed}, data seed {self.data_seed}{fused}"
        )


def _is_count(value: Any) -> bool:
    return is_integer(value) and value >= 1


@dataclass(frozen=True)
class BackendParity:
    """Differences of one backend's training run from the reference run.

    Row k of every array is step k: the parameters θ_k after k updates (row 0: the
    initial ones) and the cost J(θ_k) on batch k (the cost that update k+1 starts
    from; the last row evaluates the final parameters on one more batch).

    Attributes
    ----------
    label : str
        ``"name:device"``, e.g. ``"torch:cuda:0"``.
    initial_identical : bool
        Whether the initial parameters are bit-identical to the reference's.
    cost_abs, cost_rel : ndarray, shape (steps + 1,)
        |J − J_ref| and |J − J_ref| / |J_ref|.
    param_abs, param_rel : ndarray, shape (steps + 1, 2L)
        Per parameter array [W1, b1, …]: max|θ − θ_ref| and that divided by
        max|θ_ref| (norm-wise, as in :func:`assert_close`).
    first_failure : (int, str) or None
        The first step and array ("cost", "W1", …) beyond the tolerance.
    """

    label: str
    initial_identical: bool
    cost_abs: np.ndarray
    cost_rel: np.ndarray
    param_abs: np.ndarray
    param_rel: np.ndarray
    first_failure: tuple[int, str] | None

    @property
    def passed(self) -> bool:
        """Initial parameters bit-identical and every difference within the tolerance."""
        return self.initial_identical and self.first_failure is None


@dataclass(frozen=True)
class ParityResult:
    """What :func:`compare_backends` found.

    Attributes
    ----------
    config : ParityConfig
    dtype : str
    steps : int
    rtol, atol : float
        The criterion, per array and step: max|a − d| ≤ atol + rtol · max|d|.
    reference : str
        Label of the reference backend (the first one).
    reference_cost : ndarray, shape (steps + 1,)
        The reference run's costs J(θ_k).
    reference_change : ndarray, shape (steps + 1,)
        How far the reference's parameters have moved, max over the arrays of
        max|θ_k − θ_0|: a comparison of weights that never moved proves little.
    parameter_names : tuple of str
        "W1", "b1", … in the column order of ``param_abs``.
    backends : dict of str to BackendParity
        The compared backends, by label.
    skipped : dict of str to str
        Backends that could not run here, with the reason.
    precision : tuple of str
        What was switched to full precision (TF32 off, …).
    """

    config: ParityConfig
    dtype: str
    steps: int
    rtol: float
    atol: float
    reference: str
    reference_cost: np.ndarray
    reference_change: np.ndarray
    parameter_names: tuple[str, ...]
    backends: dict[str, BackendParity]
    skipped: dict[str, str]
    precision: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Every compared backend passed (skipped ones do not count)."""
        return all(b.passed for b in self.backends.values())

    def summary(self, *, at: Sequence[int] | None = None) -> str:
        """A table of the largest cost and weight differences per backend.

        Rows at steps ``at`` (default :func:`checkpoints`) and a "worst" row over all
        steps; "weight" columns take the maximum over the parameter arrays.
        """
        steps = checkpoints(self.steps) if at is None else sorted(set(at))
        head = f"{'backend':<22} {'step':>6} " + " ".join(f"{h:>12}" for h in _COLUMNS)
        lines = [head, "-" * len(head)]
        for label, run in self.backends.items():
            w_abs, w_rel = run.param_abs.max(axis=1, initial=0.0), run.param_rel.max(axis=1, initial=0.0)
            for k in steps:
                note = "  initial weights bit-identical" if k == 0 and run.initial_identical else ""
                if k == 0 and not run.initial_identical:
                    note = "  initial weights DIFFER"
                lines.append(_row(label, str(k), run.cost_abs[k], run.cost_rel[k], w_abs[k], w_rel[k]) + note)
            worst = (
                f"{run.cost_abs.max():.2e}@{int(run.cost_abs.argmax())}",
                f"{run.cost_rel.max():.2e}@{int(run.cost_rel.argmax())}",
                f"{w_abs.max():.2e}@{int(w_abs.argmax())}",
                f"{w_rel.max():.2e}@{int(w_rel.argmax())}",
            )
            verdict = "ok" if run.passed else _failure(run)
            lines.append(f"{label:<22} {'worst':>6} " + " ".join(f"{w:>12}" for w in worst) + f"  {verdict}")
        for label, reason in self.skipped.items():
            lines.append(f"{label:<22} skipped: {reason}")
        return "\n".join(lines)


_COLUMNS = ("cost abs", "cost rel", "weight abs", "weight rel")


def _row(label: str, step: str, *values: float) -> str:
    return f"{label:<22} {step:>6} " + " ".join(f"{v:>12.2e}" for v in values)


def _failure(run: BackendParity) -> str:
    if not run.initial_identical:
        return "FAILED: initial weights differ"
    step, name = run.first_failure  # type: ignore[misc]
    return f"FAILED: {name} beyond tolerance from step {step}"


def checkpoints(steps: int) -> list[int]:
    """The steps a summary shows: 0, 1, a quarter, half, three quarters and the last."""
    return sorted({k for k in (0, 1, steps // 4, steps // 2, 3 * steps // 4, steps) if 0 <= k <= steps})


def _parse_spec(spec: str | Backend) -> tuple[str, Any]:
    """(name, device) of a backend spec: a Backend, ``"name"`` or ``"name:device"``."""
    if isinstance(spec, Backend):
        return spec.name, spec.device_name
    if not isinstance(spec, str):
        msg = f"backends must be names like 'torch' or 'torch:cuda:0', or Backend objects; got {spec!r}"
        raise TypeError(msg)
    name, _, device = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in KNOWN_BACKENDS:
        msg = f"unknown backend {name!r} in {spec!r}; known backends: {', '.join(KNOWN_BACKENDS)}"
        raise ValueError(msg)
    if device:
        return name, device
    if name in ("torch", "jax") and gpu_available(name):
        return name, "cuda:0"
    return name, None


def _cost(net: Network, optimizer: Optimizer | None, X: np.ndarray, Y: np.ndarray) -> Any:
    """Train one step on (X, Y) and return its cost, or, with no optimizer, only the cost."""
    x = net.inputs(X)
    y = net.targets(Y, x.shape[0])
    if optimizer is not None:
        return train_step(net, optimizer, x.T, y.T)
    cache, Z_L = net.forward_columns(x.T)
    return net.cost_columns(cache, Z_L, y.T)


def compare_backends(
    backends: Sequence[str | Backend] = ("numpy", "cupy"),
    *,
    config: ParityConfig | Mapping[str, Any] | None = None,
    steps: int = 100,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
    allow_reduced_precision: bool = False,
) -> ParityResult:
    """Train the same network on the same batches on several backends and compare.

    Each backend builds the network of ``config`` from the same seed (bit-identical
    initial weights, drawn on the host), gets the same host-drawn batches, and takes
    ``steps`` steps of :func:`ffnn.training.train_step` with its own fresh optimizer.
    After every step the parameters and costs are compared with those of the first
    backend, the reference. Backends run in lock step, so memory stays at one copy
    of the parameters each; this synchronises with the device every step, on
    purpose (it is a checker, not a trainer).

    Criterion, for the cost and for every parameter array at every step
    (norm-wise, as in :func:`assert_close`)::

        max|θ − θ_ref| ≤ atol + rtol · max|θ_ref|

    Default ``rtol`` is :data:`TRAINING_RTOL` (float64 1e-10, float32 1e-4):
    100 and 10 times the one-evaluation tolerance :data:`RTOL`, because each step's
    rounding differences (different summation orders in the libraries' matrix
    products and reductions) become the next step's inputs and accumulate. The
    initial parameters must be bit-identical.

    Parameters
    ----------
    backends : sequence of str or Backend
        At least one; the first is the reference. ``"name"`` or ``"name:device"``
        (``"torch:cpu"``, ``"cupy:cuda:1"``). A bare ``"torch"`` or ``"jax"`` means
        the GPU when that library has a usable one, else the CPU:
        ``compare_backends(["numpy", "torch"])``.
    config : ParityConfig or mapping, optional (keyword)
        The network, data and optimizer (default ``ParityConfig()``: 6-8-5-3 tanh,
        mse, SGD with learning rate 0.1, batch 16).
    steps : int
        Training steps (≥ 0).
    dtype : {"float64", "float32"}
    rtol, atol : float, optional
        Tolerance (defaults above; ``atol`` 0).
    allow_reduced_precision : bool
        Leave TF32 and similar modes as they are. By default they are switched
        off during the comparison (:func:`backends.reduced_precision_disabled`)
        and the result lists what was switched.

    Returns
    -------
    ParityResult
        Per-step differences of every other backend, the backends skipped (not
        installed, no usable device) with the reason, and the verdict ``passed``.

    Raises
    ------
    ValueError
        Unknown backend name, a backend given twice, no backends, bad ``steps``,
        ``dtype``, tolerance or config.
    TypeError
        A backend that is neither a name nor a Backend.
    BackendUnavailableError
        The reference backend (the first) cannot run here.
    """
    if isinstance(backends, (ParityConfig, Mapping)) or backends is None:
        msg = (
            "compare_backends takes the backends first and the config as a keyword: "
            "compare_backends(['numpy', 'torch'], config=...)"
        )
        raise TypeError(msg)
    cfg = config if isinstance(config, ParityConfig) else ParityConfig.from_mapping(config or {})
    if dtype not in TRAINING_RTOL:
        msg = f"dtype must be one of {', '.join(TRAINING_RTOL)}, got {dtype!r}"
        raise ValueError(msg)
    steps = Interval(0, None, integer=True).check(steps, "steps")
    check_tolerance(rtol, "rtol")
    check_tolerance(atol, "atol")
    rtol = TRAINING_RTOL[dtype] if rtol is None else float(rtol)
    atol = 0.0 if atol is None else float(atol)
    if isinstance(backends, (str, Backend)) or not backends:
        msg = f"backends must be a non-empty sequence of backend names, got {backends!r}"
        raise ValueError(msg)
    specs = [(_label(spec), *_parse_spec(spec)) for spec in backends]
    with ExitStack() as stack:
        notes: list[str] = []
        if not allow_reduced_precision:
            for name in dict.fromkeys(name for _, name, _ in specs):
                try:
                    notes += stack.enter_context(reduced_precision_disabled(name))
                except BackendUnavailableError:
                    continue  # not installed: reported as skipped below
        opened, skipped = _open(specs)
        nets = [cfg.build(be, dtype=dtype) for be in opened.values()]
        runs = _run(cfg, nets, steps, rtol, atol)
    labels = list(opened)
    return ParityResult(
        config=cfg,
        dtype=dtype,
        steps=int(steps),
        rtol=rtol,
        atol=atol,
        reference=labels[0],
        reference_cost=runs.pop(0),
        reference_change=runs.pop(0),
        parameter_names=_parameter_names(len(cfg.sizes) - 1),
        backends=dict(zip(labels[1:], runs)),
        skipped=skipped,
        precision=tuple(notes),
    )


def _parameter_names(n_layers: int) -> tuple[str, ...]:
    """("W1", "b1", …, "WL", "bL"), in the order of :meth:`Network.parameters`."""
    return tuple(f"{p}{l}" for l in range(1, n_layers + 1) for p in "Wb")


def _label(spec: str | Backend) -> str:
    return f"{spec.name}:{spec.device_name}" if isinstance(spec, Backend) else str(spec).strip()


def _open(specs: list[tuple[str, str, Any]]) -> tuple[dict[str, Backend], dict[str, str]]:
    """The usable backends by label (reference first), and the skipped ones with the reason."""
    opened: dict[str, Backend] = {}
    skipped: dict[str, str] = {}
    for i, (spec, name, device) in enumerate(specs):
        try:
            be = get_backend(name, device)
        except BackendUnavailableError as exc:
            if i == 0:
                msg = f"the reference backend {spec!r} (the first one) cannot run here: {exc}"
                raise BackendUnavailableError(msg) from exc
            skipped[spec] = str(exc)
            continue
        label = f"{be.name}:{be.device_name}"
        if label in opened:
            msg = f"backend {label} is listed twice; list each backend once"
            raise ValueError(msg)
        opened[label] = be
    return opened, skipped


def _run(cfg: ParityConfig, nets: list[Network], steps: int, rtol: float, atol: float) -> list[Any]:
    """Train all nets in lock step; returns [reference costs, reference change, BackendParity, …]."""
    optimizers = [cfg.make_optimizer() for _ in nets]
    n_other, n_arrays = len(nets) - 1, 2 * len(nets[0].layers)
    costs = np.zeros((len(nets), steps + 1))
    c_abs, c_rel = np.zeros((n_other, steps + 1)), np.zeros((n_other, steps + 1))
    p_abs, p_rel = np.zeros((n_other, steps + 1, n_arrays)), np.zeros((n_other, steps + 1, n_arrays))
    identical = [True] * n_other
    failures: list[tuple[int, str] | None] = [None] * n_other
    change = np.zeros(steps + 1)
    names = _parameter_names(len(nets[0].layers))
    initial = nets[0].get_weights()
    for k, (X, Y) in zip(range(steps + 1), cfg.batches()):
        weights = [net.get_weights() for net in nets]
        change[k] = max(float(np.max(np.abs(w - w0))) for w, w0 in zip(weights[0], initial))
        for j, net in enumerate(nets):
            costs[j, k] = float(_cost(net, optimizers[j] if k < steps else None, X, Y))
        for j in range(n_other):
            if k == 0:
                identical[j] = all(np.array_equal(a, d) for a, d in zip(weights[j + 1], weights[0]))
            diffs = [difference(np.asarray(costs[j + 1, k]), np.asarray(costs[0, k]))]
            diffs += [difference(a, d) for a, d in zip(weights[j + 1], weights[0])]
            c_abs[j, k], c_rel[j, k] = diffs[0].abs, diffs[0].rel
            p_abs[j, k], p_rel[j, k] = [d.abs for d in diffs[1:]], [d.rel for d in diffs[1:]]
            if failures[j] is None:
                bad = [name for name, d in zip(["cost", *names], diffs) if not d.within(rtol, atol)]
                failures[j] = (k, bad[0]) if bad else None
    runs: list[Any] = [costs[0], change]
    for j in range(n_other):
        label = f"{nets[j + 1].backend.name}:{nets[j + 1].backend.device_name}"
        runs.append(BackendParity(label, identical[j], c_abs[j], c_rel[j], p_abs[j], p_rel[j], failures[j]))
    return runs
