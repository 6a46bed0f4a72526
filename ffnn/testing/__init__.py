"""Parity helpers users can call: compare arrays of any backend
(:func:`assert_close`, in :mod:`._compare`), and whole training runs across backends
(:func:`compare_backends`, in :mod:`._parity`)."""

from __future__ import annotations

from ._compare import RTOL, TRAINING_RTOL, assert_close
from ._parity import BackendParity, ParityConfig, ParityResult, checkpoints, compare_backends

__all__ = [
    "RTOL",
    "TRAINING_RTOL",
    "BackendParity",
    "ParityConfig",
    "ParityResult",
    "assert_close",
    "checkpoints",
    "compare_backends",
]
