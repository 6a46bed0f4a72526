"""The MPI transport (mpi4py): host arrays directly, GPU arrays CUDA-aware or staged through the host."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from ._comm import Communicator, Pending, _check_op

if TYPE_CHECKING:
    from backends import Backend

__all__ = ["CUDA_AWARE_ENV", "MPICommunicator", "cuda_aware", "load_mpi"]

CUDA_AWARE_ENV = "FFNN_MPI_CUDA_AWARE"

ABORT_GRACE_S = 0.5
"""Seconds between printing an abort's message and MPI_Abort (see :meth:`MPICommunicator.abort`)."""


def load_mpi() -> ModuleType:
    """``mpi4py.MPI`` (initialising MPI on first import).

    Raises
    ------
    ImportError
        mpi4py is missing; the message says what to install.
    """
    try:
        from mpi4py import MPI
    except ImportError as exc:
        msg = "the MPI transport needs mpi4py and an MPI library: pip install 'ffnn[mpi]' (mpi4py and mpich)"
        raise ImportError(msg) from exc
    return MPI


def cuda_aware(mpi: ModuleType, comm: Any) -> bool:
    """Whether this MPI accepts CUDA device buffers.

    ``FFNN_MPI_CUDA_AWARE=1`` / ``0`` decides when set; otherwise the MPI 4.1 info
    key ``mpi_memory_alloc_kinds`` of the communicator must list a ``cuda`` kind.
    """
    forced = os.environ.get(CUDA_AWARE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        info = comm.Get_info()
        kinds = info.Get("mpi_memory_alloc_kinds") or ""
        info.Free()
    except Exception:
        return False
    return any(kind.strip().startswith("cuda") for kind in kinds.split(","))


def _host_copy(backend: Backend, array: Any) -> tuple[np.ndarray, bool]:
    """A writable, C-contiguous host view or copy of ``array``, and whether it is a view
    (then writing into it changes ``array``: NumPy arrays, PyTorch CPU tensors)."""
    host = backend.to_numpy(array)
    if host.flags.writeable and host.flags.c_contiguous:
        # a second host view of the same memory proves aliasing; GPU copies never alias
        return host, not backend.is_gpu and np.may_share_memory(host, backend.to_numpy(array))
    return np.array(host, order="C"), False


class MPICommunicator(Communicator):
    """Collectives over an MPI communicator through mpi4py.

    Parameters
    ----------
    backend : Backend
        The backend of the arrays to reduce.
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.
    mpi : module, optional
        The ``mpi4py.MPI`` module (tests pass a stand-in); imported when omitted.
    device_path : {"auto", "cuda-aware", "host-staged"}, default "auto"
        For GPU backends: hand device buffers to MPI when it is CUDA-aware
        (:func:`cuda_aware`), else copy through the host. CPU backends always use "host".
    """

    transport = "mpi"

    def __init__(self, backend: Backend, *, comm: Any = None, mpi: ModuleType | None = None, device_path: str = "auto"):
        self.backend = backend
        self.mpi = load_mpi() if mpi is None else mpi
        self.comm = self.mpi.COMM_WORLD if comm is None else comm
        self.rank, self.size = int(self.comm.Get_rank()), int(self.comm.Get_size())
        self.local_rank = self._local_rank()
        self.path = self._device_path(device_path)

    def _local_rank(self) -> int:
        try:
            node = self.comm.Split_type(self.mpi.COMM_TYPE_SHARED)
        except Exception:
            return self.rank
        local = int(node.Get_rank())
        node.Free()
        return local

    def _device_path(self, wanted: str) -> str:
        paths = ("auto", "cuda-aware", "host-staged")
        if wanted not in paths:
            msg = f"device_path must be one of {', '.join(paths)}, got {wanted!r}"
            raise ValueError(msg)
        if not self.backend.is_gpu:
            return "host"
        if wanted == "auto":
            return "cuda-aware" if cuda_aware(self.mpi, self.comm) else "host-staged"
        return wanted

    def _op(self, op: str) -> Any:
        _check_op(op)
        return {"sum": self.mpi.SUM, "min": self.mpi.MIN, "max": self.mpi.MAX}[op]

    def allreduce_sum(self, buffer: Any, /) -> Any:
        if self.path == "cuda-aware":
            self.backend.synchronize(buffer)  # MPI does not know the library's stream
            self.comm.Allreduce(self.mpi.IN_PLACE, buffer, op=self.mpi.SUM)
            return buffer
        host, is_view = _host_copy(self.backend, buffer)
        self.comm.Allreduce(self.mpi.IN_PLACE, host, op=self.mpi.SUM)
        return buffer if is_view else self.backend.asarray(host)

    def start_allreduce_sum(self, buffer: Any, /) -> Pending:
        if self.path == "cuda-aware":
            self.backend.synchronize(buffer)
            request = self.comm.Iallreduce(self.mpi.IN_PLACE, buffer, op=self.mpi.SUM)
            return Pending(lambda: (request.Wait(), buffer)[1])
        host, is_view = _host_copy(self.backend, buffer)
        request = self.comm.Iallreduce(self.mpi.IN_PLACE, host, op=self.mpi.SUM)

        def finish() -> Any:
            request.Wait()
            return buffer if is_view else self.backend.asarray(host)

        return Pending(finish)

    def bcast_array(self, array: Any, /, *, root: int = 0) -> Any:
        if self.path == "cuda-aware":
            self.backend.synchronize(array)
            self.comm.Bcast(array, root=root)
            return array
        host, is_view = _host_copy(self.backend, array)
        self.comm.Bcast(host, root=root)
        return array if is_view else self.backend.asarray(host)

    def bcast(self, obj: Any, /, *, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allreduce_scalars(self, values: Sequence[float], /, *, op: str = "sum") -> list[float]:
        mpi_op = self._op(op)
        host = np.array([float(v) for v in values], dtype=np.float64)
        self.comm.Allreduce(self.mpi.IN_PLACE, host, op=mpi_op)
        return [float(v) for v in host]

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, message: str, /, *, code: int = 1) -> NoReturn:
        print(f"ffnn: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # MPI_Abort makes the launcher kill every rank at once, and what a rank wrote just
        # before may still sit in the launcher's forwarding (MPICH's Hydra dropped the end of
        # a traceback on a loaded machine): give it a moment to pass the message on.
        time.sleep(ABORT_GRACE_S)
        self.comm.Abort(code)
        raise SystemExit(code)  # reached only with a stand-in communicator

    def describe(self) -> str:
        version = ""
        try:
            version = self.mpi.Get_library_version().split("\n")[0].strip()
        except Exception:
            version = "MPI"
        labels = {
            "host": "host buffers",
            "cuda-aware": "device buffers, CUDA-aware MPI",
            "host-staged": "device buffers staged through host memory (MPI is not CUDA-aware)",
        }
        return f"MPI ({' '.join(version.split())}; {self.size} ranks; {labels[self.path]})"
