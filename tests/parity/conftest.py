"""The backends the parity suite compares with NumPy, the reference: every other one of the matrix,
plus torch on a GPU."""

from __future__ import annotations

import pytest

from backends import Backend, backend_status, get_backend, gpu_available
from tests.conftest import MATRIX

OTHERS = [param for param in MATRIX if param.id != "numpy"] + [
    pytest.param(("torch", "cuda:0"), id="torch-cuda", marks=pytest.mark.gpu),
]


def open_backend(name: str, device: str) -> Backend:
    """The backend on ``device``, or a skip naming why it cannot run here."""
    status = backend_status(name)
    if not status.usable:
        pytest.skip(f"{name} not usable here: {status.reason}")
    if device.startswith("cuda") and not gpu_available(name):
        pytest.skip(f"{name} is installed but has no usable CUDA device here")
    return get_backend(name, device)


@pytest.fixture(params=OTHERS)
def other(request: pytest.FixtureRequest) -> Backend:
    """Each non-NumPy backend in turn (skipped with the reason when it cannot run here)."""
    name, device = request.param
    return open_backend(name, device)
