"""What the numbers were measured on: CPU, threads, library versions, git revision."""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["machine_info", "set_threads"]

_PACKAGES = ("numpy", "torch", "scikit-learn", "array-api-compat", "array-api-strict", "cupy-cuda12x",
             "cupy-cuda13x", "jax", "threadpoolctl", "ffnn")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _limit_xla(threads: int) -> None:
    """JAX's CPU backend keeps its own pool (all cores): for a 1-thread run, make it one
    thread too. XLA reads XLA_FLAGS when its backend starts, so this only takes effect
    when no JAX computation has run yet in this process (see :func:`xla_threads`)."""
    if threads == 1 and XLA_ONE_THREAD not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_ONE_THREAD}".strip()


def xla_threads() -> str:
    """What the JAX CPU pool uses, as far as this process can tell."""
    if XLA_ONE_THREAD in os.environ.get("XLA_FLAGS", ""):
        return "1 (XLA_FLAGS, effective if set before JAX's first computation)"
    return "all cores (XLA's default)"


def set_threads(threads: int) -> Any:
    """Limit every BLAS/OpenMP pool to ``threads`` and PyTorch's intra-op pool alike.

    PyTorch and scikit-learn (with SciPy's own OpenBLAS) are imported first, so that
    their pools exist when the limit is applied. Returns the threadpoolctl limiter
    (keep it alive for the duration of the run).
    """
    from threadpoolctl import threadpool_limits

    for name in ("torch", "sklearn.neural_network"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    limiter = threadpool_limits(limits=threads)
    _limit_xla(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    return limiter


def machine_info(threads: int) -> dict[str, Any]:
    """CPU model and count, the thread pools in use, library versions, Python, git HEAD, time."""
    from threadpoolctl import threadpool_info

    pools = [
        {k: pool.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture", "prefix")}
        for pool in threadpool_info()
    ]
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "thread_pools": pools,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(),
        "git_revision": _git_revision(),
        "load_average_at_start": list(os.getloadavg()),
        "jax_cpu_threads": xla_threads(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
    except ImportError:
        pass
    return info
