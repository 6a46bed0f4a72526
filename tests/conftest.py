"""The backend matrix: every test that takes `backend` runs on each usable library."""

from __future__ import annotations

import importlib
import os
from collections import Counter, defaultdict
from typing import Any

import pytest

from backends import Backend, backend_status, get_backend

# (name, device): array_api_strict runs on a non-default device so that any array
# created without `device=` fails loudly.
MATRIX = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", "device1"), id="array_api_strict"),
    pytest.param(("torch", "cpu"), id="torch"),
    pytest.param(("jax", "cpu"), id="jax"),
    pytest.param(("cupy", "cuda:0"), id="cupy", marks=pytest.mark.gpu),
    pytest.param(("torch", "cuda:0"), id="torch-cuda", marks=pytest.mark.gpu),
    pytest.param(("jax", "cuda:0"), id="jax-gpu", marks=pytest.mark.gpu),
]

# dask (through array_api_compat.dask.array) is not in the default matrix: ffnn reads
# `x.device`, which dask arrays lack, and each test takes seconds (every bool()/float()
# computes a task graph). FFNN_TEST_DASK=1 adds it, to check the library on it.
if os.environ.get("FFNN_TEST_DASK") == "1":
    MATRIX.append(pytest.param(("dask", None), id="dask"))

# Backends given as an Array API namespace module rather than a registered name.
NAMESPACE_BACKENDS = {"dask": "array_api_compat.dask.array"}


def make_backend(name: str, device: str | None) -> Backend:
    """The backend on ``device``, or a skip naming why it cannot run here (the library
    is missing or unusable, or the CUDA device asked for does not exist)."""
    if name in NAMESPACE_BACKENDS:
        pytest.importorskip(name, reason=f"{name} not installed")
        return get_backend(importlib.import_module(NAMESPACE_BACKENDS[name]), device)
    status = backend_status(name)
    if not status.usable:
        pytest.skip(f"{name} not usable here: {status.reason}")
    if device is not None and device.startswith("cuda") and device not in status.devices:
        pytest.skip(f"{name} is installed but has no usable CUDA device {device} here")
    return get_backend(name, device)


@pytest.fixture(params=MATRIX)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each usable backend of the matrix in turn (skipped with the reason otherwise)."""
    return make_backend(*request.param)


# ---------------------------------------------------------------------- the run's summary
_BACKEND_IDS = ("numpy", "array_api_strict", "torch", "torch-cuda", "jax", "jax-gpu", "cupy", "dask")


def _backend_of(nodeid: str) -> str:
    """The backend a test ran on, from its parameter id ("…[torch-cuda-float32]"), or "-"."""
    params = nodeid.rpartition("[")[2].rstrip("]") if nodeid.endswith("]") else ""
    padded = f"-{params}-"
    for name in sorted(_BACKEND_IDS, key=len, reverse=True):  # "torch-cuda" before "torch"
        if f"-{name}-" in padded:
            return name
    return "-"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A compact picture of the run instead of one line per skip: per backend, how many
    tests passed, failed and were skipped; then each distinct skip reason once, with
    how many tests it skipped."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            if not isinstance(report, pytest.TestReport) or (outcome == "passed" and report.when != "call"):
                continue
            outcomes[_backend_of(report.nodeid)][outcome] += 1
            if outcome == "skipped":
                reasons[_skip_reason(report)] += 1
    if not outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("tests per backend", sep="-")
    order = [*_BACKEND_IDS, "-"]
    for name in sorted(outcomes, key=order.index):
        counts = ", ".join(f"{n} {what}" for what, n in outcomes[name].items())
        write(f"{'(no backend parameter)' if name == '-' else name:<24} {counts}")
    if reasons:
        write("skip reasons (each once, with the number of tests it skipped):")
        for reason, n in reasons.most_common():
            write(f"  {n:>4} × {reason}")
