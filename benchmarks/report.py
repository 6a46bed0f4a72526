"""Targets and the Markdown summary of a results JSON (``python -m benchmarks.report FILE``)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["compiled_ratios", "evaluate_targets", "main", "summary_markdown", "write_readme"]

README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# (label, comparison, limit)
STEP_VS_REFERENCE = ("ffnn-numpy step / NumPy reference step", "<=", 1.05)
STEP_VS_REFERENCE_SMALL = ("ffnn-numpy step / NumPy reference step", "<=", 1.10)  # issue 15 §1
FIT_VS_REFERENCE = {  # issue 15 §1: a whole fit epoch per batch against the hand-written loop
    "small": ("ffnn-numpy fit per step / NumPy reference loop per step", "<=", 1.10),
    "mnist-128": ("ffnn-numpy fit per step / NumPy reference loop per step", "<=", 1.03),
}
COMPILED_VS_JIT = ("ffnn-jax compiled / hand-written jax.jit step", "<=", 1.1)  # issue 15 §2
COMPILED_VS_TORCH = ("ffnn-jax compiled / PyTorch eager step", "<=", 0.6)
COMPILED_CONFIGS = ("small", "mnist-128")
STEP_VS_TORCH = ("ffnn-numpy step / PyTorch eager step", "<=", 0.9)
MATMUL_FRACTION = ("matmul limit / ffnn-numpy step (large)", ">=", 0.85)
DIGITS = ("digits epoch: ffnn / scikit-learn", "<=", 0.5)
MEMORY = ("peak memory / theoretical minimum", "<=", 1.2)
GPU_VS_TORCH = ("ffnn-cupy throughput / PyTorch eager CUDA (m >= 1024)", ">=", 1.0)
GPU_MATMUL = ("cuBLAS matmul limit / ffnn-cupy step (large)", ">=", 0.7)


def _entry(spec: tuple[str, str, float], config: str, value: float | None, skipped: str = "") -> dict[str, Any]:
    label, op, limit = spec
    met = None if value is None else (value <= limit if op == "<=" else value >= limit)
    row = {"target": label, "config": config, "comparison": op, "limit": limit, "value": value, "met": met}
    if skipped:
        row["skipped"] = skipped
    return row


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the benchmark issue, with its measured value and whether it is met."""
    rows = []
    for cfg in result.get("configs", []):
        mine = cfg["ratios"].get("ffnn-numpy", {})
        spec = STEP_VS_REFERENCE_SMALL if cfg["name"] == "small" else STEP_VS_REFERENCE
        rows.append(_entry(spec, cfg["name"], mine.get("vs_reference")))
        if cfg["name"] in FIT_VS_REFERENCE:
            fit = cfg.get("fit", {}).get("ratios", {}).get("ffnn-numpy", {})
            rows.append(_entry(FIT_VS_REFERENCE[cfg["name"]], cfg["name"], fit.get("vs_reference"),
                               "" if fit else "no fit comparison in this run"))
        if cfg["name"] in COMPILED_CONFIGS:
            rows += _compiled_rows(cfg)
        rows.append(_entry(STEP_VS_TORCH, cfg["name"], mine.get("vs_torch_eager")))
        if cfg["name"] == "large":
            rows.append(_entry(MATMUL_FRACTION, cfg["name"], mine.get("matmul_fraction")))
    if "digits" in result:
        rows.append(_entry(DIGITS, "digits", result["digits"]["ratio_ffnn_vs_sklearn"]))
    for mem in result.get("memory", []):
        rows.append(_entry(MEMORY, mem["config"], mem["ffnn-numpy"]["ratio"]))
    gpu = result.get("gpu", {})
    if gpu.get("status") != "ran":
        reason = "no usable CUDA device (see gpu.reasons)"
        rows.append(_entry(GPU_VS_TORCH, "all", None, skipped=reason))
        rows.append(_entry(GPU_MATMUL, "large", None, skipped=reason))
        return rows
    gpu_rows = []
    for cfg in gpu["configs"]:
        med = {k: v["median_s"] for k, v in cfg["results"].items()}
        if cfg["batch"] >= 1024 and "ffnn-cupy" in med and "torch-eager-cuda" in med:
            gpu_rows.append(_entry(GPU_VS_TORCH, cfg["name"], med["torch-eager-cuda"] / med["ffnn-cupy"]))
        if cfg["name"].startswith("large") and "ffnn-cupy" in cfg["ratios"]:
            gpu_rows.append(_entry(GPU_MATMUL, cfg["name"], cfg["ratios"]["ffnn-cupy"].get("matmul_fraction")))
    failed = "; ".join(f"{f['name']}: {f['error']}" for f in gpu.get("failed", []))
    for spec, config in ((GPU_VS_TORCH, "all"), (GPU_MATMUL, "large")):
        if not any(row["target"] == spec[0] for row in gpu_rows):
            why = "needs ffnn-cupy and " + ("torch-eager-cuda at m >= 1024" if spec is GPU_VS_TORCH else
                                            "the cuBLAS limit on a large config")
            gpu_rows.append(_entry(spec, config, None, skipped=f"not measured ({why}){'; failed: ' + failed if failed else ''}"))
    return rows + gpu_rows


