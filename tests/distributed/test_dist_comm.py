"""Communicators, transport selection, the gradient reducer and failure handling, in one
process: the single-process communicator, and MPI/NCCL through stand-ins of mpi4py and
cupy.cuda.nccl that simulate identical peer ranks."""

from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from backends import get_backend
from ffnn.distributed import (
    Communicator,
    GradientReducer,
    SingleProcess,
    abort_on_failure,
    available_transports,
    checksum,
    get_communicator,
    launched_local_rank,
    launched_size,
    select_transport,
    verify_identical,
)
from ffnn.distributed._mpi import CUDA_AWARE_ENV, MPICommunicator, cuda_aware
from ffnn.distributed._nccl import NCCLCommunicator
from tests.helpers import assert_allclose, assert_on_backend, dtype_name

SHAPES = {"W1": (4, 3), "b1": (4, 1), "W2": (2, 4), "b2": (2, 1)}


def grads_on(backend, dtype="float64", scale=1.0):
    rng = np.random.default_rng(5)
    return {k: backend.asarray(scale * rng.standard_normal(s), dtype=backend.dtype(dtype)) for k, s in SHAPES.items()}


# ---------------------------------------------------------------- stand-ins
class FakeInfo:
    def __init__(self, kinds):
        self.kinds = kinds

    def Get(self, key):
        return self.kinds if key == "mpi_memory_alloc_kinds" else None

    def Free(self):
        pass


class FakeComm:
    """COMM_WORLD of ``size`` ranks whose peers hold the same data as this one: a sum is
    ``size`` times the local buffer, a broadcast leaves it as is."""

    def __init__(self, size=2, rank=0, kinds="mpi,system"):
        self.size, self.rank, self.kinds, self.calls, self.aborted = size, rank, kinds, [], None

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def Split_type(self, kind):
        return SimpleNamespace(Get_rank=lambda: 0, Free=lambda: None)

    def Get_info(self):
        return FakeInfo(self.kinds)

    def Allreduce(self, inplace, buf, op):
        self.calls.append(("Allreduce", type(buf).__name__, op))
        if op == "SUM":
            buf *= self.size

    def Iallreduce(self, inplace, buf, op):
        self.calls.append(("Iallreduce", type(buf).__name__, op))
        return SimpleNamespace(Wait=lambda: self.Allreduce(inplace, buf, op))

    def Bcast(self, buf, root):
        self.calls.append(("Bcast", type(buf).__name__, root))

    def bcast(self, obj, root):
        return obj

    def Barrier(self):
        self.calls.append(("Barrier",))

    def Abort(self, code):
        self.aborted = code


def fake_mpi(comm):
    return SimpleNamespace(
        COMM_WORLD=comm,
        IN_PLACE="IN_PLACE",
        SUM="SUM",
        MIN="MIN",
        MAX="MAX",
        COMM_TYPE_SHARED=1,
        Get_library_version=lambda: "FakeMPI 1.0\n",
    )


class HostArray(np.ndarray):
    """A 'device' array: NumPy data that to_numpy copies, as a GPU library would."""


class FakeGPUBackend:
    """Enough of a Backend for the MPI paths: a GPU whose transfers copy."""

    name, device_name, is_gpu = "fakegpu", "cuda:0", True

    def __init__(self):
        self.xp = get_backend("numpy").xp
        self.synced = 0

    def to_numpy(self, x):
        return np.array(x)

    def asarray(self, host, dtype=None, copy=None):
        return np.array(host).view(HostArray)

    def synchronize(self, *arrays):
        self.synced += 1


# ---------------------------------------------------------------- single process
def test_single_process_returns_its_inputs(backend):
    comm = SingleProcess(backend)
    g = grads_on(backend)["W1"]
    assert comm.allreduce_sum(g) is g and comm.bcast_array(g) is g
    assert comm.bcast({"a": 1}) == {"a": 1}
    assert comm.allreduce_scalars([2, 3.5], op="max") == [2.0, 3.5]
    assert (comm.rank, comm.size, comm.is_root) == (0, 1, True)
    assert "single process" in comm.describe()
    with pytest.raises(ValueError, match="op must be one of sum, min, max, got 'avg'"):
        comm.allreduce_scalars([1.0], op="avg")


