"""Row sources (arrays, memory maps, .npy files read by rows) and prefetching batch streams."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from backends import get_backend
from ffnn.distributed import rank_rows
from ffnn.sources import BatchStream, RowSource, open_rows
from tests.helpers import assert_on_backend


@pytest.fixture
def table(tmp_path):
    data = np.random.default_rng(1).standard_normal((50, 6))
    path = tmp_path / "x.npy"
    np.save(path, data)
    return data, path


@pytest.mark.parametrize("kind", ["array", "memmap", "path"])
def test_take_returns_the_rows_in_the_order_asked(table, kind):
    data, path = table
    source = {
        "array": lambda: RowSource(data),
        "memmap": lambda: RowSource(np.load(path, mmap_mode="r")),
        "path": lambda: RowSource(path),
    }[kind]()
    assert source.shape == (50, 6) and len(source) == 50 and source.dtype == np.float64
    for rows in ([7, 2, 3, 49, 0], [5, 5, 1], [], list(range(10, 20))):
        got = source.take(np.array(rows, dtype=np.int64))
        assert got.shape == (len(rows), 6)
        np.testing.assert_array_equal(got, data[rows])


def test_a_file_source_reads_only_the_requested_rows(table):
    _, path = table
    with RowSource(path) as source:
        source.take(np.array([40, 3, 4, 5, 17]))
        assert source.bytes_read == 5 * 6 * 8
    with pytest.raises(ValueError, match="is closed"):
        source.take(np.array([1]))


def test_labels_and_3d_rows_come_back_whole(tmp_path):
    labels, images = np.arange(9, dtype=np.int32), np.arange(9 * 4, dtype=np.float32).reshape(9, 2, 2)
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "i.npy", images)
    np.testing.assert_array_equal(RowSource(tmp_path / "y.npy").take(np.array([8, 0])), [8, 0])
    np.testing.assert_array_equal(RowSource(tmp_path / "i.npy").take(np.array([3, 1])), images[[3, 1]])


def test_bad_sources_are_refused_with_the_way_out(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((3, 2))))
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "t.npy").write_text("not numpy")
    with pytest.raises(ValueError, match="Fortran .*ascontiguousarray"):
        RowSource(tmp_path / "f.npy")
    with pytest.raises(ValueError, match=r"holds Python objects .*\(no pickle\)"):
        RowSource(tmp_path / "o.npy")
    with pytest.raises(ValueError, match="not a readable .npy file"):
        RowSource(tmp_path / "t.npy")
    with pytest.raises(FileNotFoundError, match="no .npy file at"):
        RowSource(tmp_path / "missing.npy")
    with pytest.raises(TypeError, match="expected a NumPy array, memory map or the path of a .npy file, got list"):
        RowSource([[1.0]])
    with pytest.raises(IndexError, match=r"rows must lie in \[0, 3\), got values from 0 to 3"):
        RowSource(np.ones((3, 2))).take(np.array([0, 3]))


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.ones((100, 4)))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(OSError, match="ended early"):
        RowSource(path).take(np.array([99]))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_stream_yields_the_epochs_batches_on_the_backend(backend, table, prefetch):
    data, path = table
    labels = np.arange(50) % 3
    order = np.random.default_rng(4).permutation(50)
    stream = BatchStream(path, labels, order=order, batch_size=16, backend=backend, dtype="float32", prefetch=prefetch)
    assert stream.bounds == [(0, 16), (16, 32), (32, 48), (48, 50)] and len(stream) == 4
    for (start, stop), (xb, yb) in zip(stream.bounds, stream, strict=True):
        assert_on_backend(xb, backend, (stop - start, 6), "float32")
        np.testing.assert_allclose(backend.to_numpy(xb), data[order[start:stop]].astype(np.float32))
        np.testing.assert_array_equal(backend.to_numpy(yb), labels[order[start:stop]])


def test_ranks_read_their_shares_and_together_cover_the_epoch(table):
    data, path = table
    backend, order = get_backend("numpy"), np.random.default_rng(2).permutation(50)
    seen = np.zeros(50, dtype=int)
    for rank in range(3):
        stream = BatchStream(path, order=order, batch_size=4, backend=backend, rank=rank, size=3)
        for (start, stop), (xb, yb) in zip(stream.bounds, stream):
            rows = rank_rows(order[start:stop], rank, 3)
            np.testing.assert_array_equal(xb, data[rows])
            assert yb is None
            seen[rows] += 1
    assert np.all(seen == 1)


def test_a_failure_while_reading_ahead_is_raised_to_the_consumer(table):
    data, _ = table

    def convert(hx, hy):
        if hx[0, 0] == data[20, 0]:
            raise RuntimeError("cannot convert row 20")
        return hx, hy

    stream = BatchStream(data, batch_size=10, backend=get_backend("numpy"), convert=convert)
    with pytest.raises(RuntimeError, match="cannot convert row 20"):
        list(stream)


def test_leaving_early_stops_the_reader_thread(table):
    data, _ = table
    before = threading.active_count()
    stream = iter(BatchStream(data, batch_size=1, backend=get_backend("numpy"), prefetch=2))
    next(stream)
    stream.close()
    assert threading.active_count() == before


def test_stream_arguments_are_checked(table):
    data, _ = table
    numpy = get_backend("numpy")
    with pytest.raises(ValueError, match="x has 50 rows but y has 3"):
        BatchStream(data, np.ones(3), batch_size=2, backend=numpy)
    with pytest.raises(ValueError, match=r"order must be a permutation of the 50 rows, got shape \(4,\)"):
        BatchStream(data, order=np.arange(4), batch_size=2, backend=numpy)
    with pytest.raises(ValueError, match="prefetch must be a non-negative integer, got -1"):
        BatchStream(data, batch_size=2, backend=numpy, prefetch=-1)
    with pytest.raises(ValueError, match=r"rank must be an integer in \[0, 2\), got 2"):
        BatchStream(data, batch_size=2, backend=numpy, rank=2, size=2)
    source = RowSource(data)
    assert open_rows(source) is source
