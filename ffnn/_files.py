"""Writing user files safely: refuse to replace what must be kept, write atomically (temporary file +
rename or exclusive link), and clean up what killed writers leave behind."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable
from typing import IO, Any

try:
    import fcntl
except ImportError:  # no advisory file locks (Windows): leftovers are not cleaned
    fcntl = None  # type: ignore[assignment]

__all__ = ["KEPT", "check_target", "remove_stale_temporaries", "temporaries", "write_atomically"]

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


def write_atomically(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, replace: bool = True) -> None:
    """Write the file at ``path`` through ``write(handle)`` so that it holds either its
    previous content or the complete new one, never a part.

    ``write`` fills a new temporary file beside ``path``
    (``.<name>.<random>.tmp``, locked while in use); the file is flushed to disk
    (fsync), given the permissions of the file it replaces (or, for a new file, the
    usual ones: 0o666 less the umask) and moved to ``path``; the folder is then
    synced where the system allows, so the move itself survives a crash. If
    anything fails, the temporary file is removed and ``path`` is untouched. A
    process killed during a write (``kill -9``, power loss) cannot remove its
    temporary file: the next write to the same ``path`` removes every such
    leftover that no live writer holds.

    Parameters
    ----------
    path : str or PathLike
    write : callable
        Called once with the open binary handle.
    replace : bool, default True
        Whether the new file may replace one already at ``path`` (atomically,
        :func:`os.replace`). With False the file is created only if ``path`` is
        still free when the write ends, in one atomic step (a hard link): of
        several processes writing the same new path at once, exactly one
        succeeds and the others get FileExistsError.

    Raises
    ------
    FileExistsError
        ``replace`` is False and a file appeared at ``path`` during the write; it
        is kept.
    OSError
        The folder cannot be written, the disk is full, …: the message names
        ``path`` and its folder (never the temporary file).
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    remove_stale_temporaries(target)
    try:
        mode = os.stat(target).st_mode & 0o777 if os.path.exists(target) else 0o666 & ~_umask()
        handle, temporary = _locked_temporary(target)
    except OSError as exc:
        raise _naming(exc, target, directory) from exc
    try:
        with handle:  # closing releases the lock: only once the temporary name is gone
            try:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
                os.chmod(temporary, mode)
                if replace:
                    os.replace(temporary, target)
                else:
                    _create_exclusively(temporary, target)
            except FileExistsError:
                raise
            except OSError as exc:
                raise _naming(exc, target, directory) from exc
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


def temporaries(path: str | os.PathLike[str]) -> list[str]:
    """The temporary files of :func:`write_atomically` for ``path`` now in its folder
    (in use by a writer or left by one that was killed)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    pattern = re.compile(re.escape(f".{os.path.basename(target)}.") + r"[a-z0-9_]{8}\.tmp")
    try:
        with os.scandir(directory) as entries:
            return [
                entry.path
                for entry in entries
                if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
            ]
    except OSError:
        return []


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files that killed writers left for ``path`` (those no
    live writer holds locked); returns the paths removed. Needs file locks
    (``fcntl``); elsewhere it removes nothing."""
    if fcntl is None:
        return []
    removed = []
    for leftover in temporaries(path):
        try:
            fd = os.open(leftover, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(leftover, fd):  # still the file that was locked
                os.unlink(leftover)
                removed.append(leftover)
        except OSError:  # locked by a live writer, or already gone
            continue
        finally:
            os.close(fd)
    return removed


def _locked_temporary(target: str) -> tuple[IO[bytes], str]:
    """A new temporary file beside ``target``, open for writing and locked (so no
    cleanup by another writer removes it), with its name."""
    directory = os.path.dirname(os.path.abspath(target))
    while True:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system: cleanups cannot lock (nor remove) it either
            return os.fdopen(fd, "wb"), temporary
        if fcntl is None or _same_file(temporary, fd):
            return os.fdopen(fd, "wb"), temporary
        os.close(fd)  # a cleanup took the file between its creation and the lock: draw another


def _same_file(path: str, fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(path, follow_symlinks=False), os.fstat(fd))
    except OSError:
        return False


def _create_exclusively(temporary: str, target: str) -> None:
    """Give the complete ``temporary`` the name ``target`` only if no file has it, atomically."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise FileExistsError(_appeared(target)) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        try:  # no hard links here: claim the name first, then move the file onto it
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise FileExistsError(_appeared(target)) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


def _appeared(target: str) -> str:
    return f"refusing to overwrite {target!r}: the file was created (by another process?) while this one was written"


_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


def _naming(exc: OSError, target: str, directory: str) -> OSError:
    """``exc`` restated to name the target and its folder instead of a temporary file."""
    reason = exc.strerror or str(exc)
    message = f"cannot write {target!r} (in the folder {directory!r}): {reason}"
    try:
        restated = type(exc)(message)
    except TypeError:  # an OSError subclass with another constructor
        restated = OSError(message)
    restated.errno = exc.errno
    return restated


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
