"""Reading NumPy .npz archives from untrusted files: every zip member and .npy header is
checked against what the file can really hold before anything is allocated; no pickle."""

from __future__ import annotations

import errno
import math
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

__all__ = ["ArchiveError", "ArrayHeader", "SafeArchive"]

NPY_SUFFIX = ".npy"
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
"""The compression methods read: np.savez stores, np.savez_compressed deflates."""
MAX_DEFLATE_RATIO = 1100
"""Deflate cannot expand data more than about 1032 times: a member claiming more is refused."""
_ENCRYPTED = 0x1 | 0x40  # zip general-purpose flags: encrypted, strongly encrypted
_CHUNK = 1 << 24
_LOCAL_HEADER = 30  # bytes of a zip local file header before its name
_PICKLE_PROTOCOL_2 = 0x80
_DAMAGED_STREAM = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


class ArchiveError(Exception):
    """The file cannot be read as a safe .npz archive; the message says why (not which file)."""


@dataclass(frozen=True)
class ArrayHeader:
    """What an .npy member declares, checked against the member's real size."""

    key: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{self.dtype.newbyteorder('=').name}{list(self.shape)}"


class SafeArchive:
    """An .npz archive opened for checked reading.

    Opening checks the file itself (a regular file, a zip archive) and the zip
    central directory of every member: a name ``<key>.npy`` given once, no
    encryption, a method in :data:`METHODS`, and sizes that fit in the file. Each
    array's .npy header is read (without pickle) and its declared shape and dtype
    must account for the member's size exactly; object dtypes are refused. Reading
    an array then takes only the bytes its checked header declares, as they arrive,
    and verifies the zip CRC-32 of the whole member. Memory is thus bounded by the
    file's size: equal to it for stored members (what np.savez writes), at most
    :data:`MAX_DEFLATE_RATIO` times it for deflated ones, and only as far as their
    data really inflates.

    Raises
    ------
    FileNotFoundError
        No such file.
    ArchiveError
        For everything else, with the reason.
    """

    def __init__(self, path: str) -> None:
        self._handle = _open_regular(path)
        try:
            self._zip = _open_zip(self._handle)
            self._members = _members(self._zip, os.fstat(self._handle.fileno()).st_size)
        except BaseException:
            self._handle.close()
            raise
        self._headers: dict[str, ArrayHeader] = {}

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    @property
    def keys(self) -> list[str]:
        """The array names, in archive order."""
        return list(self._members)

    def header(self, key: str) -> ArrayHeader:
        """The checked .npy header of member ``key`` (read once)."""
        if key not in self._headers:
            with self._open(key) as member:
                self._headers[key] = _read_header(key, member, self._members[key].file_size)
        return self._headers[key]

    def read(self, key: str) -> np.ndarray:
        """The array ``key``: native byte order, C-contiguous, writable, a copy of the file's bytes."""
        header = self.header(key)
        with self._open(key) as member:
            try:
                _skip(member, header.offset)
                buffer = _read_exactly(member, header.nbytes)
                if member.read(1):  # reading past the end also checks the zip CRC-32
                    raise ArchiveError("the member holds more bytes than it declares")
            except ArchiveError as exc:
                raise ArchiveError(f"truncated or corrupt: array {key!r} cannot be read ({exc})") from None
            except Exception as exc:  # zipfile and zlib report damage with many types
                raise ArchiveError(f"truncated or corrupt: array {key!r} cannot be read ({_reason(exc)})") from exc
        flat = np.frombuffer(buffer, dtype=header.dtype)
        shaped = flat.reshape(header.shape, order="F" if header.fortran_order else "C")
        return np.ascontiguousarray(shaped.astype(header.dtype.newbyteorder("=")))

    def _open(self, key: str) -> IO[bytes]:
        try:
            return self._zip.open(self._members[key])
        except Exception as exc:
            raise ArchiveError(f"truncated or corrupt: array {key!r} cannot be read ({_reason(exc)})") from exc


