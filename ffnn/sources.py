"""Training data read by rows: in memory, a NumPy memory map, or a ``.npy`` file, one batch at a time.

A :class:`RowSource` reads only the rows asked for (a sorted gather, handed back in
the order asked), so that a data set larger than memory trains with flat memory;
:class:`BatchStream` turns an epoch's order into device batches, each rank reading
only its share of every global batch, with the next batch read (and, where the
backend allows, copied to the device) by a background thread while the current
step runs.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import Interval
from .distributed._shares import batch_bounds, rank_rows

if TYPE_CHECKING:
    from typing_extensions import Self

    from backends import Backend

__all__ = ["BatchStream", "RowSource", "open_rows"]


def _npy_header(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, offset of the data) of a C-ordered ``.npy`` file, without reading the data."""
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                msg = (
                    f"{path!r} is a .npy file of format version {version}; save it with numpy.save (version 1.0 or 2.0)"
                )
                raise ValueError(msg)
            shape, fortran, dtype = readers[version](handle)
        except ValueError as exc:
            if "format version" in str(exc):
                raise
            msg = f"{path!r} is not a readable .npy file ({exc})"
            raise ValueError(msg) from exc
        offset = handle.tell()
    if dtype.hasobject:
        msg = f"{path!r} holds Python objects ({dtype}); ffnn reads numeric .npy files only (no pickle)"
        raise ValueError(msg)
    if fortran and len(shape) > 1:
        msg = (
            f"{path!r} is stored in Fortran (column) order, so its rows are not contiguous; "
            "save it row-major: numpy.save(path, numpy.ascontiguousarray(a))"
        )
        raise ValueError(msg)
    if not shape:
        msg = f"{path!r} holds a 0-d array; rows need at least one dimension"
        raise ValueError(msg)
    return tuple(shape), dtype, offset


class RowSource:
    """Rows of a host array, read on demand.

    Parameters
    ----------
    data : numpy.ndarray, numpy.memmap, str or PathLike
        An array (rows first; a memory map is read only where indexed) or the path
        of a ``.npy`` file. A file is never mapped nor loaded: each :meth:`take`
        reads the requested rows with positioned reads (``os.preadv``), so neither
        the resident memory nor the address space grows with the file (a mapping
        would count against ``ulimit -v`` and keep touched pages resident).

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
    path : str or None
        The file read, when ``data`` was a path.
    bytes_read : int
        Bytes read from the file so far (0 for arrays).

    Raises
    ------
    FileNotFoundError
        No file at the path.
    ValueError
        Not a ``.npy`` file, a Fortran-ordered or 0-d array, or an object array.
    TypeError
        ``data`` is neither a NumPy array nor a path.
    """

    def __init__(self, data: Any) -> None:
        self.path: str | None = None
        self.bytes_read = 0
        self._fd: int | None = None
        if isinstance(data, np.ndarray):
            if data.ndim == 0:
                msg = "a 0-d array has no rows; pass an array of shape (m, ...)"
                raise ValueError(msg)
            self._array: np.ndarray | None = data
            self.shape, self.dtype = tuple(data.shape), data.dtype
            return
        if not isinstance(data, (str, os.PathLike)):
            msg = f"expected a NumPy array, memory map or the path of a .npy file, got {type(data).__name__}"
            raise TypeError(msg)
        self.path = os.fspath(data)
        if not os.path.isfile(self.path):
            msg = f"no .npy file at {self.path!r}"
            raise FileNotFoundError(msg)
        self.shape, self.dtype, self._offset = _npy_header(self.path)
        self._array = None
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        where = f"file={self.path!r}" if self.path else "in memory"
        return f"RowSource({where}, shape={self.shape}, dtype={self.dtype})"

    def close(self) -> None:
        """Close the file (arrays need nothing)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def take(self, rows: Any) -> np.ndarray:
        """The rows ``rows`` (1-D integers, any order, repeats allowed) as a new host array
        of shape (len(rows), *shape[1:]), in the order given.

        The rows are read in increasing order (one read per run of consecutive rows for
        a file), then put back in the order asked for.

        Raises
        ------
        IndexError
            A row outside [0, len).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1:
            msg = f"rows must be 1-D, got shape {rows.shape}"
            raise ValueError(msg)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            msg = f"rows must lie in [0, {len(self)}), got values from {rows.min()} to {rows.max()}"
            raise IndexError(msg)
        ascending = bool(np.all(rows[1:] >= rows[:-1]))
        position = None if ascending else np.argsort(rows, kind="stable")
        wanted = rows if position is None else rows[position]
        data = self._gather(wanted)
        if position is None:
            return data
        restored = np.empty_like(data)
        restored[position] = data
        return restored

    def _gather(self, ascending: np.ndarray) -> np.ndarray:
        if self._array is not None:
            return np.asarray(np.take(self._array, ascending, axis=0))
        if self._fd is None:
            msg = f"{self!r} is closed"
            raise ValueError(msg)
        out = np.empty((ascending.shape[0], *self.shape[1:]), dtype=self.dtype)
        flat = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        breaks = np.flatnonzero(np.diff(ascending) != 1) + 1  # runs of consecutive rows: one read each
        starts = np.concatenate(([0], breaks))
        stops = np.concatenate((breaks, [ascending.shape[0]]))
        size = self._row_bytes
        for lo, hi in zip(starts.tolist(), stops.tolist()):
            if lo == hi:
                continue
            self._read_into(flat[lo * size : hi * size], self._offset + int(ascending[lo]) * size)
        return out

    def _read_into(self, target: memoryview, offset: int) -> None:
        done = 0
        while done < len(target):
            count = os.preadv(self._fd, [target[done:]], offset + done)  # type: ignore[arg-type]
            if count <= 0:
                msg = f"{self.path!r} ended early: the file is shorter than its header says"
                raise OSError(msg)
            done += count
        self.bytes_read += done


