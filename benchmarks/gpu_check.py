"""One call verifies a GPU: ``python -m benchmarks.gpu_check --out DIR``.

Runs, each in its own process with its own time limit (so that a crash, a hang or a
missing library in one part never stops the others), and in under 8 minutes in all:

1. ``probe``: the device, driver and CUDA versions, library versions, and whether CuPy and
   PyTorch can really run on the GPU (a small kernel and a cuBLAS product each);
2. ``parity-float32`` / ``parity-float64``: ``python -m ffnn parity`` on numpy, cupy and
   torch on cuda:0;
3. ``bench-m1024`` / ``bench-large``: ``python -m benchmarks.run --quick --gpu-only`` on
   the GPU batch sizes (mnist-1024, mnist-8192; large, large-4096): ffnn-cupy against
   PyTorch eager CUDA, the CuPy reference and the cuBLAS limit;
4. ``pytest-parity-gpu`` / ``pytest-gpu``: ``pytest -m gpu`` on the parity suite, then on
   the rest of the tests.

Every part ends ok, failed or skipped, with the reason. The results go to
``DIR/gpu_check.json`` and ``DIR/gpu_check.txt`` (each part's output to ``DIR/<part>.log``,
the benchmark JSONs to ``DIR/bench-*.json``), and the two GPU targets are checked:
ffnn-cupy ≥ 1.0× PyTorch eager CUDA throughput at m ≥ 1024 and ≥ 70% of the cuBLAS limit on
``large``. Exit status 0 when no part failed, 1 otherwise (missed targets are findings, not
failures: they are printed and stored).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "Part", "Runner", "gpu_targets", "main", "plan", "probe", "render_text"]

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 450.0  # all parts together, so that the whole check stays under 8 minutes
TAIL_CHARS = 3000
PACKAGES = ("numpy", "cupy", "cupy-cuda12x", "cupy-cuda13x", "torch", "jax", "jaxlib", "array-api-compat", "tqdm",
            "threadpoolctl", "ffnn", "pytest", "array-api-strict", "scikit-learn")
#: Environment of every part: JAX must not grab 75% of the GPU memory that CuPy and torch need.
PART_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
GPU_TARGET_LABELS = ("ffnn-cupy throughput / PyTorch eager CUDA (m >= 1024)",
                     "cuBLAS matmul limit / ffnn-cupy step (large)")


@dataclass
class Part:
    """One check: a command (argv; ``{python}`` and ``{out}`` are filled in), its own time
    limit, and the prerequisite that decides whether it runs (None: it runs)."""

    name: str
    argv: list[str]
    timeout_s: float
    what: str
    prerequisite: str | None = None  # the reason to skip, when known before running
    ok_codes: tuple[int, ...] = (0,)
    results: str | None = None  # a JSON file the part writes (benchmarks)


@dataclass
class Outcome:
    """How a part ended: ok, failed or skipped, why, how long it took, and where its output is."""

    name: str
    what: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    command: list[str] = field(default_factory=list)
    log: str | None = None
    tail: str = ""


# ---------------------------------------------------------------- probe (runs in a child process)
def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _nvidia_smi() -> dict[str, Any]:
    query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=20, check=False)
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"nvidia-smi did not run: {type(exc).__name__}: {exc}"}
    if done.returncode != 0:
        return {"error": f"nvidia-smi exited with {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"}
    gpus = []
    for line in done.stdout.strip().splitlines():
        name, driver, memory = ([*line.split(", "), "", ""])[:3]
        gpus.append({"name": name.strip(), "driver": driver.strip(), "memory": memory.strip()})
    cuda = ""
    for line in header.stdout.splitlines():
        if "CUDA Version" in line:
            cuda = line.split("CUDA Version:")[1].strip(" |")
    return {"gpus": gpus, "driver_cuda_version": cuda}


def _probe_cupy() -> dict[str, Any]:
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - any import failure is the reason
        return {"usable": False, "reason": f"cupy does not import: {type(exc).__name__}: {exc}"}
    info: dict[str, Any] = {"version": cupy.__version__}
    try:
        runtime = cupy.cuda.runtime
        info["devices"] = runtime.getDeviceCount()
        info["runtime_version"] = runtime.runtimeGetVersion()
        info["driver_version"] = runtime.driverGetVersion()
        info["device"] = runtime.getDeviceProperties(0)["name"].decode()
        kernel = float((cupy.arange(4, dtype=cupy.float32) * 2).sum())  # an element-wise and a reduction kernel
        a = cupy.ones((64, 64), dtype=cupy.float32)
        product = float((a @ a)[0, 0])  # cuBLAS
        cupy.cuda.Device().synchronize()
    except Exception as exc:  # noqa: BLE001
        info.update(usable=False, reason=f"cupy cannot run on the GPU: {type(exc).__name__}: {exc}")
        return info
    if kernel != 12.0 or product != 64.0:
        info.update(usable=False, reason=f"cupy computed wrong values (kernel {kernel}, cuBLAS {product})")
        return info
    info.update(usable=True, reason="")
    return info


def _probe_torch() -> dict[str, Any]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        return {"usable": False, "reason": f"torch does not import: {type(exc).__name__}: {exc}"}
    info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda}
    if torch.version.cuda is None:
        info.update(usable=False, reason=f"torch {torch.__version__} is a CPU-only build")
        return info
    try:
        if not torch.cuda.is_available():
            info.update(usable=False, reason="torch sees no CUDA device")
            return info
        info["device"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
        a = torch.ones((64, 64), dtype=torch.float32, device="cuda")
        product = float((a @ a)[0, 0])
        torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001
        info.update(usable=False, reason=f"torch cannot run on the GPU: {type(exc).__name__}: {exc}")
        return info
    if product != 64.0:
        info.update(usable=False, reason=f"torch computed a wrong cuBLAS product ({product})")
        return info
    info.update(usable=True, reason="")
    return info


def _probe_import(name: str) -> str:
    try:
        __import__(name)
    except Exception as exc:  # noqa: BLE001
        return f"{name} does not import: {type(exc).__name__}: {exc}"
    return ""


def probe() -> dict[str, Any]:
    """Everything the report needs to know about the machine; never raises."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "versions": _versions(),
        "nvidia_smi": _nvidia_smi(),
        "cupy": _probe_cupy(),
        "torch": _probe_torch(),
        "imports": {name: _probe_import(name) for name in ("ffnn", "pytest", "threadpoolctl")},
    }


