"""Data-parallel training across processes: communicators (single process, MPI, NCCL),
the one-buffer gradient reducer, per-rank shares of each global batch, and failure handling.

Semantics (what the training loop does with these pieces)
----------------------------------------------------------
- ``batch_size`` is the **global** batch M. Every rank draws the same host permutation
  (seed + epoch) and, for each global batch ``order[start:stop]``, computes only its
  share :func:`rank_rows` (contiguous, lengths differ by at most one; empty shares are
  allowed), so N ranks take exactly the examples one rank would take.
- A rank's gradients, averaged over its m_r rows, are multiplied by m_r/M
  (:func:`batch_weight`) and summed over ranks in one all-reduce
  (:class:`GradientReducer`): the sum is the gradient of the global batch's mean cost,
  identical on every rank, so every rank applies the same update. Terms that do not
  depend on the rows (the L2 penalty's (λ/M) W) are added once, after the reduction.
- Per-epoch totals (Σ cost·m_r, hits, finiteness) are summed with
  :meth:`Communicator.allreduce_scalars`, so early stopping, divergence rollback and
  metrics decide from the same numbers on every rank.
- Initial weights come from the seed on every rank and are checked with
  :func:`verify_identical` (a broadcast checksum), not trusted.
- :func:`abort_on_failure` turns an exception on one rank into MPI_Abort of the job.

mpi4py is imported only when an MPI or NCCL transport is built.
"""

from ._comm import REDUCE_OPS, Communicator, Pending, SingleProcess
from ._failure import abort_on_failure, checksum, verify_identical
from ._reducer import GradientReducer
from ._select import (
    TRANSPORTS,
    TransportStatus,
    available_transports,
    get_communicator,
    launched_local_rank,
    launched_size,
    select_transport,
)
from ._shares import batch_bounds, batch_weight, rank_rows, share_bounds

__all__ = [
    "REDUCE_OPS",
    "TRANSPORTS",
    "Communicator",
    "GradientReducer",
    "Pending",
    "SingleProcess",
    "TransportStatus",
    "abort_on_failure",
    "available_transports",
    "batch_bounds",
    "batch_weight",
    "checksum",
    "get_communicator",
    "launched_local_rank",
    "launched_size",
    "rank_rows",
    "select_transport",
    "share_bounds",
    "verify_identical",
]