def open_rows(data: Any) -> RowSource:
    """``data`` as a :class:`RowSource` (returned as is when it already is one)."""
    return data if isinstance(data, RowSource) else RowSource(data)


_END = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class BatchStream:
    """The batches of one epoch as device arrays: for each global batch
    ``order[start:stop]``, this rank's share read from the sources and moved to the backend.

    Parameters
    ----------
    x : RowSource, array or path
        Inputs, rows first.
    y : RowSource, array, path or None
        Targets with as many rows (None: batches are (xb, None)).
    order : 1-D integer NumPy array, optional
        The epoch's permutation of the rows (default: 0..m−1).
    batch_size : int
        The global batch size M (the last batch may be partial).
    backend : Backend
    dtype : {"float32", "float64"}, optional
        Floating sources are cast to it on the host, before the copy; integer
        sources (labels) keep their dtype. None keeps the sources' dtypes.
    rank, size : int, default 0, 1
        Which share of each global batch to read (:func:`ffnn.distributed.rank_rows`).
    prefetch : int ≥ 0, default 1
        Batches read ahead by a background thread (its host reads and the transfer
        to the device overlap the caller's step); 0 reads in the caller's thread.
    convert : callable, optional
        ``convert(host_x, host_y) -> (xb, yb)`` replaces the default transfer
        (``backend.asarray``), e.g. to standardize or one-hot encode on the host.

    Attributes
    ----------
    bounds : list of (int, int)
        (start, stop) of each global batch, in the order batches are yielded: the
        global batch size of the i-th batch is ``stop - start``, this rank's is
        ``xb.shape[0]`` (possibly 0).
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        *,
        order: np.ndarray | None = None,
        batch_size: int,
        backend: Backend,
        dtype: str | None = None,
        rank: int = 0,
        size: int = 1,
        prefetch: int = 1,
        convert: Callable[[np.ndarray, np.ndarray | None], tuple[Any, Any]] | None = None,
    ) -> None:
        self.x, self.y = open_rows(x), None if y is None else open_rows(y)
        m = len(self.x)
        if self.y is not None and len(self.y) != m:
            msg = f"x has {m} rows but y has {len(self.y)}; they must match"
            raise ValueError(msg)
        self.order = np.arange(m) if order is None else np.asarray(order)
        if self.order.shape != (m,):
            msg = f"order must be a permutation of the {m} rows, got shape {self.order.shape}"
            raise ValueError(msg)
        prefetch = Interval(0, None, integer=True).check(prefetch, "prefetch")
        self.bounds = batch_bounds(m, batch_size)
        self.backend, self.dtype, self.rank, self.size = backend, dtype, rank, size
        rank_rows(self.order[:0], rank, size)  # check rank and size now
        self.prefetch = prefetch
        self.convert = convert or self._to_device

    def __len__(self) -> int:
        return len(self.bounds)

    def _to_device(self, hx: np.ndarray, hy: np.ndarray | None) -> tuple[Any, Any]:
        return self._move(hx), None if hy is None else self._move(hy)

    def _move(self, host: np.ndarray) -> Any:
        if self.dtype is None or host.dtype.kind != "f":
            return self.backend.asarray(host)
        return self.backend.asarray(host, dtype=self.backend.dtype(self.dtype))

    def _batch(self, i: int) -> tuple[Any, Any]:
        start, stop = self.bounds[i]
        rows = rank_rows(self.order[start:stop], self.rank, self.size)
        return self.convert(self.x.take(rows), None if self.y is None else self.y.take(rows))

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.prefetch == 0:
            for i in range(len(self.bounds)):
                yield self._batch(i)
            return
        ready: queue.Queue[Any] = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def offer(item: Any) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.05)
                except queue.Full:
                    continue
                return True
            return False

        def work() -> None:
            try:
                for i in range(len(self.bounds)):
                    if not offer(self._batch(i)):
                        return
                offer(_END)
            except BaseException as exc:
                offer(_Failed(exc))

        worker = threading.Thread(target=work, name="ffnn-prefetch", daemon=True)
        worker.start()
        try:
            while (item := ready.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.exc
                yield item
        finally:
            stop.set()
            worker.join()
