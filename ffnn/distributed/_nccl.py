"""The NCCL transport for CuPy arrays: CuPy's NCCL bindings, bootstrapped by MPI.

Unexecuted in this repository's CI (it needs several CUDA GPUs); written against
CuPy's documented ``cupy.cuda.nccl`` API: ``get_unique_id()``,
``NcclCommunicator(ndev, commId, rank)``, ``allReduce(sendbuf, recvbuf, count,
datatype, op, stream)`` and ``bcast(buff, count, datatype, root, stream)`` with
pointers as integers.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._mpi import MPICommunicator

if TYPE_CHECKING:
    from backends import Backend

__all__ = ["NCCLCommunicator", "load_nccl"]


def load_nccl(backend: Backend) -> ModuleType:
    """``cupy.cuda.nccl`` of the backend's CuPy.

    Raises
    ------
    ValueError
        The backend is not CuPy on a GPU.
    ImportError
        This CuPy was built without NCCL.
    """
    if backend.name != "cupy" or not backend.is_gpu:
        msg = f"the NCCL transport needs the cupy backend on a GPU, got {backend!r}; use transport='mpi'"
        raise ValueError(msg)
    try:
        nccl = importlib.import_module(f"{backend.module.__name__}.cuda.nccl")
        nccl.get_version()
    except Exception as exc:  # missing bindings or library both mean "no NCCL"
        msg = (
            f"CuPy's NCCL bindings are not usable ({exc}); install NCCL (pip install nvidia-nccl-cu12) "
            "or use transport='mpi'"
        )
        raise ImportError(msg) from exc
    return nccl


class NCCLCommunicator(MPICommunicator):
    """Device arrays reduced and broadcast by NCCL on the current CuPy stream; host
    objects, scalars, barriers and abort go through MPI, which also hands the NCCL
    unique id from rank 0 to the others.

    Each rank must already have selected its own GPU (``cuda:local_rank`` on a node):
    NCCL refuses two ranks on one device.

    Parameters
    ----------
    backend : Backend
        CuPy on a CUDA device.
    comm, mpi
        As for :class:`MPICommunicator`.
    nccl : module, optional
        ``cupy.cuda.nccl`` (tests pass a stand-in); loaded from the backend when omitted.
    """

    transport = "nccl"

    def __init__(self, backend: Backend, *, comm: Any = None, mpi: ModuleType | None = None, nccl: Any = None):
        super().__init__(backend, comm=comm, mpi=mpi, device_path="host-staged")
        self.nccl = load_nccl(backend) if nccl is None else nccl
        self.path = "nccl"
        unique_id = self.nccl.get_unique_id() if self.rank == 0 else None
        unique_id = self.comm.bcast(unique_id, root=0)
        with backend.device:
            self.nccl_comm = self.nccl.NcclCommunicator(self.size, unique_id, self.rank)
        self._types = {"float32": self.nccl.NCCL_FLOAT32, "float64": self.nccl.NCCL_FLOAT64}

    def _datatype(self, array: Any) -> int:
        name = str(array.dtype)
        if name not in self._types:
            msg = f"NCCL reduces float32 or float64 buffers here, got {name}"
            raise TypeError(msg)
        return self._types[name]

    def _stream(self) -> int:
        return int(self.backend.module.cuda.get_current_stream().ptr)

    def allreduce_sum(self, buffer: Any, /) -> Any:
        pointer = buffer.data.ptr  # NCCL allows sendbuf == recvbuf (in place)
        self.nccl_comm.allReduce(
            pointer, pointer, buffer.size, self._datatype(buffer), self.nccl.NCCL_SUM, self._stream()
        )
        return buffer

    def bcast_array(self, array: Any, /, *, root: int = 0) -> Any:
        self.nccl_comm.bcast(array.data.ptr, array.size, self._datatype(array), root, self._stream())
        return array

    def describe(self) -> str:
        try:
            version = f"NCCL {self.nccl.get_version()}"
        except Exception:
            version = "NCCL"
        return f"{version} ({self.size} ranks, bootstrapped by MPI; device buffers on the current CuPy stream)"