def _open_regular(path: str) -> IO[bytes]:
    """The file at ``path`` opened for reading, if it is a regular file (never blocks on a FIFO)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ArchiveError("it is a directory, not a model file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArchiveError("it is a loop of symbolic links") from None
        raise ArchiveError(f"the file cannot be opened ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise ArchiveError(f"it is {kind}, not a model file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _open_zip(handle: IO[bytes]) -> zipfile.ZipFile:
    start = handle.read(8)
    handle.seek(0)
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if not start:
            raise ArchiveError("truncated or corrupt: the file is empty")
        if start.startswith(b"\x93NUMPY"):
            raise ArchiveError("not an ffnn model file: it is a single .npy array, not an .npz archive")
        if start[0] == _PICKLE_PROTOCOL_2:
            raise ArchiveError("not an ffnn model file: it holds pickled data, which ffnn never loads")
        raise ArchiveError("not an ffnn model file: it is not a NumPy .npz archive")
    try:
        return zipfile.ZipFile(handle)
    except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError, … on damaged directories
        raise ArchiveError(f"truncated or corrupt, not a readable .npz archive ({_reason(exc)})") from exc


def _members(archive: zipfile.ZipFile, file_size: int) -> dict[str, zipfile.ZipInfo]:
    """The members by array name, after checking each central-directory entry."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        if not name.endswith(NPY_SUFFIX) or name.endswith("/"):
            raise ArchiveError(f"not an ffnn model file: member {name!r} is not an .npy array")
        key = name[: -len(NPY_SUFFIX)]
        if key in members:
            raise ArchiveError(f"corrupt: the member {name!r} appears twice")
        if info.flag_bits & _ENCRYPTED:
            raise ArchiveError(f"member {name!r} is encrypted; ffnn model files never are")
        if info.compress_type not in METHODS:
            known = " or ".join(METHODS.values())
            msg = f"member {name!r} uses zip compression method {info.compress_type}; ffnn reads {known} members"
            raise ArchiveError(msg)
        end = info.header_offset + _LOCAL_HEADER + len(name) + info.compress_size
        stored = info.compress_type == zipfile.ZIP_STORED
        if (
            info.header_offset < 0
            or end > file_size
            or (stored and info.file_size != info.compress_size)
            or info.file_size > max(info.compress_size, 64) * MAX_DEFLATE_RATIO
        ):
            msg = (
                f"truncated or corrupt: member {name!r} claims {info.file_size} bytes "
                f"({info.compress_size} in the archive at offset {info.header_offset}), "
                f"which a {file_size}-byte file cannot hold"
            )
            raise ArchiveError(msg)
        members[key] = info
    return members


def _read_header(key: str, member: IO[bytes], size: int) -> ArrayHeader:
    """The .npy header at the start of ``member`` (``size`` bytes long), checked."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ArchiveError(f".npy format version {version[0]}.{version[1]} is not one ffnn writes")
        offset = member.tell()
    except ArchiveError as exc:
        raise ArchiveError(f"truncated or corrupt: array {key!r} has an invalid header ({exc})") from None
    except _DAMAGED_STREAM as exc:  # the member's bytes cannot be read back (CRC, inflate, end of file)
        raise ArchiveError(f"truncated or corrupt: array {key!r} cannot be read ({_reason(exc)})") from exc
    except Exception as exc:  # ValueError, SyntaxError, … from a header numpy cannot parse
        raise ArchiveError(f"truncated or corrupt: array {key!r} has an invalid header ({_reason(exc)})") from exc
    if dtype.hasobject:
        raise ArchiveError(f"array {key!r} holds pickled Python objects, which ffnn model files never do")
    header = ArrayHeader(key, dtype, tuple(shape), bool(fortran_order), offset)
    if any(n < 0 for n in header.shape) or offset + header.nbytes != size:
        msg = (
            f"truncated or corrupt: array {key!r} declares {header.describe()} "
            f"({header.nbytes} bytes), but its member holds {size - offset} bytes of data"
        )
        raise ArchiveError(msg)
    return header


def _skip(member: IO[bytes], count: int) -> None:
    if len(member.read(count)) != count:
        raise ArchiveError("the member ends inside its header")


def _read_exactly(member: IO[bytes], count: int) -> bytearray:
    """``count`` bytes of ``member``; memory grows only as data really arrives (a deflated
    member that declares more than it inflates to is refused before its declared size is
    allocated)."""
    buffer = bytearray()
    while len(buffer) < count:
        chunk = member.read(min(_CHUNK, count - len(buffer)))
        if not chunk:
            raise ArchiveError(f"the member ends after {len(buffer)} of {count} data bytes")
        buffer += chunk
    return buffer


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
