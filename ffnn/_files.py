"""Writing user files safely: refuse to replace what must be kept, write atomically (temporary file + rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

__all__ = ["KEPT", "check_target", "write_atomically"]

KEPT = "the file exists and is kept"
"""The reason given when ``check_target(..., replace=False)`` finds a file."""


def check_target(path: str | os.PathLike[str], *, replace: bool | Callable[[str], str | None] = False) -> str:
    """Check, before any work is done, that a file may be written at ``path``.

    Parameters
    ----------
    path : str or PathLike
    replace : bool or callable, default False
        Whether a file already at ``path`` may be replaced: True, False, or a
        function of the path that returns None when it may and otherwise the
        reason it may not.

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory.
    FileNotFoundError
        The folder of ``path`` does not exist.
    FileExistsError
        A file exists at ``path`` and may not be replaced; it is left untouched.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if os.path.isdir(target):
        msg = f"cannot write {target!r}: it is a directory; give a file name"
        raise IsADirectoryError(msg)
    if not os.path.isdir(folder):
        msg = f"cannot write {target!r}: the folder {folder!r} does not exist"
        raise FileNotFoundError(msg)
    if os.path.exists(target):
        reason = replace(target) if callable(replace) else None if replace else KEPT
        if reason is not None:
            msg = f"refusing to overwrite {target!r}: {reason}"
            raise FileExistsError(msg)
    return target


def write_atomically(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Write the file at ``path`` through ``write(handle)`` so that it holds either its
    previous content or the complete new one, never a part.

    ``write`` fills a new temporary file beside ``path``; the file is flushed to
    disk (fsync), given the permissions of the file it replaces (or, for a new
    file, the usual ones: 0o666 less the umask) and renamed over ``path``
    (:func:`os.replace`); the folder is then synced where the system allows, so the
    rename itself survives a crash. If anything fails, the temporary file is
    removed and ``path`` is untouched.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    mode = os.stat(target).st_mode & 0o777 if os.path.exists(target) else 0o666 & ~_umask()
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
