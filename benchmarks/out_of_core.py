"""An out-of-core fit: train on a .npy file several times larger than the address space
the process may use (RLIMIT_AS, the limit ``ulimit -v`` sets), and report its peak memory.

Usage: python benchmarks/out_of_core.py [--cap-mib 256] [--ratio 4.2] [--out FILE.json]

The parent writes X (float32, 100 features) and binary labels y as .npy files in a
temporary folder, chunk by chunk, then starts a child with RLIMIT_AS = cap that
1) checks the cap bites: ``numpy.load`` of X must fail with MemoryError;
2) fits one epoch from the paths (``fit("x.npy", "y.npy")``, batches read by rows),
   evaluates from the paths, and reports its peak resident set (ru_maxrss) and VmPeak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FEATURES = 100
CHILD = r"""
import json, resource, sys, time
import numpy as np
x_path, y_path = sys.argv[1], sys.argv[2]
try:
    np.load(x_path)
    loaded = True
except MemoryError:
    loaded = False
from ffnn import Dense, Network
net = Network([Dense(100, 32, activation="relu"), Dense(32, 1, activation="sigmoid")],
              loss="binary_crossentropy", dtype="float32", seed=0)
start = time.perf_counter()
history = net.fit(x_path, y_path, epochs=1, batch_size=4096, optimizer="adam")
seconds = time.perf_counter() - start
scores = net.evaluate(x_path, y_path)
status = open("/proc/self/status").read()
field = lambda name: int(status.split(name + ":")[1].split()[0]) * 1024
print(json.dumps({
    "whole_file_load_fails": not loaded,
    "train_cost": history.train_cost[0],
    "accuracy": scores["accuracy"],
    "fit_seconds": seconds,
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "vm_peak_bytes": field("VmPeak"),
}))
"""


def write_data(folder: Path, rows: int, chunk: int = 1 << 16) -> tuple[Path, Path]:
    """X (rows, 100) float32 and y (rows,) 0/1 labels of a linear rule, written in chunks."""
    x_path, y_path = folder / "x.npy", folder / "y.npy"
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, N_FEATURES))
    y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.int64, shape=(rows,))
    rng = np.random.default_rng(0)
    w = rng.standard_normal(N_FEATURES).astype(np.float32)
    for lo in range(0, rows, chunk):
        hi = min(lo + chunk, rows)
        block = rng.standard_normal((hi - lo, N_FEATURES), dtype=np.float32)
        X[lo:hi] = block
        y[lo:hi] = block @ w > 0
    X.flush()
    y.flush()
    del X, y
    return x_path, y_path


def run(cap_mib: int = 256, ratio: float = 4.2, folder: str | None = None) -> dict:
    cap = cap_mib << 20
    rows = int(ratio * cap / (N_FEATURES * 4)) + 1
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        x_path, y_path = write_data(Path(tmp), rows)
        size = x_path.stat().st_size

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(x_path), str(y_path)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            env=env,
            check=False,
            timeout=600,
        )
        wall = time.perf_counter() - start
    if child.returncode != 0:
        msg = f"the capped child failed:\n{child.stdout}\n{child.stderr}"
        raise RuntimeError(msg)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result.update(
        cap_method="setrlimit(RLIMIT_AS) in the child before exec (what `ulimit -v` does)",
        cap_bytes=cap,
        file_bytes=size,
        file_over_cap=size / cap,
        rows=rows,
        wall_seconds=wall,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-mib", type=int, default=256)
    parser.add_argument("--ratio", type=float, default=4.2)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    result = run(args.cap_mib, args.ratio)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
