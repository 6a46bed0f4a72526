"""CPU instructions per training step, counted by Valgrind's callgrind: a noise-free
measure of what ffnn's Python structure costs on a small network.

On a shared machine the wall-clock ratios of ``small`` move by ±0.1 between runs of the
same code, more than most changes to the step's overhead. An instruction count does not
depend on the load: with one BLAS thread the unchanged hand-written step counted the
same to 0.01% (``small``) and 1% (``tiny``) in two processes. (With a thread pool, the
idle threads' spinning is counted too and the counts move by 5% and more.) It is not a
time (a cache miss costs many instructions' worth), so it complements the timings of
:mod:`benchmarks.run` and replaces none of them.

Method: the same script runs twice under ``valgrind --tool=callgrind``, with 0 and with
``n`` steps after the same warm-up; the difference over ``n`` is the count of one step,
imports and set-up cancelling out. The garbage collector is off while the steps run, as
in the timed blocks of :mod:`benchmarks.timing`; both runs use the same hash seed and one
BLAS thread (an idle pool's spinning threads would be counted as work).
Subjects: ffnn's public ``train_step`` (plain SGD), the step made by ``make_step`` alone
(what ``fit`` runs per batch), ffnn's step with every call inlined
(:func:`benchmarks.reference.inlined_step`: ffnn's operations, bit for bit, without its
structure) and the hand-written NumPy step of :mod:`benchmarks.reference`, on the same
network and batch; and whole fits, per step (``--fit``): ``Network.fit`` and the
hand-written loop of :mod:`benchmarks.fit_loop` (:data:`FIT_SUBJECTS`), each call
:data:`benchmarks.run.FIT_EPOCHS_PER_CALL` shuffled epochs of
:data:`benchmarks.run.FIT_BATCHES` batches, as the timed fit comparison runs them.

    python -m benchmarks.instructions --configs tiny small --fit --out results/instructions.json

Needs ``valgrind`` on the PATH (``apt install valgrind``); about a minute per subject.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .configs import STEP_CONFIGS, TINY_CONFIG, Config
from .reference import inlined_step, reference_step
from .subject import build_network, make_batch

__all__ = ["FIT_SUBJECTS", "SUBJECTS", "count_instructions", "main", "step_function"]

SUBJECTS = ("train_step", "make_step", "inlined", "reference")
FIT_SUBJECTS = ("fit", "reference_fit")
"""Whole fit calls (``Network.fit`` and the hand-written loop), counted per step."""
WARMUP = 20
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LEARNING_RATE = 0.01


def _config(name: str) -> Config:
    for config in (TINY_CONFIG, *STEP_CONFIGS):
        if config.name == name:
            return config
    known = ", ".join(c.name for c in (TINY_CONFIG, *STEP_CONFIGS))
    msg = f"unknown config {name!r}; known: {known}"
    raise ValueError(msg)


def steps_per_run(subject: str) -> int:
    """Steps one ``run()`` of :func:`step_function` takes: 1, or a whole fit call's."""
    from .run import FIT_BATCHES, FIT_EPOCHS_PER_CALL

    return FIT_BATCHES * FIT_EPOCHS_PER_CALL if subject in FIT_SUBJECTS else 1


def step_function(subject: str, config: Config) -> tuple[Callable[[], Any], Callable[[], list[np.ndarray]]]:
    """``(run, weights)``: ``run()`` takes one float32 step of ``subject`` on ``config``'s
    network and batch (NumPy, seeded: every subject starts from the same weights), or
    :func:`steps_per_run` steps for a fit subject, and ``weights()`` returns the present
    [W1, b1, …] on the host."""
    from ffnn.optimizers import SGD
    from ffnn.training import make_step, train_step

    if subject in FIT_SUBJECTS:
        return _fit_function(subject, config)
    net = build_network(config)
    X, labels = make_batch(config)
    X_cols = X.T
    Y_cols = np.eye(config.sizes[-1], dtype="float32")[labels].T
    optimizer = SGD(learning_rate=LEARNING_RATE)
    if subject == "train_step":
        return (lambda: train_step(net, optimizer, X_cols, Y_cols)), net.get_weights
    if subject == "make_step":
        step = make_step(net, optimizer)
        held = [net.named_parameters()]
        held.append(optimizer.init(held[0], xp=net.xp))

        def run() -> None:
            held[0], held[1], _, _ = step(held[0], held[1], X_cols, Y_cols)

        return run, lambda: [np.asarray(p) for p in held[0].values()]
    if subject in ("reference", "inlined"):
        params = [[layer.W.copy(), layer.b.copy()] for layer in net.layers]
        flat = [p for Wb in params for p in Wb]  # the arrays both steps update in place
        hand_written = reference_step if subject == "reference" else inlined_step
        return (lambda: hand_written(params, X_cols, Y_cols, lr=LEARNING_RATE)), lambda: list(flat)
    msg = f"unknown subject {subject!r}; known: {', '.join(SUBJECTS)}"
    raise ValueError(msg)


