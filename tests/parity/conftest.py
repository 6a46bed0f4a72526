"""The backends the parity suite compares with NumPy, the reference: every other one of the matrix,
plus torch on a GPU."""

from __future__ import annotations

import pytest

from backends import Backend
from tests.conftest import MATRIX, make_backend

OTHERS = [param for param in MATRIX if param.id != "numpy"] + [
    pytest.param(("torch", "cuda:0"), id="torch-cuda", marks=pytest.mark.gpu),
]


@pytest.fixture(params=OTHERS)
def other(request: pytest.FixtureRequest) -> Backend:
    """Each non-NumPy backend in turn (skipped with the reason when it cannot run here)."""
    return make_backend(*request.param)
