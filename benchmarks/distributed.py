"""Distributed-training measurements on this machine: MPI all-reduce latency and bandwidth
(``mpiexec -n N``, message sizes 8 B .. 64 MiB), and the resident memory of an out-of-core
pass over a ``.npy`` file several times larger than the address space the process may use.

    python -m benchmarks.distributed allreduce [--ranks 2] [--max-bytes 67108864]
    python -m benchmarks.distributed overlap [--overlap-bytes 1077288] [--reps 30]
    python -m benchmarks.distributed out-of-core [--cap-mib 256] [--factor 4.5]
    python -m benchmarks.distributed all        # both, one JSON under benchmarks/results/

The all-reduce runs through ffnn's own communicator (``MPICommunicator.allreduce_sum``
on a NumPy float64 buffer, in place), as training would use it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# ---------------------------------------------------------------- all-reduce (runs inside every rank)
def _allreduce_worker(max_bytes: int, budget_s: float) -> None:
    from backends import get_backend
    from ffnn.distributed import get_communicator

    comm = get_communicator("mpi", backend=get_backend("numpy"))
    sizes = [8 * 4**k for k in range(20) if 8 * 4**k < max_bytes] + [max_bytes]
    rows = []
    for nbytes in sizes:
        buffer = np.zeros(nbytes // 8, dtype=np.float64)
        for _ in range(3):  # warm-up: connections and buffers
            comm.allreduce_sum(buffer)
        comm.barrier()
        start = time.perf_counter()
        comm.allreduce_sum(buffer)
        once = comm.allreduce_scalars([time.perf_counter() - start], op="max")[0]
        calls = int(max(3, min(2000, budget_s / 5 / max(once, 1e-6))))
        samples = []
        for _ in range(5):  # five timed blocks; each rank's block time, the slowest rank counts
            comm.barrier()
            start = time.perf_counter()
            for _ in range(calls):
                comm.allreduce_sum(buffer)
            samples.append(comm.allreduce_scalars([(time.perf_counter() - start) / calls], op="max")[0])
        median = statistics.median(samples)
        algbw = nbytes / median
        rows.append(
            {
                "bytes": nbytes,
                "calls_per_block": calls,
                "median_s": median,
                "min_s": min(samples),
                "algbw_GBps": algbw / 1e9,
                "busbw_GBps": algbw * 2 * (comm.size - 1) / comm.size / 1e9,
            }
        )
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "transport": comm.describe(), "results": rows}))


def _fit_alpha_beta(rows: list[dict[str, Any]], ranks: int) -> dict[str, float]:
    """Least-squares fit of t = a + b·bytes over the messages ≥ 64 KiB, and the ring model's
    latency α and bandwidth B that give it: t = 2(N−1)α + 2(N−1)/N · bytes / B."""
    big = [r for r in rows if r["bytes"] >= 65536]
    x = np.array([r["bytes"] for r in big], dtype=float)
    y = np.array([r["median_s"] for r in big])
    b, a = np.polyfit(x, y, 1)
    steps = 2 * (ranks - 1)
    return {
        "small_message_latency_s": rows[0]["median_s"],
        "fit_intercept_s": float(a),
        "fit_s_per_byte": float(b),
        "ring_alpha_s": rows[0]["median_s"] / steps,
        "ring_bandwidth_GBps": steps / ranks / b / 1e9,
    }


def run_allreduce(ranks: int, max_bytes: int, budget_s: float, timeout: float) -> dict[str, Any]:
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        return {"status": "skipped", "reason": "no mpiexec found (pip install 'ffnn[mpi]')"}
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    command = [
        mpiexec,
        "-n",
        str(ranks),
        sys.executable,
        "-m",
        "benchmarks.distributed",
        "_allreduce-worker",
        "--max-bytes",
        str(max_bytes),
        "--budget",
        str(budget_s),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["model"] = _fit_alpha_beta(result["results"], ranks)
    return result


# ---------------------------------------------------------------- overlap (runs inside every rank)
def _overlap_worker(nbytes: int, reps: int) -> None:
    """Compute (one float32 matmul, 256×1024 by 1024×784: the size of mnist-1024's dW^[1]) and the all-reduce
    of ``nbytes``: alone, one after the other, and overlapped (Iallreduce started before the
    compute, waited after); the slowest rank's median counts."""
    from backends import get_backend
    from ffnn.distributed import get_communicator

    comm = get_communicator("mpi", backend=get_backend("numpy"))
    rng = np.random.default_rng(comm.rank)
    a, b = rng.standard_normal((256, 1024), dtype=np.float32), rng.standard_normal((1024, 784), dtype=np.float32)
    buffer = np.ones(nbytes // 4, dtype=np.float32)

    def compute() -> None:
        a @ b

    def blocking() -> None:
        compute()
        comm.allreduce_sum(buffer)

    def overlapped() -> None:
        pending = comm.start_allreduce_sum(buffer)
        compute()
        pending.wait()

    cases = {
        "compute": compute,
        "allreduce": lambda: comm.allreduce_sum(buffer),
        "sequential": blocking,
        "overlapped": overlapped,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, case in cases.items():  # interleaved, so that load changes hit every case
            comm.barrier()
            start = time.perf_counter()
            case()
            times[name].append(comm.allreduce_scalars([time.perf_counter() - start], op="max")[0])
    if comm.rank == 0:
        print(
            json.dumps(
                {
                    "ranks": comm.size,
                    "bytes": nbytes,
                    "reps": reps,
                    "median_s": {k: statistics.median(v) for k, v in times.items()},
                }
            )
        )


def run_overlap(ranks: int, nbytes: int, reps: int, timeout: float) -> dict[str, Any]:
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        return {"status": "skipped", "reason": "no mpiexec found (pip install 'ffnn[mpi]')"}
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    command = [
        mpiexec,
        "-n",
        str(ranks),
        sys.executable,
        "-m",
        "benchmarks.distributed",
        "_overlap-worker",
        "--bytes",
        str(nbytes),
        "--reps",
        str(reps),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    t = result["median_s"]
    result["hidden_fraction_of_allreduce"] = (t["sequential"] - t["overlapped"]) / t["allreduce"]
    return result


# ---------------------------------------------------------------- out of core (runs in a capped child)
def _write_npy(path: Path, rows: int, features: int) -> None:
    """A float32 .npy of ``rows`` × ``features`` written in chunks (row i holds i + column/1000)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, features)}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        chunk = 8192
        columns = np.arange(features, dtype=np.float32) / 1000
        for start in range(0, rows, chunk):
            stop = min(start + chunk, rows)
            block = np.arange(start, stop, dtype=np.float32)[:, None] + columns
            handle.write(block.tobytes())


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _out_of_core_worker(path: str, batch_size: int) -> None:
    from backends import get_backend
    from ffnn.sources import BatchStream, RowSource

    rss_at_start = _status_kib("VmRSS")
    refused = {}
    for how, load in (
        ("np.load", lambda: np.load(path)),
        ("np.load(mmap_mode='r')", lambda: np.load(path, mmap_mode="r")),
    ):
        try:
            load()
            refused[how] = "loaded (the cap is not binding)"
        except (MemoryError, OSError, ValueError) as exc:
            refused[how] = f"{type(exc).__name__}: {exc}"[:160]
    rss_after_refusals = _status_kib("VmRSS")
    source = RowSource(path)
    m = len(source)
    order = np.random.default_rng(0).permutation(m)
    stream = BatchStream(source, order=order, batch_size=batch_size, backend=get_backend("numpy"), dtype="float32")
    rss_after_first, rss_during = None, 0
    start = time.perf_counter()
    total, rows = 0.0, 0
    for i, (xb, _) in enumerate(stream):
        total += float(np.sum(xb[:, 0], dtype=np.float64))
        rows += xb.shape[0]
        if i == 0:
            rss_after_first = _status_kib("VmRSS")
        if i % 16 == 0:
            rss_during = max(rss_during, _status_kib("VmRSS"))
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows_read": rows,
                "checksum_ok": total == float(m * (m - 1) // 2),
                "seconds": elapsed,
                "bytes_read": source.bytes_read,
                "read_GBps": source.bytes_read / elapsed / 1e9,
                # VmHWM: the peak resident set of this program since exec (ru_maxrss would also
                # count the parent's pages at fork on Linux)
                "peak_rss_kib": _status_kib("VmHWM"),
                "rss_at_start_kib": rss_at_start,
                "rss_after_refused_loads_kib": rss_after_refusals,
                "rss_after_first_batch_kib": rss_after_first,
                "rss_max_sampled_during_epoch_kib": rss_during,
                "vm_peak_kib": _status_kib("VmPeak"),
                "whole_file_loads_under_the_cap": refused,
            }
        )
    )


def run_out_of_core(cap_mib: int, factor: float, batch_size: int, timeout: float) -> dict[str, Any]:
    features = 784
    rows = int(factor * cap_mib * 2**20 / (4 * features)) + 1
    folder = Path(tempfile.mkdtemp(prefix="ffnn-ooc-"))
    path = folder / "x.npy"
    try:
        _write_npy(path, rows, features)
        file_bytes = path.stat().st_size
        cap = cap_mib * 2**20

        def limit() -> None:  # what `ulimit -v` does: cap the address space of the child
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MALLOC_ARENA_MAX="2",
        )
        command = [
            sys.executable,
            "-m",
            "benchmarks.distributed",
            "_out-of-core-worker",
            str(path),
            "--batch-size",
            str(batch_size),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, preexec_fn=limit, check=False
        )
        if done.returncode != 0:
            return {"status": "failed", "stderr": done.stderr[-2000:]}
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.update(
        {
            "cap": f"RLIMIT_AS = {cap_mib} MiB on the child (the limit `ulimit -v {cap_mib * 1024}` sets)",
            "cap_bytes": cap,
            "file_bytes": file_bytes,
            "file_over_cap": file_bytes / cap,
            "rows": rows,
            "features": features,
            "dtype": "float32",
            "batch_size": batch_size,
            "reader": "ffnn.sources.RowSource on the path (positioned reads of the sorted rows) "
            "through BatchStream with prefetch=1, numpy backend, one shuffled epoch",
        }
    )
    return result


# ---------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("allreduce", "overlap", "out-of-core", "all"):
        p = sub.add_parser(name)
        p.add_argument("--ranks", type=int, default=2)
        p.add_argument("--max-bytes", type=int, default=64 * 2**20)
        p.add_argument("--budget", type=float, default=1.0, help="seconds of timed calls per message size")
        p.add_argument("--cap-mib", type=int, default=256)
        p.add_argument("--factor", type=float, default=4.5, help="file size / cap")
        p.add_argument("--batch-size", type=int, default=1024)
        p.add_argument("--out", type=Path, default=None)
        p.add_argument("--overlap-bytes", type=int, default=1077288, help="default: mnist's float32 gradients")
        p.add_argument("--reps", type=int, default=30)
    w = sub.add_parser("_allreduce-worker")
    w.add_argument("--max-bytes", type=int, required=True)
    w.add_argument("--budget", type=float, required=True)
    v = sub.add_parser("_overlap-worker")
    v.add_argument("--bytes", type=int, required=True)
    v.add_argument("--reps", type=int, required=True)
    o = sub.add_parser("_out-of-core-worker")
    o.add_argument("path")
    o.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "_allreduce-worker":
        _allreduce_worker(args.max_bytes, args.budget)
        return
    if args.command == "_overlap-worker":
        _overlap_worker(args.bytes, args.reps)
        return
    if args.command == "_out-of-core-worker":
        _out_of_core_worker(args.path, args.batch_size)
        return
    from benchmarks.env import machine_info

    report: dict[str, Any] = {"machine": machine_info(1)}
    if args.command in ("allreduce", "all"):
        report["allreduce"] = run_allreduce(args.ranks, args.max_bytes, args.budget, timeout=900)
    if args.command in ("overlap", "all"):
        report["overlap"] = run_overlap(args.ranks, args.overlap_bytes, args.reps, timeout=900)
    if args.command in ("out-of-core", "all"):
        report["out_of_core"] = run_out_of_core(args.cap_mib, args.factor, args.batch_size, timeout=900)
    date = datetime.date.today().isoformat()
    out = args.out or RESULTS / f"distributed-cpu-{date}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
