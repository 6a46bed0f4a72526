"""Command line: measure ffnn against NumPy, PyTorch, scikit-learn, jax.jit and the matmul limit.

Per config: training steps (ffnn on each backend, the hand-written NumPy and jax.jit
steps, PyTorch eager, scikit-learn, the matrix products alone, ffnn's compiled steps once
it offers them) and, on small and mnist-128, whole shuffled ``fit`` epochs against
hand-written loops, all timed interleaved.

``python -m benchmarks.run --quick`` (about 3 minutes on 2 idle cores; more when loaded)
or ``python -m benchmarks.run`` (the full run, about 10 minutes on 2 idle cores; more when
loaded). Results go to
``benchmarks/results/<machine>-<date>.json``; ``--readme`` also rewrites the summary
table of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backends import backend_status

from .competitors import SklearnMLP, TorchEager
from .configs import DIGITS_BATCH, DIGITS_SIZES, GPU_EXTRA_CONFIGS, STEP_CONFIGS, TINY_CONFIG, Config
from .env import machine_info, set_threads
from .fit_loop import FfnnFit, ReferenceFitLoop, compile_support, epoch_data, one_hot_rows
from .jax_reference import JaxJitFitLoop, JaxJitStep, JaxMatmulStep, jax_available
from .matmul import MatmulStep
from .memory import peak_memory
from .reference import inlined_step, reference_step
from .report import evaluate_targets, summary_markdown, write_readme
from .subject import CompiledStep, FfnnStep, build_network, make_batch, training_api
from .timing import Case, measure_interleaved, summarize

__all__ = ["MODES", "Mode", "main", "run_benchmarks"]

LEARNING_RATE = 0.01
RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEAVY_FLOPS = 1e10  # configs above this many FLOPs per step get the "heavy" repetition counts
FIT_CONFIGS = ("small", "mnist-128", "tiny")  # configs that also get the whole-epoch (fit) comparison
FIT_BATCHES = 30  # batches per fit epoch (as many as scikit-learn's digits has)
FIT_EPOCHS_PER_CALL = 3  # epochs per timed fit call: per-call costs are shared as in a multi-epoch fit
COMPILED_BACKENDS = ("jax", "torch")  # ffnn-<backend>-compiled slots, measured once ffnn offers the option


@dataclass(frozen=True)
class Mode:
    """How hard to measure: repetitions, block length, which extras run."""

    name: str
    reps: int
    reps_heavy: int
    block_s: float
    warmup_calls: int
    sklearn_batches: int
    sklearn_batches_heavy: int
    digits_epochs_per_call: int
    digits_reps: int
    memory_steps: int
    backends: tuple[str, ...]
    float64_matmul: bool
    pause_s: float
    fit_batches: int = FIT_BATCHES
    fit_epochs_per_call: int = FIT_EPOCHS_PER_CALL
    references: tuple[str, ...] = ("jax-jit",)


MODES = {
    "smoke": Mode("smoke", 2, 1, 0.0, 1, 2, 2, 1, 1, 1, ("numpy",), False, 0.0, 2, 1, ()),
    "quick": Mode("quick", 7, 3, 0.05, 2, 8, 2, 2, 5, 1, ("numpy", "torch", "jax"), False, 0.15),
    "full": Mode("full", 25, 9, 0.2, 3, 16, 3, 5, 15, 2, ("numpy", "torch", "jax", "array_api_strict"), True, 0.15),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _one_hot_columns(labels: np.ndarray, n_out: int, dtype: str) -> np.ndarray:
    return np.eye(n_out, dtype=dtype)[labels].T


def _heavy(config: Config) -> bool:
    return config.flops_per_step > HEAVY_FLOPS


# ---------------------------------------------------------------- CPU step comparisons
def _cpu_cases(config: Config, mode: Mode, *, with_sklearn: bool) -> tuple[list[Case], dict[str, float], dict[str, str]]:
    """The timed cases of one config, the cost each returns at the shared start point, and
    the reason for every slot that could not run here."""
    import torch

    X, labels = make_batch(config)
    weights = build_network(config).get_weights()
    cases, first_cost, skipped = [], {}, {}

    for backend in mode.backends:
        status = backend_status(backend)
        if not status.usable:
            skipped[f"ffnn-{backend}"] = status.reason
            continue
        subject = FfnnStep(config, weights, X, labels, lr=LEARNING_RATE, backend=backend)
        first_cost[f"ffnn-{backend}"] = float(subject.step())
        cases.append(Case(f"ffnn-{backend}", subject.step, sync=subject.synchronize))

    params = [[weights[i].copy(), weights[i + 1].copy()] for i in range(0, len(weights), 2)]
    X_cols, Y_cols = X.T, _one_hot_columns(labels, config.sizes[-1], "float32")
    first_cost["reference-numpy"] = float(reference_step(params, X_cols, Y_cols, lr=LEARNING_RATE))
    cases.append(Case("reference-numpy", lambda: reference_step(params, X_cols, Y_cols, lr=LEARNING_RATE)))
    # ffnn's own operations with every call inlined: what ffnn's structure costs on top
    inlined = [[weights[i].copy(), weights[i + 1].copy()] for i in range(0, len(weights), 2)]
    first_cost["inlined-numpy"] = float(inlined_step(inlined, X_cols, Y_cols, lr=LEARNING_RATE))
    cases.append(Case("inlined-numpy", lambda: inlined_step(inlined, X_cols, Y_cols, lr=LEARNING_RATE)))

    eager = TorchEager(config, weights, X, labels, lr=LEARNING_RATE)
    first_cost["torch-eager"] = float(eager.step())
    cases.append(Case("torch-eager", eager.step))

    if "jax-jit" in mode.references:
        reason = jax_available()
        if reason:
            skipped["jax-jit"] = reason
        else:
            jit = JaxJitStep(weights, X, Y_cols.T, lr=LEARNING_RATE)
            first_cost["jax-jit"] = float(jit.step())
            cases.append(Case("jax-jit", jit.step, sync=jit.synchronize))
            products = JaxMatmulStep(config)
            cases.append(Case("matmul-jax-float32", products.run, sync=products.synchronize))

    kinds, reason = compile_support()
    for backend in COMPILED_BACKENDS:
        name = f"ffnn-{backend}-compiled"
        if "compile_step" not in kinds:
            skipped[name] = reason or "ffnn compiles through Network.fit(compile=True): measured per step of fit"
            continue
        try:
            step = CompiledStep(config, weights, X, labels, lr=LEARNING_RATE, backend=backend)
            first_cost[name] = float(step.step())
        except Exception as exc:  # noqa: BLE001 - a slot that cannot run is recorded, never fatal
            skipped[name] = f"ffnn.training.compile_step failed on {backend}: {type(exc).__name__}: {exc}"
            continue
        cases.append(Case(name, step.step, sync=step.synchronize))

    if with_sklearn:
        batches = mode.sklearn_batches_heavy if _heavy(config) else mode.sklearn_batches
        Xs, ls = make_batch(config, m=batches * config.batch, seed=2)
        mlp = SklearnMLP(config, Xs, ls, lr=LEARNING_RATE)
        cases.append(Case("sklearn-mlp", mlp.epoch, units=mlp.steps_per_epoch))

    cases.append(Case("matmul-numpy-float32", MatmulStep(config, xp=np, make=lambda a: a).run))
    cases.append(Case("matmul-torch-float32", MatmulStep(config, xp=torch, make=torch.from_numpy).run))
    if mode.float64_matmul:
        cases.append(Case("matmul-numpy-float64", MatmulStep(config, xp=np, make=lambda a: a, dtype="float64").run))
    if config.name in FIT_CONFIGS and mode.fit_batches:
        cases += _fit_cases(config, mode, weights, skipped, kinds, reason)
    return cases, first_cost, skipped


def _fit_cases(config: Config, mode: Mode, weights: list[np.ndarray], skipped: dict[str, str],
               kinds: tuple[str, ...], reason: str) -> list[Case]:
    """Whole shuffled epochs, timed per batch: ``Network.fit`` against the hand-written loops
    (``fit:<name>``), all on the same data, permutations and starting weights."""
    X, labels = epoch_data(config, mode.fit_batches)
    Y = one_hot_rows(labels, config.sizes[-1], "float32")
    k = mode.fit_epochs_per_call
    ffnn_fit = FfnnFit(config, weights, X, labels, lr=LEARNING_RATE, epochs_per_call=k)
    params = [[weights[i].copy(), weights[i + 1].copy()] for i in range(0, len(weights), 2)]
    loop = ReferenceFitLoop(params, X, Y, batch=config.batch, lr=LEARNING_RATE, seed=ffnn_fit.net.seed,
                            epochs_per_call=k)
    cases = [Case("fit:ffnn-numpy", ffnn_fit.run, units=ffnn_fit.units),
             Case("fit:reference-numpy", loop.run, units=loop.units)]
    if "jax-jit" in mode.references and not skipped.get("jax-jit"):
        jit = JaxJitFitLoop(weights, X, Y, batch=config.batch, lr=LEARNING_RATE, seed=ffnn_fit.net.seed,
                            epochs_per_call=k)
        cases.append(Case("fit:jax-jit", jit.run, units=jit.units, sync=jit.synchronize))
    for backend in COMPILED_BACKENDS:
        name = f"fit:ffnn-{backend}-compiled"
        if "fit" not in kinds:
            skipped[name] = reason or "ffnn compiles through ffnn.training.compile_step: measured per step"
            continue
        try:
            compiled = FfnnFit(config, weights, X, labels, lr=LEARNING_RATE, backend=backend, epochs_per_call=k,
                               compile=True)
            compiled.run()  # compiles, and shows that the option works on this backend
        except Exception as exc:  # noqa: BLE001 - a slot that cannot run is recorded, never fatal
            skipped[name] = f"Network.fit(compile=True) failed on {backend}: {type(exc).__name__}: {exc}"
            continue
        cases.append(Case(name, compiled.run, units=compiled.units, sync=compiled.synchronize))
    return cases


def _costs_agree(first_cost: dict[str, float], rtol: float = 1e-3) -> bool:
    """Whether every implementation started from the same cost (same weights, batch and loss)."""
    values = list(first_cost.values())
    return all(abs(v - values[0]) <= rtol * abs(values[0]) for v in values)


def _results(config: Config, cases: list[Case]) -> dict[str, Any]:
    out = {}
    for case in cases:
        stats = summarize(case.samples)
        stats.update(calls_per_block=case.calls_per_block, steps_per_call=case.units,
                     gflops=config.flops_per_step / stats["median_s"] / 1e9, samples_s=case.samples)
        out[case.name] = stats
    return out


def _ratios(results: dict[str, Any], subjects: list[str], *, reference: str, eager: str, matmul: str) -> dict:
    """time(subject)/time(other), and the matmul limit's share of the subject's step time."""
    ratios: dict[str, Any] = {}
    med = {k: v["median_s"] for k, v in results.items()}
    best = {k: v["min_s"] for k, v in results.items()}
    for s in subjects:
        if s not in med:
            continue
        row = {}
        others = (("vs_reference", reference), ("vs_inlined", "inlined-numpy"), ("vs_torch_eager", eager),
                  ("vs_sklearn", "sklearn-mlp"))
        for label, other in others:
            if other in med:
                row[label] = med[s] / med[other]
                row[f"{label}_of_minima"] = best[s] / best[other]
        if matmul in med:
            row["matmul_fraction"] = med[matmul] / med[s]
            row["matmul_fraction_of_minima"] = best[matmul] / best[s]
        ratios[s] = row
    return ratios


def run_cpu_config(config: Config, mode: Mode, *, with_sklearn: bool = True) -> dict[str, Any]:
    """Interleaved timings of every CPU implementation of one config, with ratios."""
    cases, first_cost, skipped = _cpu_cases(config, mode, with_sklearn=with_sklearn)
    reps = mode.reps_heavy if _heavy(config) else mode.reps
    measure_interleaved(cases, reps=reps, block_s=mode.block_s, warmup_calls=mode.warmup_calls, pause_s=mode.pause_s)
    results = _results(config, cases)
    subjects = [c.name for c in cases if c.name.startswith("ffnn-")] + ["inlined-numpy", "reference-numpy",
                                                                       "torch-eager", "jax-jit"]
    ratios = _ratios(results, subjects, reference="reference-numpy", eager="torch-eager", matmul="matmul-numpy-float32")
    for name, row in ratios.items():
        if "jax-jit" in results and name != "jax-jit":
            row["vs_jax_jit"] = results[name]["median_s"] / results["jax-jit"]["median_s"]
            row["vs_jax_jit_of_minima"] = results[name]["min_s"] / results["jax-jit"]["min_s"]
    out = {
        **config.as_dict(),
        "dtype": "float32",
        "first_step_cost": first_cost,
        "costs_agree": _costs_agree(first_cost),
        "results": results,
        "ratios": ratios,
        "skipped": skipped,
    }
    if any(c.name.startswith("fit:") for c in cases):
        out["fit"] = {
            "api": "Network.fit(X, labels, epochs=k, batch_size=m, optimizer=SGD(0.01), shuffle=True)",
            "reference": "hand-written NumPy loop: same permutation (ffnn.training.shuffle_order), gather, step, "
                         "per-epoch cost sum read once",
            "batches_per_epoch": mode.fit_batches,
            "epochs_per_call": mode.fit_epochs_per_call,
            "ratios": _fit_ratios(results),
        }
    return out


def _fit_ratios(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per-step time of each fit:* case over the reference loop's (and the jax.jit loop's, and
    PyTorch eager's single step)."""
    out: dict[str, dict[str, float]] = {}
    others = (("vs_reference", "fit:reference-numpy"), ("vs_jax_jit", "fit:jax-jit"), ("vs_torch_eager", "torch-eager"))
    for name, stats in results.items():
        if not name.startswith("fit:") or name == "fit:reference-numpy":
            continue
        row = {}
        for label, other in others:
            if other in results and other != name:
                row[label] = stats["median_s"] / results[other]["median_s"]
                row[f"{label}_of_minima"] = stats["min_s"] / results[other]["min_s"]
        out[name[4:]] = row
    return out


