"""Training throughput of fit(distributed=...) on this machine: one process with 2 BLAS
threads against 2 MPI ranks with 1 thread each, same global batch, and the share of a
2-rank step spent in the gradient all-reduce.

    python benchmarks/dist_fit.py [--steps 40] [--repeats 3] [--out benchmarks/results/dist-fit-cpu.json]

Each run fits the mnist-128 and mnist-1024 configurations (784-256-256-10, relu, softmax,
float32, Adam, numpy backend) on synthetic data of ``steps`` global batches for one epoch
(plus one warm-up epoch, not timed); the figure is the median over ``repeats`` fits of
seconds per step. The all-reduce is timed by wrapping the communicator's ``allreduce_sum``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"mnist-128": 128, "mnist-1024": 1024}


def worker(steps: int, repeats: int, distributed: bool) -> None:
    import numpy as np

    from backends import get_backend
    from ffnn import Dense, Network
    from ffnn.distributed import SingleProcess, get_communicator

    backend = get_backend("numpy")
    comm = get_communicator("mpi", backend=backend) if distributed else SingleProcess(backend)
    spent = [0.0]
    inner = comm.allreduce_sum

    def timed(buffer):  # the gradient all-reduce, once per step
        start = time.perf_counter()
        out = inner(buffer)
        spent[0] += time.perf_counter() - start
        return out

    comm.allreduce_sum = timed  # type: ignore[method-assign]
    results = {}
    for name, batch in CONFIGS.items():
        rng = np.random.default_rng(0)
        m = batch * steps
        X = rng.standard_normal((m, 784), dtype=np.float32)
        y = rng.integers(0, 10, m)
        per_step, comm_share = [], []
        for _ in range(repeats):
            net = Network(
                [
                    Dense(784, 256, activation="relu"),
                    Dense(256, 256, activation="relu"),
                    Dense(256, 10, activation="softmax"),
                ],
                loss="categorical_crossentropy",
                dtype="float32",
                seed=0,
            )
            net.fit(X[: batch * 2], y[: batch * 2], epochs=1, batch_size=batch, distributed=comm)  # warm-up
            comm.barrier()
            spent[0] = 0.0
            start = time.perf_counter()
            net.fit(X, y, epochs=1, batch_size=batch, distributed=comm)
            seconds = comm.allreduce_scalars([time.perf_counter() - start], op="max")[0]
            per_step.append(seconds / steps)
            comm_share.append(comm.allreduce_scalars([spent[0] / seconds], op="max")[0])
        results[name] = {
            "step_ms": 1e3 * statistics.median(per_step),
            "steps_per_s": 1 / statistics.median(per_step),
            "examples_per_s": batch / statistics.median(per_step),
            "allreduce_share": statistics.median(comm_share),
            "all_step_ms": [1e3 * s for s in per_step],
        }
    if comm.is_root:
        print(json.dumps({"ranks": comm.size, "transport": comm.describe(), "configs": results}))


def launch(steps: int, repeats: int, ranks: int, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--worker", "--steps", str(steps), "--repeats", str(repeats)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
        command = [mpiexec, "-n", str(ranks), *command, "--distributed"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True, timeout=600).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["blas_threads_per_rank"] = threads
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.worker:
        worker(args.steps, args.repeats, args.distributed)
        return
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    one = launch(args.steps, args.repeats, 1, 2)
    single = launch(args.steps, args.repeats, 1, 1)  # for reference: 2 BLAS threads thrash on a loaded machine
    two = launch(args.steps, args.repeats, 2, 1)
    speedup = {k: one["configs"][k]["step_ms"] / two["configs"][k]["step_ms"] for k in CONFIGS}
    over_single = {k: single["configs"][k]["step_ms"] / two["configs"][k]["step_ms"] for k in CONFIGS}
    report = {
        "date": datetime.date.today().isoformat(),
        "load_average_before": load,
        "cpus": os.cpu_count(),
        "one_process_2_threads": one,
        "one_process_1_thread": single,
        "two_ranks_1_thread": two,
        "speedup_2_ranks": speedup,
        "speedup_2_ranks_over_1_thread": over_single,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