def compiled_ratios(cfg: dict[str, Any]) -> tuple[dict[str, float], str, str]:
    """(ratios, basis, reason) of ffnn-jax compiled in one config: its compiled step when ffnn
    offers ``compile_step``, else its ``fit(compile=True)`` per step; reason is why neither ran."""
    if "ffnn-jax-compiled" in cfg["ratios"]:
        return cfg["ratios"]["ffnn-jax-compiled"], "step", ""
    fit = cfg.get("fit", {}).get("ratios", {})
    if "ffnn-jax-compiled" in fit:
        return fit["ffnn-jax-compiled"], "fit per step", ""
    skipped = cfg.get("skipped", {})
    return {}, "", skipped.get("ffnn-jax-compiled") or skipped.get("fit:ffnn-jax-compiled") or "not measured"


def _compiled_rows(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    ratios, basis, reason = compiled_ratios(cfg)
    rows = []
    for spec, key in ((COMPILED_VS_JIT, "vs_jax_jit"), (COMPILED_VS_TORCH, "vs_torch_eager")):
        value = ratios.get(key)
        row = _entry(spec, cfg["name"], value, "" if value is not None else reason or f"no {key} in this run")
        if basis:
            row["basis"] = basis
        if spec is COMPILED_VS_TORCH:
            row.update(_xla_products(cfg))
        rows.append(row)
    return rows


def _xla_products(cfg: dict[str, Any]) -> dict[str, float]:
    """``{"xla_products": t(XLA's products of one step alone) / t(PyTorch eager step)}``:
    what XLA's CPU matrix products of a step take, in units of the whole PyTorch eager
    step this target compares with (about what a compiled jax step can reach here; not a
    strict bound, see :class:`~benchmarks.jax_reference.JaxMatmulStep`), or {} when
    either was not measured."""
    results = cfg.get("results", {})
    if "matmul-jax-float32" not in results or "torch-eager" not in results:
        return {}
    return {"xla_products": results["matmul-jax-float32"]["median_s"] / results["torch-eager"]["median_s"]}


def _load_note(machine: dict[str, Any]) -> str:
    loads = [machine.get(k) for k in ("load_average_at_start", "load_average_at_end")]
    if not all(loads):
        return ""
    return f" Load average (1 min) {loads[0][0]:.2f} at the start, {loads[1][0]:.2f} at the end."


def _ms(stats: dict[str, Any] | None) -> str:
    return "—" if stats is None else f"{stats['median_s'] * 1e3:.3g}"


def _x(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _step_table(configs: list[dict[str, Any]], columns: list[tuple[str, str]], subject: str, *,
                matmul: str) -> list[str]:
    head = ["config", "m"] + [label for _, label in columns] + [
        f"{subject} / reference", f"{subject} / inlined", f"{subject} / torch eager", "matmul share",
        f"{subject} GFLOP/s", "matmul GFLOP/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cfg in configs:
        res, mine = cfg["results"], cfg["ratios"].get(subject, {})
        cells = [f"{cfg['name']} {'-'.join(map(str, cfg['sizes']))}", str(cfg["batch"])]
        cells += [_ms(res.get(key)) for key, _ in columns]
        cells += [_x(mine.get("vs_reference")), _x(mine.get("vs_inlined")), _x(mine.get("vs_torch_eager")),
                  _x(mine.get("matmul_fraction")),
                  _x(res.get(subject, {}).get("gflops"), 1), _x(res.get(matmul, {}).get("gflops"), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _fit_table(configs: list[dict[str, Any]]) -> list[str]:
    fitted = [cfg for cfg in configs if "fit" in cfg]
    if not fitted:
        return []
    f = fitted[0]["fit"]
    lines = ["", (f"Whole epochs (`Network.fit`, shuffled, {f['batches_per_epoch']} batches per epoch, "
                  f"{f['epochs_per_call']} epochs per call), ms per batch, against the hand-written loops "
                  "(same permutations, gather, step, per-epoch cost sum):"), "",
             ("| config | m | ffnn fit (numpy) | NumPy reference loop | jax.jit loop | ffnn-jax compiled fit "
              "| ffnn-torch compiled fit | ffnn fit / reference loop |"), "|---|---|---|---|---|---|---|---|"]
    for cfg in fitted:
        res = cfg["results"]
        mine = cfg["fit"]["ratios"].get("ffnn-numpy", {})
        cells = [cfg["name"], str(cfg["batch"])] + [_ms(res.get(k)) for k in (
            "fit:ffnn-numpy", "fit:reference-numpy", "fit:jax-jit", "fit:ffnn-jax-compiled",
            "fit:ffnn-torch-compiled")] + [_x(mine.get("vs_reference"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _compiled_table(configs: list[dict[str, Any]]) -> list[str]:
    rows = [cfg for cfg in configs if "jax-jit" in cfg["results"] or "ffnn-jax" in cfg["results"]]
    if not rows:
        return []
    lines = ["", "Compiled steps, ms per step (jax.jit = the hand-written step compiled whole):", "",
             ("| config | m | ffnn-jax (eager) | ffnn-jax compiled | jax.jit step | PyTorch eager "
              "| ffnn-jax compiled / jax.jit | ffnn-jax compiled / torch eager |"), "|---|---|---|---|---|---|---|---|"]
    for cfg in rows:
        res = cfg["results"]
        ratios, basis, reason = compiled_ratios(cfg)
        compiled = res.get("ffnn-jax-compiled") or res.get("fit:ffnn-jax-compiled")
        cells = [cfg["name"], str(cfg["batch"]), _ms(res.get("ffnn-jax")),
                 _ms(compiled) + (f" ({basis})" if basis and basis != "step" else "") if compiled else reason,
                 _ms(res.get("jax-jit")), _ms(res.get("torch-eager")),
                 _x(ratios.get("vs_jax_jit")), _x(ratios.get("vs_torch_eager"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary_markdown(result: dict[str, Any], *, source: str = "") -> str:
    """Tables of step times (ms, medians), ratios, memory, digits, GPU and the targets."""
    machine = result["machine"]
    lines = [
        f"Measured {machine['date']} on {machine['cpu']} ({machine['cpu_count']} CPUs, {machine['threads']} threads"
        f" for BLAS and torch), mode `{result['mode']['name']}`, float32, plain SGD lr={result['learning_rate']}"
        + (f"; source `results/{source}`" if source else "") + "."
        + _load_note(machine),
        "",
        (
            "Step times in ms (median of interleaved repetitions; scikit-learn = epoch time / batches);"
            " ratios are time over time, so < 1 means ffnn is faster; matmul share = time of the"
            " step's matrix products alone / ffnn step time."
        ),
        "",
    ]
    cpu_columns = [("ffnn-numpy", "ffnn numpy"), ("ffnn-torch", "ffnn torch-cpu"), ("ffnn-jax", "ffnn jax"),
                   ("ffnn-array_api_strict", "ffnn array-api-strict"), ("inlined-numpy", "ffnn inlined"),
                   ("reference-numpy", "NumPy reference"),
                   ("torch-eager", "PyTorch eager"), ("sklearn-mlp", "sklearn MLP"),
                   ("matmul-numpy-float32", "matmul f32 (numpy)"), ("matmul-torch-float32", "matmul f32 (torch)"),
                   ("matmul-numpy-float64", "matmul f64 (numpy)")]
    present = {k for cfg in result["configs"] for k in cfg["results"]}
    lines += _step_table(result["configs"], [c for c in cpu_columns if c[0] in present], "ffnn-numpy",
                         matmul="matmul-numpy-float32")
    lines += _fit_table(result["configs"])
    lines += _compiled_table(result["configs"])
    if "digits" in result:
        d = result["digits"]
        r = d["results_per_epoch"]
        digits = (
            f"Digits (1797 × 64, {'-'.join(map(str, d['sizes']))}, batch {d['batch']}): epoch "
            f"{_ms(r['ffnn-numpy'])} ms (ffnn, {d['ffnn_api']}) vs {_ms(r['sklearn-mlp'])} ms "
            f"(scikit-learn, {d['sklearn_dtype']}): ratio {_x(d['ratio_ffnn_vs_sklearn'])}."
        )
        lines += ["", digits]
    if result.get("memory"):
        head = "| config | theoretical min (MB) | ffnn peak (MB) | ffnn / min | reference peak (MB) | reference / min |"
        lines += ["", head, "|---|---|---|---|---|---|"]
        for mem in result["memory"]:
            total = mem["theoretical_bytes"]["total"]
            f, ref = mem["ffnn-numpy"], mem["reference-numpy"]
            lines.append(f"| {mem['config']} | {total / 1e6:.2f} | {f['peak_bytes'] / 1e6:.2f} | {f['ratio']:.2f} | "
                         f"{ref['peak_bytes'] / 1e6:.2f} | {ref['ratio']:.2f} |")
    gpu = result.get("gpu", {})
    lines.append("")
    if gpu.get("status") == "ran":
        lines.append(f"GPU: {gpu['device']}")
        lines.append("")
        gpu_columns = [("ffnn-cupy", "ffnn cupy"), ("ffnn-torch-cuda", "ffnn torch-cuda"),
                       ("reference-cupy", "CuPy reference"), ("torch-eager-cuda", "PyTorch eager CUDA"),
                       ("matmul-cupy-float32", "cuBLAS (cupy)"), ("matmul-torch-cuda-float32", "cuBLAS (torch)")]
        present = {k for cfg in gpu["configs"] for k in cfg["results"]}
        lines += _step_table(gpu["configs"], [c for c in gpu_columns if c[0] in present], "ffnn-cupy",
                             matmul="matmul-cupy-float32")
    else:
        reasons = "; ".join(f"{k}: {v}" for k, v in gpu.get("reasons", {}).items() if v)
        lines.append(f"GPU: skipped ({reasons}).")
    lines += ["", "| target | config | measured | limit | met |", "|---|---|---|---|---|"]
    for row in result.get("targets", []):
        met = {True: "yes", False: "**no**", None: "skipped"}[row["met"]]
        value = row.get("skipped", "") if row["value"] is None else _x(row["value"], 3)
        if "xla_products" in row:
            value += f" (XLA's products alone: {row['xla_products']:.3f})"
        lines.append(f"| {row['target']} | {row['config']} | {value} | {row['comparison']} {row['limit']} | {met} |")
    return "\n".join(lines)


def write_readme(result: dict[str, Any], *, source: str = "", readme: Path = README) -> None:
    """Replace the text between the results markers of the README (atomic write)."""
    text = readme.read_text()
    if START not in text or END not in text:
        msg = f"{readme} has no {START} ... {END} block to fill"
        raise ValueError(msg)
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    new = f"{head}{START}\n{summary_markdown(result, source=source)}\n{END}{tail}"
    fd, tmp = tempfile.mkstemp(dir=readme.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(new)
        os.chmod(tmp, readme.stat().st_mode & 0o777)
        os.replace(tmp, readme)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("results", type=Path, help="a JSON file written by benchmarks.run")
    parser.add_argument("--readme", action="store_true", help="also rewrite the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    result = json.loads(args.results.read_text())
    print(summary_markdown(result, source=args.results.name))
    if args.readme:
        write_readme(result, source=args.results.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
