"""``ffnn info``: version, backends, devices and CPU thread pools."""

from __future__ import annotations

import argparse
import platform
from typing import Any

import numpy as np

from backends import KNOWN_BACKENDS, BackendUnavailableError, backend_status, get_backend

from ._common import EXIT_OK, add_threads_option, apply_threads, table


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ffnn info``."""
    parser = subparsers.add_parser(
        "info",
        help="version, backends, devices and thread pools",
        description="Show ffnn's version, every backend's status, and the CPU thread pools of the loaded libraries.",
    )
    add_threads_option(parser)
    parser.set_defaults(func=run)
    return parser


def thread_pools() -> list[tuple[str, str, str]]:
    """(library, API, threads) of each BLAS/OpenMP pool loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    rows = []
    for pool in threadpool_info():
        name = pool.get("internal_api") or pool.get("prefix") or "?"
        rows.append((str(pool.get("prefix", name)), str(pool.get("user_api", "?")), str(pool.get("num_threads", "?"))))
    return rows


def run(args: argparse.Namespace) -> int:
    """``ffnn info``: returns the exit status."""
    from .. import __version__

    print(f"ffnn {__version__} (Python {platform.python_version()}, NumPy {np.__version__})")
    print()
    rows = [("backend", "status", "version", "devices")]
    notes = []
    for name in (n for n in KNOWN_BACKENDS if n != "auto"):
        status = backend_status(name)
        state = "usable" if status.usable else ("no device" if status.installed else "not installed")
        rows.append((name, state, status.version or "-", ", ".join(status.device_labels) or "-"))
        if not status.installed:
            notes.append(f"{name}: {status.install}")
        elif not status.usable:
            notes.append(f"{name}: {status.reason}")
    print(table(rows))
    if notes:
        print("\n" + "\n".join(notes))
    try:
        auto = get_backend("auto")
        print(f"\n--backend auto uses {auto.name} on {auto.device_name}")
    except BackendUnavailableError as exc:
        print(f"\n--backend auto: {exc}")
    apply_threads(args.threads)
    pools = thread_pools()
    print("\nCPU thread pools (set with --threads N):")
    print(
        table([("library", "api", "threads"), *pools]) if pools else "none loaded (threadpoolctl sees no BLAS/OpenMP)"
    )
    from ..distributed import available_transports

    print("\nDistributed transports (mpiexec -n N ffnn train --distributed):")
    print(
        table(
            [("transport", "available", "detail")]
            + [(t.name, "yes" if t.available else "no", t.detail) for t in available_transports()]
        )
    )
    return EXIT_OK