def test_single_process_abort_exits_with_the_message(capsys):
    with pytest.raises(SystemExit) as info:
        SingleProcess(get_backend("numpy")).abort("stop here", code=3)
    assert info.value.code == 3 and "ffnn: stop here" in capsys.readouterr().err


def test_get_communicator_outside_a_launcher_is_single_and_does_not_import_mpi(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    comm = get_communicator(backend=get_backend("numpy"))
    assert isinstance(comm, SingleProcess) and "mpi4py.MPI" not in sys.modules


def test_launched_size_reads_the_launchers_variables():
    assert launched_size({}) == 1
    assert launched_size({"PMI_SIZE": "3"}) == 3
    assert launched_size({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert launched_size({"SLURM_NTASKS": "x"}) == 1


def test_launched_local_rank_reads_the_launchers_variables():
    assert launched_local_rank({}) == 0
    assert launched_local_rank({"MPI_LOCALRANKID": "3"}) == 3
    assert launched_local_rank({"OMPI_COMM_WORLD_LOCAL_RANK": "1"}) == 1
    assert launched_local_rank({"SLURM_LOCALID": "2"}) == 2


# ---------------------------------------------------------------- selection rules
CPU = {"backend_name": "numpy", "is_gpu": False}
CUPY = {"backend_name": "cupy", "is_gpu": True}


@pytest.mark.parametrize(
    ("requested", "size", "where", "mpi", "nccl", "chosen"),
    [
        ("auto", 1, CPU, True, False, "single"),
        ("auto", 2, CPU, True, False, "mpi"),
        ("auto", 2, CUPY, True, True, "nccl"),
        ("auto", 2, CUPY, True, False, "mpi"),
        ("auto", 1, CUPY, True, True, "single"),
        ("mpi", 2, CUPY, True, True, "mpi"),
        ("mpi", 1, CPU, True, False, "mpi"),
        ("nccl", 2, CUPY, True, True, "nccl"),
        ("single", 1, CUPY, False, False, "single"),
    ],
)
def test_selection_rules(requested, size, where, mpi, nccl, chosen):
    assert select_transport(requested, size=size, mpi=mpi, nccl=nccl, **where) == chosen


@pytest.mark.parametrize(
    ("requested", "size", "where", "mpi", "nccl", "error", "match"),
    [
        ("tcp", 1, CPU, True, False, ValueError, "transport must be one of auto, single, mpi, nccl, got 'tcp'"),
        ("single", 2, CPU, True, False, ValueError, "launcher started 2 ranks"),
        ("auto", 2, CPU, False, False, ImportError, r"2 ranks need the MPI transport.*ffnn\[mpi\]"),
        ("mpi", 1, CPU, False, False, ImportError, "needs mpi4py"),
        ("nccl", 2, CPU, True, True, ValueError, "needs the cupy backend on a GPU, got 'numpy'"),
        ("nccl", 2, CUPY, True, False, ImportError, "NCCL bindings are not usable"),
    ],
)
def test_selection_errors_say_what_to_do(requested, size, where, mpi, nccl, error, match):
    with pytest.raises(error, match=match):
        select_transport(requested, size=size, mpi=mpi, nccl=nccl, **where)


def test_available_transports_lists_all_three():
    statuses = {s.name: s for s in available_transports()}
    assert set(statuses) == {"single", "mpi", "nccl"} and statuses["single"].available
    assert all(s.detail for s in statuses.values())


# ---------------------------------------------------------------- MPI through a stand-in
def test_mpi_host_path_reduces_in_place_on_cpu_backends(backend):
    comm = FakeComm(size=3)
    mpi = MPICommunicator(backend, mpi=fake_mpi(comm))
    assert (mpi.transport, mpi.path, mpi.size) == ("mpi", "host", 3)
    buffer = backend.asarray(np.arange(4.0))
    out = mpi.allreduce_sum(buffer)
    assert_on_backend(out, backend, (4,), "float64")
    assert_allclose(out, np.arange(4.0) * 3)
    assert comm.calls[-1] == ("Allreduce", "ndarray", "SUM")  # MPI always sees a host array here
    assert mpi.allreduce_scalars([1, 2], op="sum") == [3.0, 6.0]
    assert "FakeMPI 1.0" in mpi.describe() and "host buffers" in mpi.describe()


def test_nonblocking_allreduce_completes_on_wait(backend):
    comm = FakeComm(size=2)
    mpi = MPICommunicator(backend, mpi=fake_mpi(comm))
    pending = mpi.start_allreduce_sum(backend.asarray(np.arange(3.0)))
    assert comm.calls[-1][0] == "Iallreduce"
    out = pending.wait()
    assert_allclose(out, [0.0, 2.0, 4.0])
    assert pending.wait() is out  # waiting twice reduces once
    single = SingleProcess(backend).start_allreduce_sum(out).wait()
    assert single is out


def test_nonblocking_allreduce_stages_gpu_arrays_and_returns_the_device_copy(monkeypatch):
    monkeypatch.delenv(CUDA_AWARE_ENV, raising=False)
    mpi = MPICommunicator(FakeGPUBackend(), mpi=fake_mpi(FakeComm(size=3)))
    out = mpi.start_allreduce_sum(np.ones(2).view(HostArray)).wait()
    assert isinstance(out, HostArray) and np.array_equal(out, [3.0, 3.0])


def test_mpi_stages_gpu_arrays_through_the_host_when_not_cuda_aware(monkeypatch):
    monkeypatch.delenv(CUDA_AWARE_ENV, raising=False)
    gpu, comm = FakeGPUBackend(), FakeComm(size=2)
    mpi = MPICommunicator(gpu, mpi=fake_mpi(comm))
    assert mpi.path == "host-staged"
    out = mpi.allreduce_sum(np.arange(3.0).view(HostArray))
    assert isinstance(out, HostArray) and np.array_equal(out, [0.0, 2.0, 4.0])
    assert comm.calls[-1][1] == "ndarray" and gpu.synced == 0
    assert "staged through host memory" in mpi.describe()


def test_mpi_hands_device_buffers_to_a_cuda_aware_mpi(monkeypatch):
    monkeypatch.delenv(CUDA_AWARE_ENV, raising=False)
    gpu, comm = FakeGPUBackend(), FakeComm(size=2, kinds="mpi,system,cuda:device")
    mpi = MPICommunicator(gpu, mpi=fake_mpi(comm))
    assert mpi.path == "cuda-aware"
    buffer = np.ones(3).view(HostArray)
    assert mpi.allreduce_sum(buffer) is buffer and np.array_equal(buffer, [2.0, 2.0, 2.0])
    assert gpu.synced == 1  # the library's queued work is finished before MPI reads the buffer
    mpi.bcast_array(buffer, root=1)
    assert comm.calls[-2] == ("Allreduce", "HostArray", "SUM")
    assert comm.calls[-1] == ("Bcast", "HostArray", 1) and gpu.synced == 2


def test_cuda_awareness_can_be_forced_by_the_environment(monkeypatch):
    comm = FakeComm(kinds="mpi,system")
    monkeypatch.setenv(CUDA_AWARE_ENV, "1")
    assert cuda_aware(fake_mpi(comm), comm)
    monkeypatch.setenv(CUDA_AWARE_ENV, "0")
    assert not cuda_aware(fake_mpi(comm), FakeComm(kinds="cuda:device"))
    monkeypatch.delenv(CUDA_AWARE_ENV)
    assert cuda_aware(fake_mpi(comm), FakeComm(kinds="mpi,cuda:device"))


def test_mpi_abort_prints_the_message_and_calls_mpi_abort(capsys):
    comm = FakeComm()
    with pytest.raises(SystemExit):
        MPICommunicator(get_backend("numpy"), mpi=fake_mpi(comm)).abort("rank 0 failed", code=4)
    assert comm.aborted == 4 and "ffnn: rank 0 failed" in capsys.readouterr().err


def test_bad_device_path_is_refused():
    with pytest.raises(ValueError, match="device_path must be one of auto, cuda-aware, host-staged, got 'x'"):
        MPICommunicator(FakeGPUBackend(), mpi=fake_mpi(FakeComm()), device_path="x")


# ---------------------------------------------------------------- NCCL through stand-ins
class FakeNcclComm:
    def __init__(self, ndev, unique_id, rank):
        self.args, self.calls = (ndev, unique_id, rank), []

    def allReduce(self, send, recv, count, datatype, op, stream):
        self.calls.append(("allReduce", send, recv, count, datatype, op, stream))

    def bcast(self, buff, count, datatype, root, stream):
        self.calls.append(("bcast", buff, count, datatype, root, stream))


def fake_nccl():
    return SimpleNamespace(
        get_unique_id=lambda: (7,) * 128,
        NcclCommunicator=FakeNcclComm,
        get_version=lambda: 22703,
        NCCL_FLOAT32=7,
        NCCL_FLOAT64=8,
        NCCL_SUM=0,
    )


class FakeCupyBackend(FakeGPUBackend):
    name = "cupy"

    def __init__(self):
        super().__init__()
        stream = SimpleNamespace(ptr=1234)
        self.module = SimpleNamespace(cuda=SimpleNamespace(get_current_stream=lambda: stream))
        self.device = SimpleNamespace(__enter__=None)

    class _Device:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None


def test_nccl_bootstraps_by_mpi_and_reduces_in_place_on_the_current_stream():
    backend = FakeCupyBackend()
    backend.device = FakeCupyBackend._Device()
    comm = FakeComm(size=4, rank=0)
    nccl = NCCLCommunicator(backend, mpi=fake_mpi(comm), nccl=fake_nccl())
    assert (nccl.transport, nccl.path) == ("nccl", "nccl")
    assert nccl.nccl_comm.args == (4, (7,) * 128, 0)
    buffer = SimpleNamespace(data=SimpleNamespace(ptr=99), size=10, dtype="float32")
    assert nccl.allreduce_sum(buffer) is buffer
    assert nccl.nccl_comm.calls[-1] == ("allReduce", 99, 99, 10, 7, 0, 1234)
    nccl.bcast_array(SimpleNamespace(data=SimpleNamespace(ptr=5), size=3, dtype="float64"), root=2)
    assert nccl.nccl_comm.calls[-1] == ("bcast", 5, 3, 8, 2, 1234)
    assert nccl.allreduce_scalars([1.0]) == [4.0]  # host numbers still go through MPI
    assert "NCCL 22703" in nccl.describe()
    with pytest.raises(TypeError, match="float32 or float64 buffers here, got int32"):
        nccl.allreduce_sum(SimpleNamespace(data=SimpleNamespace(ptr=1), size=1, dtype="int32"))


def test_nccl_refuses_other_backends():
    with pytest.raises(ValueError, match="needs the cupy backend on a GPU"):
        NCCLCommunicator(get_backend("numpy"), mpi=fake_mpi(FakeComm()))


# ---------------------------------------------------------------- the gradient reducer
def test_reducer_packs_scales_and_unpacks_by_name(backend):
    g = grads_on(backend)
    reducer = GradientReducer(SingleProcess(backend), g)
    assert reducer.names == tuple(SHAPES) and reducer.nbytes == 8 * sum(int(np.prod(s)) for s in SHAPES.values())
    flat = reducer.pack(g, weight=0.25)
    assert_on_backend(flat, backend, (reducer.nbytes // 8,), "float64")
    back = reducer.unpack(flat)
    for k, shape in SHAPES.items():
        assert_on_backend(back[k], backend, shape, "float64")
        assert_allclose(back[k], 0.25 * backend.to_numpy(g[k]))
    zeros = reducer.unpack(reducer.pack(None))
    assert all(not np.any(backend.to_numpy(z)) for z in zeros.values())


def test_reducer_sums_over_ranks_and_reuses_its_buffer(backend):
    comm = MPICommunicator(backend, mpi=fake_mpi(FakeComm(size=3)))
    first, second = grads_on(backend, "float32"), grads_on(backend, "float32", scale=-2.0)
    reducer = GradientReducer(comm, first)
    out1 = {k: np.array(backend.to_numpy(v)) for k, v in reducer.reduce(first, weight=0.5).items()}
    out2 = reducer.reduce(second, weight=0.5)
    for k in SHAPES:
        assert dtype_name(out2[k]) == "float32"
        assert_allclose(out1[k], 1.5 * backend.to_numpy(first[k]), "float32")
        assert_allclose(out2[k], 1.5 * backend.to_numpy(second[k]), "float32")
    reducer.weight = 1.0
    empty = reducer.reduce(None)
    assert all(not np.any(backend.to_numpy(v)) for v in empty.values())
    assert all(np.any(backend.to_numpy(v)) for v in reducer(second).values())


def test_one_rank_reducer_copies_nothing(backend):
    g = grads_on(backend)
    out = GradientReducer(SingleProcess(backend), g).reduce(g)
    assert all(out[k] is g[k] for k in g)


def test_reducer_refuses_wrong_names_and_mixed_dtypes():
    backend = get_backend("numpy")
    g = grads_on(backend)
    reducer = GradientReducer(SingleProcess(backend), g)
    with pytest.raises(KeyError, match=r"missing \['b2'\], unexpected \['c'\]"):
        reducer.pack({**{k: v for k, v in g.items() if k != "b2"}, "c": g["b1"]})
    with pytest.raises(ValueError, match=r"share one dtype .* got \['float32', 'float64'\]"):
        GradientReducer(SingleProcess(backend), {"W1": g["W1"], "b1": np.zeros(2, dtype=np.float32)})
    with pytest.raises(ValueError, match="at least one gradient"):
        GradientReducer(SingleProcess(backend), {})


# ---------------------------------------------------------------- failure handling and checksums
class RecordingComm(SingleProcess):
    def __init__(self, size):
        super().__init__(get_backend("numpy"))
        self.size, self.rank, self.messages = size, 1, []

    def abort(self, message, /, *, code=1):
        self.messages.append(message)
        raise SystemExit(code)


def test_abort_on_failure_names_the_rank_and_restores_the_hooks(capsys):
    comm = RecordingComm(size=3)
    hooks = (sys.excepthook, threading.excepthook)
    with pytest.raises(SystemExit), abort_on_failure(comm):
        assert sys.excepthook is not hooks[0] and threading.excepthook is not hooks[1]
        raise ValueError("bad batch")
    assert comm.messages == ["rank 1 of 3 failed with ValueError: bad batch; aborting all 3 ranks (MPI_Abort)"]
    assert "Traceback" in capsys.readouterr().err
    assert (sys.excepthook, threading.excepthook) == hooks


def test_abort_on_failure_aborts_for_uncaught_thread_exceptions():
    comm = RecordingComm(size=2)
    with abort_on_failure(comm):
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
    assert comm.messages and "ZeroDivisionError" in comm.messages[0]


def test_abort_on_failure_lets_clean_exits_and_single_runs_pass():
    comm = RecordingComm(size=2)
    with pytest.raises(SystemExit), abort_on_failure(comm):
        raise SystemExit(0)
    assert comm.messages == []
    with pytest.raises(ValueError, match="plain"), abort_on_failure(SingleProcess(get_backend("numpy"))):
        raise ValueError("plain")


def test_checksums_see_one_ulp_and_verify_passes_for_one_rank(backend):
    comm = SingleProcess(backend)
    g = grads_on(backend)
    changed = dict(g, b2=backend.asarray(np.nextafter(backend.to_numpy(g["b2"]), np.inf)))
    assert checksum(comm, g) != checksum(comm, changed)
    assert checksum(comm, g) == checksum(comm, dict(g))
    assert verify_identical(comm, g) == checksum(comm, g)


def test_communicator_is_abstract():
    with pytest.raises(TypeError):
        Communicator()
