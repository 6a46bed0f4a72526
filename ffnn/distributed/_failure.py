"""When one rank fails, stop them all; and checks that every rank holds the same values."""

from __future__ import annotations

import hashlib
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ._comm import Communicator

__all__ = ["abort_on_failure", "checksum", "verify_identical"]


def _failure_message(comm: Communicator, exc: BaseException) -> str:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"rank {comm.rank} of {comm.size} failed with {what}; aborting all {comm.size} ranks (MPI_Abort)"


@contextmanager
def abort_on_failure(comm: Communicator) -> Iterator[None]:
    """Within the block, an exception on any rank prints its traceback and a one-line
    message naming the rank, then aborts the whole job (``comm.abort``), so that the
    other ranks, perhaps waiting in a collective, do not hang.

    Uncaught exceptions in other threads (``threading.excepthook``) and at the top
    level (``sys.excepthook``) abort too while the block runs; both hooks are put
    back on exit. ``SystemExit`` with status 0 or None passes through. With one rank
    the block runs unchanged and exceptions propagate as usual.
    """
    if comm.size == 1:
        yield
        return

    def fail(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))  # one write: forwarded whole
        sys.stderr.flush()
        comm.abort(_failure_message(comm, exc))

    saved_sys, saved_threads = sys.excepthook, threading.excepthook
    sys.excepthook = fail
    threading.excepthook = lambda args: fail(args.exc_type, args.exc_value, args.exc_traceback)  # type: ignore[arg-type]
    try:
        yield
    except SystemExit as exc:
        if exc.code not in (0, None):
            fail(type(exc), exc, exc.__traceback__)
        raise
    except BaseException as exc:  # any failure must take the job down
        fail(type(exc), exc, exc.__traceback__)
        raise
    finally:
        sys.excepthook, threading.excepthook = saved_sys, saved_threads


def checksum(comm: Communicator, arrays: Mapping[str, Any] | Sequence[Any]) -> str:
    """BLAKE2b hex digest of the arrays' shapes, dtypes and bytes (read to the host
    once through :mod:`backends`): equal digests mean bitwise-equal values."""
    items = list(arrays.items()) if isinstance(arrays, Mapping) else list(enumerate(arrays))
    digest = hashlib.blake2b(digest_size=16)
    for name, array in items:
        host = comm.backend.to_numpy(array)
        digest.update(f"{name}:{host.shape}:{host.dtype.str};".encode())
        digest.update(host.tobytes())
    return digest.hexdigest()


def verify_identical(comm: Communicator, arrays: Mapping[str, Any] | Sequence[Any], *, what: str = "parameters") -> str:
    """Check that every rank holds bitwise the same ``arrays`` as rank 0.

    Rank 0 broadcasts its :func:`checksum`; each rank compares, and the verdict is
    all-reduced, so that every rank returns or raises together.

    Returns
    -------
    str
        The common checksum.

    Raises
    ------
    RuntimeError
        On every rank, naming the ranks whose ``what`` differ from rank 0's.
    """
    mine = checksum(comm, arrays)
    reference = comm.bcast(mine, root=0)
    flags = [0.0] * comm.size
    flags[comm.rank] = float(mine != reference)
    differ = [r for r, flag in enumerate(comm.allreduce_scalars(flags)) if flag]
    if differ:
        msg = (
            f"the {what} of rank(s) {differ} differ from rank 0's (checksum {reference}); every rank must "
            "build the network from the same seed, data and options"
        )
        raise RuntimeError(msg)
    return reference