def _fit_function(subject: str, config: Config) -> tuple[Callable[[], Any], Callable[[], list[np.ndarray]]]:
    from .fit_loop import FfnnFit, ReferenceFitLoop, epoch_data, one_hot_rows
    from .run import FIT_BATCHES, FIT_EPOCHS_PER_CALL

    X, labels = epoch_data(config, FIT_BATCHES)
    fit = FfnnFit(config, None, X, labels, lr=LEARNING_RATE, epochs_per_call=FIT_EPOCHS_PER_CALL)
    if subject == "fit":
        return fit.run, fit.net.get_weights
    weights = fit.net.get_weights()
    params = [[weights[i].copy(), weights[i + 1].copy()] for i in range(0, len(weights), 2)]
    loop = ReferenceFitLoop(params, X, one_hot_rows(labels, config.sizes[-1], "float32"), batch=config.batch,
                            lr=LEARNING_RATE, seed=fit.net.seed, epochs_per_call=FIT_EPOCHS_PER_CALL)
    return loop.run, lambda: [p for Wb in params for p in Wb]


def _collected(stderr: str) -> int:
    """The total of callgrind's summary line ``Collected : N``."""
    found = re.search(r"Collected\s*:\s*(\d+)", stderr)
    if found is None:
        msg = f"no 'Collected' line in callgrind's output:\n{stderr[-2000:]}"
        raise RuntimeError(msg)
    return int(found.group(1))


def count_instructions(subject: str, config: str, steps: int, *, valgrind: str = "valgrind") -> float:
    """Instructions of one step: (count with ``steps`` runs − count with 0) / (``steps`` ·
    :func:`steps_per_run`)."""
    counts = []
    for n in (0, steps):
        command = [
            valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, "-m", "benchmarks.instructions", "--child", subject, config, str(n),
        ]
        # the same dict layouts in both runs, and one BLAS thread: idle pool threads spin,
        # and callgrind would count their spinning as the step's work
        env = {**os.environ, "PYTHONHASHSEED": "0", **dict.fromkeys(_THREAD_VARIABLES, "1")}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            msg = f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}"
            raise RuntimeError(msg)
        counts.append(_collected(done.stderr))
    return (counts[1] - counts[0]) / (steps * steps_per_run(subject))


def _child(subject: str, config: str, steps: int) -> None:
    run, _ = step_function(subject, _config(config))
    for _ in range(WARMUP):
        run()
    gc.collect()
    gc.freeze()  # as the timings do: no collection of the imported modules' heap in the count
    gc.disable()
    for _ in range(steps):
        run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"], help="configs (default: tiny small)")
    parser.add_argument("--steps", type=int, default=500, help="steps counted per subject (default 500)")
    parser.add_argument("--fit", action="store_true", help="also count whole fits per step (fit, reference_fit)")
    parser.add_argument("--fit-calls", type=int, default=5, help="fit calls counted per fit subject (default 5)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--child", nargs=3, metavar=("SUBJECT", "CONFIG", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not on the PATH: install it (apt install valgrind) to count instructions", file=sys.stderr)
        return 2
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    for name in args.configs:
        _config(name)  # refuse an unknown name before a minute of counting
    if args.fit_calls < 1:
        parser.error(f"--fit-calls must be at least 1, got {args.fit_calls}")
    rows: dict[str, dict[str, float]] = {}
    for name in args.configs:
        rows[name] = {s: count_instructions(s, name, args.steps, valgrind=valgrind) for s in SUBJECTS}
        ref = rows[name]["reference"]
        line = ", ".join(f"{s} {rows[name][s]:,.0f} ({rows[name][s] / ref:.3f}× reference)" for s in SUBJECTS)
        print(f"{name}: instructions per step: {line}")
        if args.fit:
            fits = {s: count_instructions(s, name, args.fit_calls, valgrind=valgrind) for s in FIT_SUBJECTS}
            rows[name].update(fits)
            ratio = fits["fit"] / fits["reference_fit"]
            print(f"{name}: instructions per step of a fit: fit {fits['fit']:,.0f}, reference loop "
                  f"{fits['reference_fit']:,.0f} ({ratio:.3f}×)")
    if args.out is not None:
        import ffnn

        version = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        result = {
            "what": "CPU instructions per float32 SGD step (valgrind --tool=callgrind), NumPy backend",
            "steps": args.steps,
            "fit_calls": args.fit_calls if args.fit else 0,
            "steps_per_fit_call": steps_per_run("fit"),
            "machine": {"python": platform.python_version(), "numpy": np.__version__, "ffnn": ffnn.__version__,
                        "valgrind": version, "platform": platform.platform()},
            "configs": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