# ---------------------------------------------------------------- planning
def no_gpu_reason(machine: dict[str, Any]) -> str:
    """"" when CuPy or torch can run on the GPU, else "no GPU: ..." with every reason."""
    if machine.get("cupy", {}).get("usable") or machine.get("torch", {}).get("usable"):
        return ""
    parts = [f"{lib}: {machine.get(lib, {}).get('reason', 'not probed')}" for lib in ("cupy", "torch")]
    smi = machine.get("nvidia_smi", {})
    if smi.get("error"):
        parts.append(smi["error"])
    return "no GPU (" + "; ".join(parts) + ")"


def plan(machine: dict[str, Any], out: Path, *, tests: Path = ROOT / "tests") -> list[Part]:
    """The parts to run after the probe, each with its prerequisite decided from the probe."""
    gpu = no_gpu_reason(machine)
    imports = machine.get("imports", {})
    cupy_ok = bool(machine.get("cupy", {}).get("usable"))
    torch_ok = bool(machine.get("torch", {}).get("usable"))
    ffnn_missing = imports.get("ffnn", "not probed")
    libs = ["numpy"] + (["cupy"] if cupy_ok else []) + (["torch:cuda:0"] if torch_ok else [])
    parts = []
    for dtype in ("float32", "float64"):
        parts.append(Part(
            f"parity-{dtype}", ["{python}", "-m", "ffnn", "parity", "--backends", ",".join(libs), "--dtype", dtype],
            40, f"ffnn parity {','.join(libs)} in {dtype}",
            prerequisite=gpu or (f"ffnn cannot run: {ffnn_missing}" if ffnn_missing else None),
        ))
    bench_missing = gpu or (f"ffnn cannot run: {ffnn_missing}" if ffnn_missing else "") or (
        f"the benchmarks need threadpoolctl: {imports['threadpoolctl']}" if imports.get("threadpoolctl") else "")
    for name, configs in (("bench-m1024", ["mnist-1024", "mnist-8192"]), ("bench-large", ["large", "large-4096"])):
        result = str(out / f"{name}.json")
        parts.append(Part(
            name, ["{python}", "-m", "benchmarks.run", "--quick", "--gpu-only", "--configs", *configs,
                   "--out", result],
            95, f"GPU benchmarks on {', '.join(configs)}", prerequisite=bench_missing or None, results=result,
        ))
    pytest_missing = imports.get("pytest", "not probed")
    test_missing = gpu or (f"pytest cannot run: {pytest_missing}" if pytest_missing else "") or (
        "" if tests.is_dir() else f"{tests} not found: run from a checkout of the repository")
    parts.append(Part("pytest-parity-gpu", ["{python}", "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                            str(tests / "parity")],
                      50, "the parity suite on cupy and torch-cuda (pytest -m gpu tests/parity)",
                      prerequisite=test_missing or None))
    parts.append(Part("pytest-gpu", ["{python}", "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                     f"--ignore={tests / 'parity'}", str(tests)],
                      130, "the GPU tests (pytest -m gpu tests, without the parity suite)",
                      prerequisite=test_missing or None))
    return parts


# ---------------------------------------------------------------- running
def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """End the part and every process it started (its own session), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Runner:
    """Runs parts one after another within one overall deadline."""

    def __init__(self, out: Path, *, budget_s: float = BUDGET_S, python: str = sys.executable,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.python, self.clock = out, python, clock
        self.deadline = clock() + budget_s

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def run(self, part: Part) -> Outcome:
        """The outcome of one part; never raises for anything the part does."""
        argv = [a.replace("{python}", self.python).replace("{out}", str(self.out)) for a in part.argv]
        base = Outcome(part.name, part.what, "skipped", command=argv)
        if part.prerequisite:
            base.reason = part.prerequisite
            return base
        limit = min(part.timeout_s, self.remaining())
        if limit < 5:
            base.reason = f"out of the overall time budget ({self.remaining():.0f} s left)"
            return base
        log = self.out / f"{part.name}.log"
        base.log = str(log)
        env = {**os.environ, **PART_ENV}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        start = self.clock()
        try:
            with open(log, "w") as fh:
                proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
                try:
                    code = proc.wait(timeout=limit)
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    code = None
        except OSError as exc:
            return Outcome(part.name, part.what, "failed", f"could not start: {exc}", command=argv)
        seconds = self.clock() - start
        tail = log.read_text(errors="replace")[-TAIL_CHARS:]
        if code is None:
            status, reason = "failed", f"timed out after {limit:.0f} s (its own limit {part.timeout_s:.0f} s)"
        elif code in part.ok_codes:
            status, reason = "ok", ""
        else:
            status, reason = "failed", f"exit status {code}: {_last_line(tail)}"
        return Outcome(part.name, part.what, status, reason, round(seconds, 1), code, argv, str(log), tail)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


# ---------------------------------------------------------------- targets and report
def gpu_targets(results_files: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The GPU target rows of the benchmark JSONs that exist (measured or skipped, with the reason)."""
    rows = []
    for path in results_files:
        path = Path(path)
        if not path.is_file():
            continue
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            rows.append({"target": "unreadable results", "config": path.name, "value": None, "met": None,
                         "skipped": f"{type(exc).__name__}: {exc}"})
            continue
        for row in saved.get("targets", []):
            if row.get("target") in GPU_TARGET_LABELS:
                rows.append({**row, "source": path.name})
    return rows


def _verdict(rows: list[dict[str, Any]], label: str) -> str:
    mine = [r for r in rows if r.get("target") == label]
    measured = [r for r in mine if r.get("value") is not None]
    if not measured:
        why = "; ".join(sorted({r.get("skipped", "") for r in mine if r.get("skipped")})) or "no benchmark ran"
        return f"not measured ({why})"
    verdict = "MET" if all(r["met"] for r in measured) else "MISSED"
    values = ", ".join(f"{r['config']} {r['value']:.3f}" for r in measured)
    return f"{verdict}: {values} ({measured[0]['comparison']} {measured[0]['limit']})"


def render_text(report: dict[str, Any]) -> str:
    """The human-readable summary (also printed)."""
    m = report.get("machine", {})
    smi = m.get("nvidia_smi", {})
    gpus = ", ".join(f"{g['name']} (driver {g['driver']}, {g['memory']})" for g in smi.get("gpus", []))
    cupy, torch = m.get("cupy", {}), m.get("torch", {})
    lines = [
        f"ffnn GPU check, {report['started']} ({report['seconds']:.0f} s, budget {report['budget_s']:.0f} s)",
        f"GPU: {gpus or smi.get('error', 'none found')}; CUDA (driver) {smi.get('driver_cuda_version', '?')}",
        f"cupy: {cupy.get('version', '-')} runtime {cupy.get('runtime_version', '-')}: "
        + ("usable" if cupy.get("usable") else cupy.get("reason", "not probed")),
        f"torch: {torch.get('version', '-')} CUDA {torch.get('cuda', '-')}: "
        + ("usable" if torch.get("usable") else torch.get("reason", "not probed")),
        "versions: " + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()),
        "",
    ]
    gpu = no_gpu_reason(m) if m else ""
    if gpu:
        lines[-1:-1] = [gpu]
    width = max(len(p["name"]) for p in report["parts"])
    for p in report["parts"]:
        secs = f"{p['seconds']:6.1f} s" if p["status"] != "skipped" else " " * 8
        reason = "no GPU (reasons above)" if gpu and p["reason"] == gpu else p["reason"]
        lines.append(f"{p['name']:<{width}}  {p['status']:<7} {secs}  {p['what']}"
                     + (f"\n{'':<{width}}  -> {reason}" if reason else ""))
    lines += ["", "GPU targets:"]
    for label in GPU_TARGET_LABELS:
        lines.append(f"- {label}: {_verdict(report['targets'], label)}")
    lines += ["", report["summary"]]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_check(out: Path, *, budget_s: float = BUDGET_S, python: str = sys.executable,
              only: Sequence[str] | None = None) -> dict[str, Any]:
    """Probe, run every part, collect the targets, write DIR/gpu_check.json and .txt; the report."""
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    runner = Runner(out, budget_s=budget_s, python=python)
    t0 = time.monotonic()
    probe_part = Part("probe", ["{python}", "-m", "benchmarks.gpu_check", "--probe", "--out", "{out}"], 40,
                      "device, driver, CUDA and library versions; a kernel and a cuBLAS product on cupy and torch")
    outcomes = [runner.run(probe_part)]
    machine: dict[str, Any] = {}
    probe_file = out / "probe.json"
    if outcomes[0].status == "ok" and probe_file.is_file():
        machine = json.loads(probe_file.read_text())
    elif outcomes[0].status == "ok":
        outcomes[0].status, outcomes[0].reason = "failed", "the probe wrote no probe.json"
    parts = plan(machine, out)
    for part in parts:
        if not machine:
            part.prerequisite = f"the probe failed: {outcomes[0].reason}"
        elif only and part.name not in only:
            part.prerequisite = "not selected (--only)"
        outcomes.append(runner.run(part))
        print(f"[gpu_check] {part.name}: {outcomes[-1].status} {outcomes[-1].reason}"[:160], file=sys.stderr,
              flush=True)
    targets = gpu_targets([p.results for p in parts if p.results])
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "skipped")}
    gpu = no_gpu_reason(machine) if machine else "the probe failed"
    summary = f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped" + (
        f"; {gpu}" if gpu else "")
    report = {
        "started": started,
        "seconds": round(time.monotonic() - t0, 1),
        "budget_s": budget_s,
        "machine": machine,
        "parts": [asdict(o) for o in outcomes],
        "targets": targets,
        "target_verdicts": {label: _verdict(targets, label) for label in GPU_TARGET_LABELS},
        "summary": summary,
        "ok": counts["failed"] == 0,
    }
    _write(out / "gpu_check.json", json.dumps(report, indent=1))
    _write(out / "gpu_check.txt", render_text(report) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json/.txt, logs and results")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help=f"seconds for all parts (default {BUDGET_S:.0f})")
    parser.add_argument("--only", nargs="+", metavar="PART", help="run only these parts (the probe always runs)")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)  # the probe part itself
    args = parser.parse_args(argv)
    if args.probe:
        args.out.mkdir(parents=True, exist_ok=True)
        _write(args.out / "probe.json", json.dumps(probe(), indent=1))
        return 0
    report = run_check(args.out, budget_s=args.budget, only=args.only)
    print(render_text(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
