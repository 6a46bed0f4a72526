"""Data-parallel fits over ranks (MPI, NCCL) and training data read by rows (out of core).

The epoch loop (:mod:`ffnn.training.loop`) hands three things to a :class:`Parallel`
when a fit is distributed or its data are a memory map / ``.npy`` path: the
mini-batch loop (:meth:`Parallel.train_batches`), the per-epoch totals
(:meth:`Parallel.epoch_values`) and the question "does this rank write files"
(:attr:`Parallel.writes`). Everything else (stopping rule, rollback, callbacks) runs
unchanged, on numbers that are identical on every rank.

Semantics (see :mod:`ffnn.distributed`): ``batch_size`` is the global batch M; every
rank draws the same host permutation, computes its share :func:`rank_rows` of each
global batch with gradients averaged over its m_r rows, scaled by m_r/M and summed in
one all-reduce (:class:`GradientReducer`); the L2 term (λ/M) W is added once, after
the reduction, D; per-epoch sums (cost·rows, hits, finiteness, validation sums) are
all-reduced, so N ranks reproduce one rank up to rounding.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from backends import device_of

from .._types import Array, OptState, Params
from .._validation import PREDICT_BATCH_SIZE, as_sample_weight, positive_int
from ..distributed import (
    Communicator,
    GradientReducer,
    SingleProcess,
    batch_bounds,
    get_communicator,
    rank_rows,
    share_bounds,
    verify_identical,
)
from ..metrics import correct_count
from ..sources import BatchStream, RowSource
from .evaluation import totals
from .step import apply_l2

if TYPE_CHECKING:
    from ..optimizers import Optimizer
    from ._model import Model
    from .loop import Data, Loop

__all__ = [
    "Parallel",
    "RowRange",
    "communicator_for",
    "evaluate_rows",
    "is_rows",
    "predict_rows",
    "row_data",
]


def is_rows(data: Any) -> bool:
    """Whether ``data`` is read by rows (a NumPy memory map, a ``.npy`` path or a
    :class:`~ffnn.sources.RowSource`) rather than moved to the device whole."""
    if isinstance(data, (str, os.PathLike)):  # a path names a .npy file; any other string is not data
        return os.fspath(data).lower().endswith(".npy")
    return isinstance(data, (np.memmap, RowSource))


class RowRange(RowSource):
    """Rows [lo, hi) of a :class:`~ffnn.sources.RowSource` (a validation split of a file)."""

    def __init__(self, base: RowSource, lo: int, hi: int) -> None:
        self.base, self.lo = base, lo
        self.path, self.bytes_read, self._fd, self._array = base.path, 0, None, None
        self.shape, self.dtype = (hi - lo, *base.shape[1:]), base.dtype

    def _gather(self, ascending: np.ndarray) -> np.ndarray:
        return self.base._gather(ascending + self.lo)

    def close(self) -> None:
        return None


def _source(data: Any, name: str) -> RowSource:
    try:
        return data if isinstance(data, RowSource) else RowSource(data)
    except (TypeError, ValueError, FileNotFoundError) as exc:
        msg = f"{name}: {exc}"
        raise type(exc)(msg) from exc


def row_data(
    net: Model,
    X: Any,
    y: Any,
    validation_data: Any,
    validation_split: Any,
    batch_size: Any,
    shuffle: bool,
    sample_weight: Any = None,
) -> Data:
    """:func:`~ffnn.training.loop.training_data` for inputs read by rows: X (and y, and
    the validation inputs when given as paths) stay on disk / in the memory map, read
    one batch at a time; validation arrays given in memory move to the device as usual."""
    from .loop import Data

    x = _source(X, "X")
    if len(x.shape) != 2 or x.shape[1] != net.n_in:
        msg = f"X has shape {x.shape}; the network expects (m, {net.n_in}) rows"
        raise ValueError(msg)
    t = _source(y, "y") if is_rows(y) else RowSource(np.asarray(y))
    m = x.shape[0]
    if t.shape[0] != m:
        msg = f"X has {m} rows but y has {t.shape[0]}; they must match"
        raise ValueError(msg)
    weights = None if sample_weight is None else as_sample_weight(sample_weight, m)
    val_x: Any = None
    val_y: Any = None
    if validation_data is not None and validation_split:
        msg = "pass either validation_data or validation_split, not both"
        raise ValueError(msg)
    if validation_data is not None:
        vx, vy = validation_data
        if is_rows(vx):
            val_x, val_y = _source(vx, "X_val"), (_source(vy, "y_val") if is_rows(vy) else RowSource(np.asarray(vy)))
        else:
            val_x = net.inputs(vx)
            val_y = net.targets(vy, val_x.shape[0])
    elif validation_split:
        fraction = validation_split
        n_train = int(m * (1 - fraction)) if isinstance(fraction, float) and 0 < fraction < 1 else 0
        if not 0 < n_train < m:
            msg = (
                f"validation_split must be a fraction in (0, 1) that leaves examples on both sides; "
                f"got {validation_split!r} for {m} examples"
            )
            raise ValueError(msg)
        x, val_x = RowRange(x, 0, n_train), RowRange(x, n_train, m)
        t, val_y = RowRange(t, 0, n_train), RowRange(t, n_train, m)
        weights = None if weights is None else weights[:n_train]
        m = n_train
    size = m if batch_size is None else min(positive_int(batch_size, "batch_size"), m)
    return Data(x, t, val_x, val_y, size, bool(shuffle) and size < m, weights)


def communicator_for(net: Model, distributed: Any) -> Communicator:
    """The communicator of ``fit(distributed=...)``: None → one process; ``True``,
    ``"auto"``, ``"mpi"``, ``"nccl"`` → :func:`~ffnn.distributed.get_communicator`;
    a :class:`~ffnn.distributed.Communicator` as is (it must serve the network's backend)."""
    if distributed is None or distributed is False:
        return SingleProcess(net.backend)
    if isinstance(distributed, Communicator):
        if distributed.backend.name != net.backend.name:
            msg = (
                f"the communicator serves the {distributed.backend.name} backend, the network uses "
                f"{net.backend.name}: build it with get_communicator(backend=net.backend)"
            )
            raise ValueError(msg)
        return distributed
    if distributed is True:
        distributed = "auto"
    if not isinstance(distributed, str):
        msg = f"distributed must be None, True, 'auto', 'mpi', 'nccl' or a Communicator, got {distributed!r}"
        raise TypeError(msg)
    return get_communicator(distributed, backend=net.backend)


ParallelStep = Callable[..., tuple[Params, OptState, Array, Array, Array]]


class Parallel:
    """A fit's data-parallel / read-by-rows behaviour (see the module notes).

    Parameters
    ----------
    net, opt : the network and its bound optimizer
    comm : Communicator
    l2 : float
    prefetch : int, default 1
        Batches read (and copied to the device) ahead by a background thread when
        the data are read by rows.
    """

    def __init__(self, net: Model, opt: Optimizer, comm: Communicator, *, l2: float, prefetch: int = 1) -> None:
        self.net, self.opt, self.comm, self.l2, self.prefetch = net, opt, comm, l2, prefetch
        params = net.named_parameters()
        verify_identical(comm, params, what="initial parameters")
        self.reducer = GradientReducer(comm, params)
        self.step = self._make_step()

    @property
    def writes(self) -> bool:
        """Whether this rank prints and writes files (rank 0)."""
        return self.comm.is_root

    def _make_step(self) -> ParallelStep:
        """``step(params, opt_state, xb, yb, wb, weight, M) -> (params, opt_state, cost, penalty, A_L)``:
        P1 forward/cost/backward on this rank's rows (none when ``xb`` is None), the
        all-reduce of the m_r/M-weighted gradients, then (λ/M) W, D, and the update."""
        net, opt, reducer, l2, xp = self.net, self.opt, self.reducer, self.l2, self.net.xp

        def step(
            params: Params, opt_state: OptState, xb: Array, yb: Array, wb: Array, weight: float, M: int
        ) -> tuple[Params, OptState, Array, Array, Array]:
            cost = A = None
            grads: Any = None
            if xb is not None:
                cache, cost = net.forward_cost_columns(xb, yb, params, weights=wb)
                grads = net.backward(cache, yb, params=params, weights=wb, release_cache=True)
                assert isinstance(grads, dict)
                A = cache[-1]
            grads = reducer.reduce(grads, weight=weight)
            penalty = apply_l2(params, grads, l2, M, xp=xp) if l2 else None
            params, opt_state = opt.update(params, grads, opt_state, xp=xp)
            return params, opt_state, cost, penalty, A

        return step

    def _batches(self, data: Data, order: np.ndarray) -> Any:
        """(xb, yb) of this rank's share of each global batch, rows layout, on the device
        (None, None for an empty share)."""
        net, comm, backend = self.net, self.comm, self.net.backend
        if isinstance(data.x, RowSource):

            def convert(hx: np.ndarray, hy: np.ndarray | None) -> tuple[Any, Any]:
                if hx.shape[0] == 0:
                    return None, None
                xb = net.inputs(hx)
                return xb, net.targets(hy, xb.shape[0])

            stream = BatchStream(
                data.x,
                data.y,
                order=order,
                batch_size=data.batch_size,
                backend=backend,
                rank=comm.rank,
                size=comm.size,
                prefetch=self.prefetch,
                convert=convert,
            )
            yield from stream
            return
        xp = net.xp
        for start, stop in batch_bounds(data.x.shape[0], data.batch_size):
            rows = rank_rows(order[start:stop], comm.rank, comm.size)
            if rows.size == 0:
                yield None, None
                continue
            index = backend.asarray(rows)
            yield xp.take(data.x, index, axis=0), xp.take(data.y, index, axis=0)

    def train_batches(self, loop: Loop) -> tuple[Array, Array, float]:
        """The mini-batch loop of :meth:`Loop.train_batches` over this rank's shares:
        returns this rank's Σ cost·(batch weight) (the L2 term counted on rank 0 only),
        its hits, and the global total weight (a host float)."""
        net, opt, data, comm, xp = self.net, self.opt, loop.data, self.comm, self.net.xp
        m = data.x.shape[0]
        host_order = loop.order()
        order = np.arange(m) if host_order is None else host_order
        task = net.task
        cost_sum = xp.zeros((), dtype=net.backend.dtype(net.dtype), device=net.backend.device)
        hits = xp.zeros((), dtype=cost_sum.dtype, device=device_of(cost_sum))
        sw = data.weights
        params, opt_state = net.named_parameters(), opt.state
        try:
            for (start, stop), (xb, yb) in zip(batch_bounds(m, data.batch_size), self._batches(data, order)):
                rows = rank_rows(order[start:stop], comm.rank, comm.size)
                wb = None
                if sw is None:
                    mine, whole = float(rows.size), float(stop - start)
                else:
                    mine, whole = float(np.sum(sw[rows])), float(np.sum(sw[order[start:stop]]))
                    if rows.size:
                        wb = xp.reshape(net.backend.asarray(sw[rows], dtype=cost_sum.dtype), (1, -1))
                weight = mine / whole if whole > 0 else 0.0
                params, opt_state, cost, penalty, A = self.step(
                    params,
                    opt_state,
                    None if xb is None else xb.T,
                    None if yb is None else yb.T,
                    wb,
                    weight,
                    stop - start,
                )
                if cost is not None:
                    cost_sum = cost_sum + cost * mine
                    if task != "regression":
                        hits = hits + correct_count(A, yb.T, task=task, xp=xp)
                if penalty is not None and comm.is_root:
                    cost_sum = cost_sum + penalty * whole
        finally:
            net.set_parameters(params)
            opt.state = opt_state
        total = float(m) if sw is None else float(np.sum(sw))
        return cost_sum, hits, total

    def epoch_values(self, loop: Loop, head: Array) -> list[float]:
        """[Σ cost, hits, finite (1 when every rank's parameters are finite), validation
        Σ cost·rows, hits] summed over ranks: every rank decides from the same numbers.
        ``head`` is this rank's 1-D [Σ cost, hits, finite]."""
        net, data, comm, xp = self.net, loop.data, self.comm, self.net.xp
        if data.val_x is not None:
            val = self._validation_totals(data.val_x, data.val_y)
            head = xp.concat([head, xp.stack([xp.astype(v, head.dtype) for v in val])])
        local = [float(v) for v in net.backend.to_numpy(head)]
        values = comm.allreduce_scalars(local)
        values[2] /= comm.size
        return values

    def _validation_totals(self, vx: Any, vy: Any) -> list[Array]:
        """This rank's share (:func:`share_bounds`) of the validation rows: [Σ cost·rows, hits]."""
        lo, hi = share_bounds(int(vx.shape[0]), self.comm.rank, self.comm.size)
        return _row_totals(self.net, vx, vy, lo, hi)


def _row_totals(net: Model, vx: Any, vy: Any, lo: int, hi: int) -> list[Array]:
    xp, task = net.xp, net.task
    dtype = net.backend.dtype(net.dtype)
    if hi <= lo:
        zero = xp.zeros((), dtype=dtype, device=net.backend.device)
        return [zero, zero]
    if not isinstance(vx, RowSource):
        return totals(net, vx[lo:hi, :], vy[lo:hi, :], task, PREDICT_BATCH_SIZE)
    sums = [xp.zeros((), dtype=dtype, device=net.backend.device)] * 2
    for start in range(lo, hi, PREDICT_BATCH_SIZE):
        rows = np.arange(start, min(start + PREDICT_BATCH_SIZE, hi))
        x = net.inputs(vx.take(rows))
        t = net.targets(_host(vy).take(rows), x.shape[0])
        part = totals(net, x, t, task, PREDICT_BATCH_SIZE)
        sums = [a + b for a, b in zip(sums, part)]
    return sums


def _host(y: Any) -> RowSource:
    return y if isinstance(y, RowSource) else RowSource(np.asarray(y))


def evaluate_rows(net: Model, X: Any, y: Any, *, batch_size: int | None = None) -> dict[str, float | None]:
    """:meth:`Network.evaluate` for inputs read by rows (memory map or ``.npy`` path),
    one chunk of ``batch_size`` rows at a time."""
    x = _source(X, "X")
    t = _source(y, "y") if is_rows(y) else RowSource(np.asarray(y))
    m = x.shape[0]
    if t.shape[0] != m:
        msg = f"X has {m} rows but y has {t.shape[0]}; they must match"
        raise ValueError(msg)
    step = PREDICT_BATCH_SIZE if batch_size is None else positive_int(batch_size, "batch_size")
    xp, task = net.xp, net.task
    sums = [xp.zeros((), dtype=net.backend.dtype(net.dtype), device=net.backend.device)] * 2
    for start in range(0, m, step):
        rows = np.arange(start, min(start + step, m))
        xc = net.inputs(x.take(rows))
        part = totals(net, xc, net.targets(t.take(rows), xc.shape[0]), task, step)
        sums = [a + b for a, b in zip(sums, part)]
    cost, hits = (float(v) for v in net.backend.to_numpy(xp.stack(sums)))
    return {"cost": cost / m, "accuracy": None if task == "regression" else hits / m}


def predict_rows(net: Model, X: Any, *, batch_size: int | None = PREDICT_BATCH_SIZE) -> Array:
    """:meth:`Network.predict` for inputs read by rows: chunks of ``batch_size`` rows are
    read, moved to the device and forwarded; the outputs (m, n_out) are on the device."""
    x = _source(X, "X")
    m = x.shape[0]
    step = m if batch_size is None else positive_int(batch_size, "batch_size")
    parts = []
    for start in range(0, m, step):
        xc = net.inputs(x.take(np.arange(start, min(start + step, m))))
        parts.append(net.forward_columns(xc.T)[0][-1].T)
    return parts[0] if len(parts) == 1 else net.xp.concat(parts, axis=0)
