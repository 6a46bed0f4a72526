"""Did caching Z^[l] only for the activations that need it (MATH.md §9, issue 12 §5) cost
the others anything? Peak memory (tracemalloc) and step time of a NumPy float32 training
step, this tree against another checkout (default: main at fb68fd5, before issue 12),
run in alternating subprocesses; plus the cost of SiLU/GELU, which cache Z. Step time
is the fastest of the steps (on a shared machine the minimum is the stable statistic;
medians are printed too).

    git archive fb68fd5 | tar -x -C /tmp/before    # the tree to compare with
    python -m benchmarks.zcache --before /tmp/before [--rounds 3]

Prints one line per (tree, activation): peak bytes over the weights-and-batch baseline,
the fastest and the median step time. About 1–2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

SIZES = (784, 512, 512, 512, 10)
BATCH = 256
STEPS = 15

_WORKER = r"""
import gc, json, sys, time, tracemalloc
import numpy as np
from ffnn import Dense, Network
from ffnn.training import train_step
from ffnn.optimizers import SGD
sizes, batch, steps, act = json.loads(sys.argv[1])
layers = [Dense(a, b, activation=act) for a, b in zip(sizes[:-2], sizes[1:-1])]
layers.append(Dense(sizes[-2], sizes[-1], activation="softmax"))
net = Network(layers, backend="numpy", dtype="float32", seed=0)
rng = np.random.default_rng(0)
x = net.inputs(rng.normal(size=(batch, sizes[0])).astype("float32"))
y = net.targets(rng.integers(0, sizes[-1], size=batch), batch)
opt = SGD(0.01)
X, Y = x.T, y.T
for _ in range(3):
    train_step(net, opt, X, Y)
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
tracemalloc.reset_peak()
for _ in range(3):
    train_step(net, opt, X, Y)
peak = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
times = []
for _ in range(steps):
    t = time.perf_counter()
    train_step(net, opt, X, Y)
    times.append(time.perf_counter() - t)
print(json.dumps({"peak": peak, "times": times}))
"""


def _run(tree: Path, activation: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    arg = json.dumps([SIZES, BATCH, steps, activation])
    out = subprocess.run([sys.executable, "-c", _WORKER, arg], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. main at fb68fd5)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per tree and activation")
    parser.add_argument(
        "--activations", default="relu,tanh,sigmoid", help="compared in both trees (default: relu,tanh,sigmoid)"
    )
    parser.add_argument("--new-only", default="silu,gelu", help="measured in this tree only (default: silu,gelu)")
    args = parser.parse_args(argv)
    now = Path(__file__).resolve().parents[1]
    trees = {"before": args.before.resolve(), "now": now}
    results: dict[tuple[str, str], list[dict]] = {}
    both, new = args.activations.split(","), [a for a in args.new_only.split(",") if a]
    plan = [(t, a) for a in both for t in trees] + [("now", a) for a in new]
    for _ in range(args.rounds):
        for tree, act in plan:  # interleaved: drift of the shared machine hits both trees alike
            results.setdefault((tree, act), []).append(_run(trees[tree], act, STEPS))
    shape = "-".join(map(str, SIZES))
    print(f"network {shape}, batch {BATCH}, float32, numpy, SGD; {args.rounds} rounds x {STEPS} steps")
    print(f"{'tree':8} {'activation':10} {'peak bytes':>11} {'fastest ms':>11} {'median ms':>10}")
    for (tree, act), runs in results.items():
        peak = max(r["peak"] for r in runs)
        times = [t * 1e3 for r in runs for t in r["times"]]
        print(f"{tree:8} {act:10} {peak:11d} {min(times):11.2f} {statistics.median(times):10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
