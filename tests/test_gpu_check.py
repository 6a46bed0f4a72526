"""The GPU check's logic, on the CPU: planning from a probe, running parts with limits, targets, the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks import gpu_check
from benchmarks.gpu_check import Part, Runner, gpu_targets, no_gpu_reason, plan, render_text, run_check

NO_GPU = {
    "cupy": {"usable": False, "reason": "cupy does not import: ModuleNotFoundError"},
    "torch": {"usable": False, "reason": "torch 2.13.0+cpu is a CPU-only build"},
    "nvidia_smi": {"error": "nvidia-smi did not run"},
    "imports": {"ffnn": "", "pytest": "", "threadpoolctl": ""},
    "versions": {"numpy": "2.0"},
}


def _machine(cupy: bool, torch: bool, **imports: str) -> dict:
    machine = json.loads(json.dumps(NO_GPU))
    machine["cupy"] = {"usable": cupy, "reason": "" if cupy else "cupy: no device"}
    machine["torch"] = {"usable": torch, "reason": "" if torch else "torch: CPU-only"}
    machine["imports"].update(imports)
    return machine


def _python(code: str) -> list[str]:
    return ["{python}", "-c", code]


def test_no_gpu_skips_every_part_with_the_reason(tmp_path: Path) -> None:
    parts = plan(NO_GPU, tmp_path)
    assert {p.name for p in parts} == {"parity-float32", "parity-float64", "bench-m1024", "bench-large",
                                       "pytest-parity-gpu", "pytest-gpu"}
    for part in parts:
        assert part.prerequisite is not None and part.prerequisite.startswith("no GPU")
        assert "CPU-only build" in part.prerequisite and "cupy does not import" in part.prerequisite
    assert no_gpu_reason(_machine(cupy=True, torch=False)) == ""


@pytest.mark.parametrize(("cupy", "torch", "backends"), [
    (True, True, "numpy,cupy,torch:cuda:0"),
    (True, False, "numpy,cupy"),
    (False, True, "numpy,torch:cuda:0"),
])
def test_parity_compares_the_usable_gpu_libraries(tmp_path: Path, cupy: bool, torch: bool, backends: str) -> None:
    parts = {p.name: p for p in plan(_machine(cupy, torch), tmp_path)}
    for dtype in ("float32", "float64"):
        argv = parts[f"parity-{dtype}"].argv
        assert argv[argv.index("--backends") + 1] == backends
        assert argv[argv.index("--dtype") + 1] == dtype
        assert parts[f"parity-{dtype}"].prerequisite is None
    assert parts["bench-large"].results == str(tmp_path / "bench-large.json")
    assert "--gpu-only" in parts["bench-large"].argv and "large" in parts["bench-large"].argv


def test_missing_libraries_and_tests_are_named(tmp_path: Path) -> None:
    machine = _machine(True, True, ffnn="ffnn does not import: No module named 'array_api_compat'",
                       pytest="pytest does not import: ModuleNotFoundError")
    parts = {p.name: p for p in plan(machine, tmp_path, tests=tmp_path / "no-tests")}
    assert "array_api_compat" in parts["parity-float32"].prerequisite
    assert "array_api_compat" in parts["bench-m1024"].prerequisite
    assert "pytest does not import" in parts["pytest-gpu"].prerequisite
    machine["imports"]["pytest"] = ""
    parts = {p.name: p for p in plan(machine, tmp_path, tests=tmp_path / "no-tests")}
    assert "not found" in parts["pytest-gpu"].prerequisite


def test_runner_records_ok_failed_and_skipped(tmp_path: Path) -> None:
    runner = Runner(tmp_path, budget_s=120)
    ok = runner.run(Part("hello", _python("print('hello from the part')"), 60, "prints"))
    assert ok.status == "ok" and ok.returncode == 0 and "hello from the part" in ok.tail
    assert Path(ok.log).read_text().strip() == "hello from the part"
    bad = runner.run(Part("bad", _python("import sys; print('last words'); sys.exit(3)"), 60, "fails"))
    assert bad.status == "failed" and bad.returncode == 3 and "exit status 3" in bad.reason
    assert "last words" in bad.reason
    skipped = runner.run(Part("skip", _python("raise SystemExit(9)"), 60, "never runs", prerequisite="no GPU"))
    assert skipped.status == "skipped" and skipped.reason == "no GPU" and skipped.log is None
    tolerant = runner.run(Part("one", _python("raise SystemExit(1)"), 60, "1 is fine here", ok_codes=(0, 1)))
    assert tolerant.status == "ok"


def test_runner_kills_a_part_past_its_limit_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-finished"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(6)\nopen({str(marker)!r}, 'w').close()\n")
    parent = tmp_path / "parent.py"
    parent.write_text(f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, {str(child)!r}])\n"
                      "time.sleep(60)\n")
    start = time.monotonic()
    outcome = Runner(tmp_path, budget_s=120).run(Part("hang", ["{python}", str(parent)], 5, "sleeps"))
    assert time.monotonic() - start < 30
    assert outcome.status == "failed" and "timed out after 5 s" in outcome.reason and outcome.returncode is None
    time.sleep(7)
    assert not marker.exists(), "the part's child process outlived the time limit"


def test_runner_respects_the_overall_budget(tmp_path: Path) -> None:
    now = [0.0]
    runner = Runner(tmp_path, budget_s=100, clock=lambda: now[0])
    now[0] = 97.0
    outcome = runner.run(Part("late", _python("print(1)"), 60, "too late"))
    assert outcome.status == "skipped" and "time budget" in outcome.reason
    now[0] = 40.0  # 60 s left: the part's own 90 s limit is cut to what is left
    assert runner.remaining() == 60.0


def _bench_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"targets": rows}))
    return path


def test_gpu_targets_collect_and_judge(tmp_path: Path) -> None:
    vs_torch, matmul = gpu_check.GPU_TARGET_LABELS
    a = _bench_json(tmp_path / "a.json", [
        {"target": vs_torch, "config": "mnist-1024", "comparison": ">=", "limit": 1.0, "value": 1.2, "met": True},
        {"target": vs_torch, "config": "mnist-8192", "comparison": ">=", "limit": 1.0, "value": 0.9, "met": False},
        {"target": "ffnn-numpy step / NumPy reference step", "config": "small", "value": 1.0, "met": True},
    ])
    b = _bench_json(tmp_path / "b.json", [
        {"target": matmul, "config": "large", "comparison": ">=", "limit": 0.7, "value": 0.8, "met": True},
    ])
    rows = gpu_targets([a, b, tmp_path / "missing.json"])
    assert [r["config"] for r in rows] == ["mnist-1024", "mnist-8192", "large"]
    assert gpu_check._verdict(rows, vs_torch).startswith("MISSED: mnist-1024 1.200, mnist-8192 0.900")
    assert gpu_check._verdict(rows, matmul).startswith("MET: large 0.800")
    skipped = [{"target": matmul, "config": "large", "value": None, "met": None, "skipped": "no ffnn-cupy"}]
    assert gpu_check._verdict(skipped, matmul) == "not measured (no ffnn-cupy)"


def test_check_without_a_gpu_writes_its_json_and_text(tmp_path: Path) -> None:
    """The real probe runs (in its own process); on a machine without a usable GPU every
    other part is skipped with "no GPU" and both files are still written."""
    report = run_check(tmp_path, budget_s=120)
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    text = (tmp_path / "gpu_check.txt").read_text()
    assert saved["parts"][0]["name"] == "probe" and saved["parts"][0]["status"] == "ok", saved["parts"][0]
    assert "numpy" in saved["machine"]["versions"]
    assert len(saved["parts"]) == 7
    assert "GPU targets:" in text and "probe" in text
    if no_gpu_reason(saved["machine"]):
        assert all(p["status"] == "skipped" and p["reason"].startswith("no GPU") for p in saved["parts"][1:])
        assert report["ok"] and "no GPU" in text
    assert render_text(saved) == text.rstrip("\n")


def test_a_failed_probe_skips_the_rest_with_its_reason(tmp_path: Path) -> None:
    report = run_check(tmp_path, budget_s=60, python="/bin/false")  # a Python that cannot run the probe
    assert report["parts"][0]["status"] == "failed" and not report["ok"]
    assert all(p["status"] == "skipped" and "probe failed" in p["reason"] for p in report["parts"][1:])
    assert (tmp_path / "gpu_check.txt").read_text().count("skipped") >= 6


def test_targets_of_a_gpu_only_run_without_a_gpu_say_why(tmp_path: Path) -> None:
    """What the bench parts write on a machine without a GPU: both targets 'not measured' with the reason."""
    pytest.importorskip("threadpoolctl", reason="the benchmark harness needs threadpoolctl")
    from benchmarks.run import main

    out = tmp_path / "bench-large.json"
    assert main(["--mode", "smoke", "--configs", "tiny", "--threads", "1", "--gpu-only", "--out", str(out)]) == 0
    rows = gpu_targets([out])
    if json.loads(out.read_text())["gpu"]["status"] == "ran":
        pytest.skip("this machine has a usable GPU")
    assert {r["target"] for r in rows} == set(gpu_check.GPU_TARGET_LABELS)
    for label in gpu_check.GPU_TARGET_LABELS:
        assert gpu_check._verdict(rows, label).startswith("not measured (no usable CUDA device")