# ---------------------------------------------------------------- digits, end to end
def run_digits(mode: Mode) -> dict[str, Any]:
    """Epoch time on scikit-learn's digits (1797 × 64), ffnn's fit against MLPClassifier."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    config = Config("digits", DIGITS_SIZES, DIGITS_BATCH, "end-to-end")
    net = build_network(config)
    SGD = training_api()[1]
    epochs = mode.digits_epochs_per_call

    def ffnn_epochs() -> None:
        net.fit(X, y, epochs=epochs, batch_size=DIGITS_BATCH, optimizer=SGD(learning_rate=LEARNING_RATE), shuffle=True)

    mlp = SklearnMLP(config, X, y, lr=LEARNING_RATE)

    def sklearn_epochs() -> None:
        for _ in range(epochs):
            mlp.epoch()

    cases = [Case("ffnn-numpy", ffnn_epochs, units=epochs), Case("sklearn-mlp", sklearn_epochs, units=epochs)]
    measure_interleaved(cases, reps=mode.digits_reps, block_s=0.0, warmup_calls=1, pause_s=mode.pause_s)
    results = {c.name: {**summarize(c.samples), "samples_s": c.samples} for c in cases}
    return {
        "dataset": "sklearn.datasets.load_digits (1797 x 64, scaled to [0, 1])",
        "sizes": list(DIGITS_SIZES),
        "batch": DIGITS_BATCH,
        "ffnn_api": "Network.fit",
        "sklearn_dtype": mlp.dtype,
        "epochs_per_timed_call": epochs,
        "results_per_epoch": results,
        "ratio_ffnn_vs_sklearn": results["ffnn-numpy"]["median_s"] / results["sklearn-mlp"]["median_s"],
        "ratio_ffnn_vs_sklearn_of_minima": results["ffnn-numpy"]["min_s"] / results["sklearn-mlp"]["min_s"],
    }


# ---------------------------------------------------------------- GPU
def gpu_availability() -> dict[str, str]:
    """For cupy and torch-cuda: "" when usable, else the reason it is not."""
    from backends import backend_status

    status = backend_status("cupy")
    reasons = {"cupy": "" if status.usable else status.reason}
    try:
        import torch
    except ImportError:
        reasons["torch-cuda"] = "torch is not installed"
    else:
        if torch.version.cuda is None:
            reasons["torch-cuda"] = f"torch {torch.__version__} is a CPU-only build"
        elif not torch.cuda.is_available():
            reasons["torch-cuda"] = "torch sees no CUDA device"
        else:
            reasons["torch-cuda"] = ""
    return reasons


def _gpu_cases(config: Config, usable: dict[str, bool]) -> tuple[list[Case], dict[str, float]]:
    X, labels = make_batch(config)
    weights = build_network(config).get_weights()
    cases, first_cost = [], {}
    if usable["cupy"]:
        import cupy

        def cupy_sync() -> None:
            cupy.cuda.Device().synchronize()

        subject = FfnnStep(config, weights, X, labels, lr=LEARNING_RATE, backend="cupy", device="cuda:0")
        first_cost["ffnn-cupy"] = float(subject.step())
        cases.append(Case("ffnn-cupy", subject.step, sync=subject.synchronize))
        params = [[cupy.asarray(weights[i]), cupy.asarray(weights[i + 1])] for i in range(0, len(weights), 2)]
        X_cols = cupy.asarray(X).T
        Y_cols = cupy.asarray(_one_hot_columns(labels, config.sizes[-1], "float32"))
        first_cost["reference-cupy"] = float(reference_step(params, X_cols, Y_cols, lr=LEARNING_RATE, np=cupy))
        cases.append(Case("reference-cupy", lambda: reference_step(params, X_cols, Y_cols, lr=LEARNING_RATE, np=cupy),
                          sync=cupy_sync))
        cases.append(Case("matmul-cupy-float32", MatmulStep(config, xp=cupy, make=cupy.asarray).run, sync=cupy_sync))
    if usable["torch-cuda"]:
        import torch

        def torch_sync() -> None:
            torch.cuda.synchronize()

        subject = FfnnStep(config, weights, X, labels, lr=LEARNING_RATE, backend="torch", device="cuda:0")
        first_cost["ffnn-torch-cuda"] = float(subject.step())
        cases.append(Case("ffnn-torch-cuda", subject.step, sync=subject.synchronize))
        eager = TorchEager(config, weights, X, labels, lr=LEARNING_RATE, device="cuda")
        first_cost["torch-eager-cuda"] = float(eager.step())
        cases.append(Case("torch-eager-cuda", eager.step, sync=eager.synchronize))
        cases.append(Case("matmul-torch-cuda-float32",
                          MatmulStep(config, xp=torch, make=lambda a: torch.from_numpy(a).cuda()).run, sync=torch_sync))
    return cases, first_cost


def _gpu_device_name(usable: dict[str, bool]) -> str:
    if usable["torch-cuda"]:
        import torch

        return torch.cuda.get_device_name(0)
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


def run_gpu(configs: list[Config], mode: Mode) -> dict[str, Any]:
    """The step comparisons on CUDA, or a record of why they were skipped."""
    reasons = gpu_availability()
    usable = {k: not v for k, v in reasons.items()}
    if not any(usable.values()):
        return {"status": "skipped", "reasons": reasons}
    out: dict[str, Any] = {"status": "ran", "device": _gpu_device_name(usable), "reasons": reasons, "configs": []}
    for config in configs:
        _log(f"[gpu] {config.name} {config.sizes} m={config.batch}")
        try:
            cases, first_cost = _gpu_cases(config, usable)
            measure_interleaved(cases, reps=mode.reps, block_s=max(mode.block_s, 0.02),
                                warmup_calls=mode.warmup_calls + 3, pause_s=mode.pause_s)
        except Exception as exc:  # noqa: BLE001 - a failing config (out of memory...) must not lose the others
            _log(f"[gpu] {config.name} failed: {type(exc).__name__}: {exc}")
            out.setdefault("failed", []).append({**config.as_dict(), "error": f"{type(exc).__name__}: {exc}"})
            continue
        results = _results(config, cases)
        subjects = [c.name for c in cases if c.name.startswith(("ffnn-", "reference-"))]
        out["configs"].append({
            **config.as_dict(),
            "dtype": "float32",
            "first_step_cost": first_cost,
            "costs_agree": _costs_agree(first_cost),
            "results": results,
            "ratios": _ratios(results, subjects, reference="reference-cupy", eager="torch-eager-cuda",
                              matmul="matmul-cupy-float32"),
        })
    return out


# ---------------------------------------------------------------- driver
def run_benchmarks(*, mode: Mode, configs: list[Config], gpu_configs: list[Config], threads: int,
                   digits: bool = True, memory: bool = True, gpu: bool = True, cpu: bool = True) -> dict[str, Any]:
    """Everything, in one process; returns the JSON-ready results. ``cpu=False`` runs the
    GPU section alone (on ``configs + gpu_configs``), without digits or memory."""
    limiter = set_threads(threads)
    try:
        result: dict[str, Any] = {
            "mode": asdict(mode),
            "machine": machine_info(threads),
            "ffnn_training_api": training_api()[2],
            "learning_rate": LEARNING_RATE,
            "optimizer": "plain SGD (no momentum, no L2)",
            "configs": [],
        }
        for config in configs if cpu else []:
            _log(f"[cpu] {config.name} {config.sizes} m={config.batch}")
            result["configs"].append(run_cpu_config(config, mode))
        if digits and cpu:
            _log("[cpu] digits epoch")
            result["digits"] = run_digits(mode)
        if memory and cpu:
            result["memory"] = []
            for config in configs:
                _log(f"[mem] {config.name}")
                result["memory"].append({"config": config.name, **peak_memory(config, lr=LEARNING_RATE,
                                                                              steps=mode.memory_steps)})
        result["gpu"] = run_gpu(configs + gpu_configs, mode) if gpu else {"status": "skipped",
                                                                         "reasons": {"all": "--no-gpu given"}}
        result["targets"] = evaluate_targets(result)
        result["machine"]["load_average_at_end"] = list(os.getloadavg())
        return result
    finally:
        limiter.restore_original_limits()


def _machine_kind(result: dict[str, Any]) -> str:
    gpu = result.get("gpu", {})
    if gpu.get("status") == "ran":
        return "cuda-" + "".join(ch if ch.isalnum() else "-" for ch in gpu["device"].lower()).strip("-")
    return "cpu"


def write_json(result: dict[str, Any], path: Path) -> None:
    """Atomic write: a temporary file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(result, fh, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="mode", action="store_const", const="quick", help="about 3 minutes on 2 idle cores; more when loaded")
    group.add_argument("--mode", choices=sorted(MODES), help="smoke (seconds, for tests), quick, or full (default)")
    parser.set_defaults(mode="full")
    parser.add_argument("--configs", nargs="+", metavar="NAME",
                        help=f"subset of {', '.join(c.name for c in STEP_CONFIGS)} (or 'tiny')")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BLAS and torch threads")
    parser.add_argument("--out", type=Path, help="JSON path (default results/<machine>[-<mode>]-<date>.json)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the CUDA comparisons")
    parser.add_argument("--gpu-only", action="store_true",
                        help="only the CUDA comparisons (no CPU steps, digits or memory); used by benchmarks.gpu_check")
    parser.add_argument("--no-digits", action="store_true", help="skip the digits epoch comparison")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--readme", action="store_true", help="rewrite the summary table in benchmarks/README.md")
    return parser.parse_args(argv)


