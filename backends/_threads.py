"""Thread pools of the array libraries: limit them, and describe them (``ffnn info``)."""

from __future__ import annotations

import sys
from typing import Any

from ._registry import BackendUnavailableError

__all__ = ["set_threads", "thread_pools"]

_LIMITERS: list[Any] = []  # keeps threadpoolctl's limiter alive for the process


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError as exc:
        msg = "limiting BLAS/OpenMP threads needs threadpoolctl, which is not installed: pip install threadpoolctl"
        raise BackendUnavailableError(msg) from exc
    return threadpoolctl


def set_threads(n: int) -> list[str]:
    """Limit the CPU thread pools to ``n`` threads each, for the rest of the process.

    The BLAS and OpenMP pools loaded so far (NumPy's OpenBLAS/MKL, PyTorch's) through
    threadpoolctl, and PyTorch's intra-op pool (``torch.set_num_threads``) when
    torch is already imported. Call it after selecting the backend (pools loaded
    later are not limited). JAX's pool is fixed when it starts
    (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` to limit it).

    Parameters
    ----------
    n : int
        Threads per pool, at least 1.

    Returns
    -------
    list of str
        One line per pool limited.

    Raises
    ------
    ValueError
        ``n`` is not a positive integer.
    BackendUnavailableError
        threadpoolctl is not installed.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = f"threads must be a positive integer, got {n!r}"
        raise ValueError(msg)
    threadpoolctl = _threadpoolctl()
    limiter = threadpoolctl.threadpool_limits(limits=n)
    _LIMITERS.append(limiter)
    lines = [f"{pool['internal_api']} ({pool['user_api']}): {n} threads" for pool in threadpoolctl.threadpool_info()]
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
        lines.append(f"torch intra-op: {n} threads")
    return lines


def thread_pools() -> list[dict[str, Any]]:
    """The CPU thread pools of this process, for display (``ffnn info``).

    Each entry has ``"pool"`` (e.g. ``"openblas"``, ``"torch intra-op"``),
    ``"api"`` (``"blas"``, ``"openmp"``, ``"torch"``), ``"threads"`` and
    ``"library"`` (the shared library's path or the module). threadpoolctl's pools
    are listed only when it is installed; torch's only when torch is imported.
    """
    pools: list[dict[str, Any]] = []
    try:
        threadpoolctl = _threadpoolctl()
    except BackendUnavailableError:
        threadpoolctl = None
    if threadpoolctl is not None:
        for pool in threadpoolctl.threadpool_info():
            pools.append(
                {
                    "pool": pool["internal_api"],
                    "api": pool["user_api"],
                    "threads": pool["num_threads"],
                    "library": pool["filepath"],
                }
            )
    torch = sys.modules.get("torch")
    if torch is not None:
        pools.append({"pool": "torch intra-op", "api": "torch", "threads": torch.get_num_threads(), "library": "torch"})
    return pools
