"""Interleaved wall-clock timing: warm-ups, calibrated blocks, repetitions, medians."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "measure_interleaved", "summarize"]


def _nothing() -> None:
    return None


@dataclass
class Case:
    """Something to time.

    ``run`` performs ``units`` training steps (1 for a step, the number of batches
    for a scikit-learn epoch); ``sync`` waits for queued device work and is called
    before and after every timed block, so GPU timings cover the work itself.
    """

    name: str
    run: Callable[[], Any]
    units: int = 1
    sync: Callable[[], None] = _nothing
    calls_per_block: int = field(default=1, init=False)
    samples: list[float] = field(default_factory=list, init=False)

    def timed_block(self) -> float:
        """Seconds per unit over one block of ``calls_per_block`` calls."""
        self.sync()
        start = time.perf_counter()
        for _ in range(self.calls_per_block):
            self.run()
        self.sync()
        return (time.perf_counter() - start) / (self.calls_per_block * self.units)


def _calibrate(case: Case, *, warmup_calls: int, block_s: float) -> None:
    """Warm up, then size the block from the fastest of three timed calls (a call
    slowed down by other load would otherwise make every block a single call)."""
    for _ in range(warmup_calls):
        case.run()
    per_call = float("inf")
    for _ in range(3 if block_s > 0 else 0):
        case.sync()
        start = time.perf_counter()
        case.run()
        case.sync()
        per_call = min(per_call, time.perf_counter() - start)
    case.calls_per_block = max(1, round(block_s / max(per_call, 1e-9)))


def measure_interleaved(cases: list[Case], *, reps: int, block_s: float, warmup_calls: int = 2,
                        pause_s: float = 0.0) -> None:
    """Fill each case's ``samples`` with ``reps`` per-unit times.

    Every case is warmed up and given a block length of about ``block_s`` seconds;
    then the repetitions interleave the cases, rotating their order each round, so
    that drift of the machine (clock, other load) hits all of them alike. The
    garbage collector is paused inside timed blocks.

    ``pause_s`` of idle time precede every block: BLAS worker threads keep polling
    for about 0.1 s after their last call (OpenBLAS), and on a small machine the
    spinning pool of the previous case would otherwise slow down the next one.
    """
    for case in cases:
        _calibrate(case, warmup_calls=warmup_calls, block_s=block_s)
    gc.collect()
    gc.freeze()  # later collections skip the (large) heap of imported modules
    try:
        for rep in range(reps):
            k = rep % len(cases)
            for case in cases[k:] + cases[:k]:
                gc.collect(0)
                time.sleep(pause_s)
                gc.disable()
                try:
                    case.samples.append(case.timed_block())
                finally:
                    gc.enable()
    finally:
        gc.unfreeze()


def summarize(samples: list[float]) -> dict[str, float | int]:
    """Median, min, quartiles and count of per-unit times (seconds)."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median_s": statistics.median(ordered),
        "min_s": ordered[0],
        "q1_s": quartiles[0],
        "q3_s": quartiles[2],
        "reps": len(ordered),
    }
