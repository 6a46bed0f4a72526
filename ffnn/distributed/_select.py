"""Choosing a transport: the launcher's environment, what is installed, and the backend."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._comm import Communicator, SingleProcess

if TYPE_CHECKING:
    from backends import Backend

__all__ = [
    "TRANSPORTS",
    "TransportStatus",
    "available_transports",
    "get_communicator",
    "launched_local_rank",
    "launched_size",
    "select_transport",
]

TRANSPORTS = ("auto", "single", "mpi", "nccl")
# Variables the common launchers set in every rank: MPICH/Intel MPI (Hydra), Open MPI, MVAPICH, Slurm.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


def launched_size(environ: Mapping[str, str] | None = None) -> int:
    """The number of ranks the launcher (``mpiexec``, ``srun``) started, read from its
    environment variables without initialising MPI; 1 for a plain ``python`` run."""
    variables = os.environ if environ is None else environ
    for name in _SIZE_VARIABLES:
        value = variables.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


_LOCAL_RANK_VARIABLES = (
    "MPI_LOCALRANKID",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "MV2_COMM_WORLD_LOCAL_RANK",
    "PMIX_LOCAL_RANK",
    "SLURM_LOCALID",
)


def launched_local_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank among those the launcher started on this node, read from the
    launcher's variables (0 for a plain run): pick the GPU before building the backend,
    e.g. ``get_backend("cupy", f"cuda:{launched_local_rank() % n_gpus}")``. Once a
    communicator exists, its ``local_rank`` (from MPI itself) says the same."""
    variables = os.environ if environ is None else environ
    for name in _LOCAL_RANK_VARIABLES:
        value = variables.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def select_transport(requested: str, *, size: int, backend_name: str, is_gpu: bool, mpi: bool, nccl: bool) -> str:
    """The transport to build: ``"single"``, ``"mpi"`` or ``"nccl"``.

    ``"auto"`` gives ``"single"`` for one rank, NCCL for CuPy on a GPU when CuPy has
    NCCL, MPI otherwise. A pure function of its arguments (what is installed is
    passed in), so the rules are testable anywhere.

    Raises
    ------
    ValueError
        Unknown name; ``"single"`` under a launcher that started several ranks;
        ``"nccl"`` for a backend other than CuPy on a GPU.
    ImportError
        MPI (or NCCL) is asked for, or several ranks were launched, but not installed.
    """
    if requested not in TRANSPORTS:
        msg = f"transport must be one of {', '.join(TRANSPORTS)}, got {requested!r}"
        raise ValueError(msg)
    if requested == "single" or (requested == "auto" and size == 1):
        if size > 1:
            msg = f"transport='single', but the launcher started {size} ranks; use transport='mpi' or 'auto'"
            raise ValueError(msg)
        return "single"
    if not mpi:
        msg = (
            f"{size} ranks need the MPI transport, but mpi4py is not installed: pip install 'ffnn[mpi]'"
            if requested == "auto"
            else f"transport={requested!r} needs mpi4py (NCCL is bootstrapped by MPI): pip install 'ffnn[mpi]'"
        )
        raise ImportError(msg)
    cupy_gpu = backend_name == "cupy" and is_gpu
    if requested == "nccl":
        if not cupy_gpu:
            msg = f"transport='nccl' needs the cupy backend on a GPU, got {backend_name!r}; use transport='mpi'"
            raise ValueError(msg)
        if not nccl:
            msg = "transport='nccl', but CuPy's NCCL bindings are not usable here; use transport='mpi'"
            raise ImportError(msg)
        return "nccl"
    return "nccl" if requested == "auto" and cupy_gpu and nccl else "mpi"


def _mpi_installed() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


def _nccl_usable(backend: Backend) -> bool:
    from ._nccl import load_nccl

    try:
        load_nccl(backend)
    except (ImportError, ValueError):
        return False
    return True


def get_communicator(transport: str = "auto", *, backend: Backend, **options: Any) -> Communicator:
    """The communicator for ``backend`` over ``transport`` (see :func:`select_transport`).

    ``options`` go to the transport's class (``comm``, ``mpi``, ``device_path`` for MPI,
    ``nccl`` for NCCL). MPI is imported only when an MPI or NCCL transport is chosen.
    """
    size = int(options["comm"].Get_size()) if "comm" in options else launched_size()
    cupy_gpu = backend.name == "cupy" and backend.is_gpu
    chosen = select_transport(
        transport,
        size=size,
        backend_name=backend.name,
        is_gpu=backend.is_gpu,
        mpi="mpi" in options or _mpi_installed(),
        nccl="nccl" in options or (cupy_gpu and transport != "mpi" and _nccl_usable(backend)),
    )
    if chosen == "single":
        return SingleProcess(backend)
    if chosen == "nccl":
        from ._nccl import NCCLCommunicator

        return NCCLCommunicator(backend, **options)
    from ._mpi import MPICommunicator

    return MPICommunicator(backend, **options)


@dataclass(frozen=True)
class TransportStatus:
    """One line of ``ffnn info``: a transport, whether it can be used here, and why not."""

    name: str
    available: bool
    detail: str


def available_transports() -> list[TransportStatus]:
    """What this machine offers, without initialising MPI: MPI needs mpi4py; NCCL
    needs mpi4py, CuPy with NCCL bindings and a usable GPU."""
    from backends import BackendUnavailableError, get_backend, gpu_available

    mpi = _mpi_installed()
    statuses = [
        TransportStatus("single", True, "always"),
        TransportStatus("mpi", mpi, "mpi4py installed" if mpi else "pip install 'ffnn[mpi]'"),
    ]
    if not gpu_available("cupy"):
        statuses.append(TransportStatus("nccl", False, "needs CuPy with a usable GPU"))
        return statuses
    try:
        usable = _nccl_usable(get_backend("cupy"))
    except BackendUnavailableError as exc:
        return [*statuses, TransportStatus("nccl", False, str(exc))]
    detail = "CuPy NCCL bindings" if usable else "CuPy has no usable NCCL"
    if usable and not mpi:
        detail, usable = "NCCL found, but its bootstrap needs mpi4py: pip install 'ffnn[mpi]'", False
    return [*statuses, TransportStatus("nccl", usable, detail)]
