"""The communicator interface every transport implements, and the single-process one."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from backends import Backend

__all__ = ["REDUCE_OPS", "Communicator", "Pending", "SingleProcess"]

REDUCE_OPS = ("sum", "min", "max")


def _check_op(op: str) -> None:
    if op not in REDUCE_OPS:
        msg = f"op must be one of {', '.join(REDUCE_OPS)}, got {op!r}"
        raise ValueError(msg)


class Pending:
    """A reduction in flight (see :meth:`Communicator.start_allreduce_sum`)."""

    def __init__(self, finish: Callable[[], Any]) -> None:
        self._finish: Callable[[], Any] | None = finish
        self._result: Any = None

    def wait(self) -> Any:
        """Block until the reduction is complete and return the reduced array
        (the same array as :meth:`Communicator.allreduce_sum` would return)."""
        if self._finish is not None:
            self._result, self._finish = self._finish(), None
        return self._result


class Communicator(ABC):
    """The few collective operations data-parallel training needs.

    One communicator serves one backend (the network's library and device): every
    array it reduces or broadcasts is a 1-D array of that backend, and crosses
    between host and device only through :mod:`backends`.

    Attributes
    ----------
    transport : str
        ``"single"``, ``"mpi"`` or ``"nccl"``.
    path : str
        How device arrays travel: ``"none"`` (single process), ``"host"`` (CPU
        arrays handed to MPI), ``"host-staged"`` (GPU arrays copied to the host
        and back around each MPI call), ``"cuda-aware"`` (GPU arrays handed to a
        CUDA-aware MPI) or ``"nccl"``.
    rank, size : int
        This process's rank and the number of ranks.
    local_rank : int
        The rank among the processes of this node (which GPU to use).
    backend : Backend
    """

    transport: str
    path: str
    rank: int
    size: int
    local_rank: int
    backend: Backend

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0 (the rank that prints and saves)."""
        return self.rank == 0

    @abstractmethod
    def allreduce_sum(self, buffer: Any, /) -> Any:
        """Σ over ranks of a 1-D float array of the backend, elementwise.

        Works in place where the library allows; always use the returned array
        (JAX arrays, and GPU arrays staged through the host, come back as new arrays).
        Every rank must call it with the same length and dtype.
        """

    def start_allreduce_sum(self, buffer: Any, /) -> Pending:
        """Begin :meth:`allreduce_sum` without waiting (MPI_Iallreduce where the transport
        has it), so that it can overlap computation, e.g. the backward pass of earlier
        layers; neither read nor write ``buffer`` until ``.wait()`` has returned.

        The default runs the blocking call at once.
        """
        result = self.allreduce_sum(buffer)
        return Pending(lambda: result)

    @abstractmethod
    def bcast_array(self, array: Any, /, *, root: int = 0) -> Any:
        """Rank ``root``'s values of an array of the backend, on every rank.

        Every rank passes an array of the same shape and dtype; use the return value.
        """

    @abstractmethod
    def bcast(self, obj: Any, /, *, root: int = 0) -> Any:
        """Rank ``root``'s small host object (numbers, strings, tuples) on every rank."""

    @abstractmethod
    def allreduce_scalars(self, values: Sequence[float], /, *, op: str = "sum") -> list[float]:
        """A few host numbers reduced elementwise over ranks (``op``: sum, min, max),
        as float64; for per-epoch costs, hit counts and flags."""

    @abstractmethod
    def barrier(self) -> None:
        """Wait until every rank has reached this call."""

    @abstractmethod
    def abort(self, message: str, /, *, code: int = 1) -> NoReturn:
        """Print ``message`` to stderr and terminate every rank of the job (MPI_Abort)."""

    def describe(self) -> str:
        """One line naming the transport, ranks and the device path, for summaries."""
        return f"{self.transport} ({self.size} rank{'s' * (self.size != 1)}, {self.path})"


class SingleProcess(Communicator):
    """The communicator of an ordinary run: one rank, every operation returns its input."""

    transport = "single"
    path = "none"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.rank, self.size, self.local_rank = 0, 1, 0

    def allreduce_sum(self, buffer: Any, /) -> Any:
        return buffer

    def bcast_array(self, array: Any, /, *, root: int = 0) -> Any:
        return array

    def bcast(self, obj: Any, /, *, root: int = 0) -> Any:
        return obj

    def allreduce_scalars(self, values: Sequence[float], /, *, op: str = "sum") -> list[float]:
        _check_op(op)
        return [float(v) for v in values]

    def barrier(self) -> None:
        return None

    def abort(self, message: str, /, *, code: int = 1) -> NoReturn:
        print(f"ffnn: {message}", file=sys.stderr, flush=True)
        raise SystemExit(code)

    def describe(self) -> str:
        return "single process (no communication)"