def _select(names: list[str] | None) -> tuple[list[Config], list[Config]]:
    known = {c.name: c for c in (*STEP_CONFIGS, TINY_CONFIG)}
    if not names:
        return list(STEP_CONFIGS), list(GPU_EXTRA_CONFIGS)
    unknown = [n for n in names if n not in known and n not in {c.name for c in GPU_EXTRA_CONFIGS}]
    if unknown:
        raise SystemExit(f"unknown config(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[n] for n in names if n in known], [c for c in GPU_EXTRA_CONFIGS if c.name in names]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    mode = MODES[args.mode]
    configs, gpu_configs = _select(args.configs)
    if args.gpu_only and args.no_gpu:
        raise SystemExit("--gpu-only and --no-gpu leave nothing to measure; give one of them")
    result = run_benchmarks(mode=mode, configs=configs, gpu_configs=gpu_configs, threads=args.threads,
                            digits=not args.no_digits, memory=not args.no_memory, gpu=not args.no_gpu,
                            cpu=not args.gpu_only)
    date = datetime.date.today().isoformat()
    suffix = "" if mode.name == "full" else f"-{mode.name}"
    path = args.out or RESULTS_DIR / f"{_machine_kind(result)}{suffix}-{date}.json"
    write_json(result, path)
    source = path.name if path.resolve().parent == RESULTS_DIR else ""  # the summary cites results/<name> only
    print(summary_markdown(result, source=source))
    _log(f"results written to {path.resolve()}")
    if args.readme:
        write_readme(result, source=source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
