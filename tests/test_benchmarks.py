"""The benchmark harness: its NumPy reference is ffnn's step, and its machinery runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.configs import TINY_CONFIG, Config
from benchmarks.memory import theoretical_minimum
from benchmarks.reference import reference_loss_and_gradients, reference_step
from benchmarks.report import summary_markdown, write_readme
from benchmarks.run import MODES, main, run_benchmarks
from benchmarks.subject import FfnnStep, build_network, make_batch
from tests.helpers import assert_allclose


def _needs_the_competitors() -> None:
    """The harness always runs PyTorch eager and scikit-learn (threadpoolctl comes with it)."""
    for name in ("torch", "sklearn", "threadpoolctl"):
        pytest.importorskip(name, reason=f"the benchmark harness needs {name}: pip install 'ffnn[test]'")


def _reference_params(weights: list[np.ndarray]) -> list[list[np.ndarray]]:
    return [[weights[i].copy(), weights[i + 1].copy()] for i in range(0, len(weights), 2)]


def _one_hot_columns(labels: np.ndarray, n: int, dtype: str) -> np.ndarray:
    return np.eye(n, dtype=dtype)[labels].T


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reference_gradients_equal_ffnn(dtype: str) -> None:
    net = build_network(TINY_CONFIG, dtype=dtype, seed=3)
    X, labels = make_batch(TINY_CONFIG, dtype=dtype)
    cost, grads = net.loss_and_gradients(X, labels)
    ref_cost, ref_grads = reference_loss_and_gradients(
        _reference_params(net.get_weights()), X.T, _one_hot_columns(labels, TINY_CONFIG.sizes[-1], dtype)
    )
    assert_allclose(np.asarray(cost), ref_cost, dtype)
    assert len(grads) == len(ref_grads) == len(TINY_CONFIG.layer_shapes)
    for (dW, db), (rdW, rdb) in zip(grads, ref_grads):
        assert_allclose(dW, rdW, dtype)
        assert_allclose(db, rdb, dtype)


def test_reference_step_equals_ffnn_train_step() -> None:
    X, labels = make_batch(TINY_CONFIG, dtype="float64")
    weights = build_network(TINY_CONFIG, dtype="float64", seed=5).get_weights()
    subject = FfnnStep(TINY_CONFIG, weights, X, labels, lr=0.1, dtype="float64")
    params = _reference_params(weights)
    Y_cols = _one_hot_columns(labels, TINY_CONFIG.sizes[-1], "float64")
    for _ in range(3):
        assert_allclose(subject.step(), reference_step(params, X.T, Y_cols, lr=0.1), "float64")
    after = subject.net.get_weights()
    moved = [float(np.abs(a - w).max()) for a, w in zip(after, weights)]
    assert min(moved[::2]) > 0, "the step did not change the weights"
    for got, (W, b) in zip(zip(after[::2], after[1::2]), params):
        assert_allclose(got[0], W, "float64")
        assert_allclose(got[1], b, "float64")


def test_torch_eager_is_the_same_network() -> None:
    pytest.importorskip("torch", reason="PyTorch eager is compared only when torch is installed")
    from benchmarks.competitors import TorchEager

    X, labels = make_batch(TINY_CONFIG)
    weights = build_network(TINY_CONFIG, seed=7).get_weights()
    ref_cost = reference_step(_reference_params(weights), X.T, _one_hot_columns(labels, 3, "float32"), lr=0.01)
    eager = TorchEager(TINY_CONFIG, weights, X, labels, lr=0.01)
    assert_allclose(eager.step().numpy(), ref_cost, "float32")


def test_flop_count_and_matmul_shapes() -> None:
    config = Config("c", (7, 5, 4, 3), 11, "test")
    pairs = [(5, 7), (4, 5), (3, 4)]
    assert config.layer_shapes == pairs
    assert config.n_params == 5 * 8 + 4 * 6 + 3 * 5
    assert len(config.matmul_shapes()) == 3 * 3 - 1
    assert config.flops_per_step == 6 * 11 * sum(a * b for a, b in pairs) - 2 * 11 * 5 * 7


def test_theoretical_minimum_counts_each_part() -> None:
    parts = theoretical_minimum(TINY_CONFIG, itemsize=4)
    n_params = 5 * 7 + 4 * 6 + 3 * 5
    assert parts["parameters"] == parts["gradients"] == 4 * n_params
    assert parts["optimizer_state"] == 0
    assert parts["activations"] == 4 * 8 * (6 + 5 + 4 + 3)
    assert parts["targets"] == 4 * 8 * 3
    assert parts["total"] == 2 * 4 * n_params + 4 * 8 * 18 + 4 * 8 * 3


def test_smoke_run_end_to_end() -> None:
    _needs_the_competitors()
    result = run_benchmarks(mode=MODES["smoke"], configs=[TINY_CONFIG], gpu_configs=[], threads=1)
    (cfg,) = result["configs"]
    assert cfg["costs_agree"], cfg["first_step_cost"]
    expected = {"ffnn-numpy", "reference-numpy", "torch-eager", "sklearn-mlp", "matmul-numpy-float32"}
    assert expected <= set(cfg["results"])
    for stats in cfg["results"].values():
        assert stats["reps"] == MODES["smoke"].reps
        assert 0 < stats["min_s"] <= stats["median_s"] < 10
    assert {"vs_reference", "vs_torch_eager", "matmul_fraction"} <= set(cfg["ratios"]["ffnn-numpy"])
    assert result["digits"]["results_per_epoch"]["ffnn-numpy"]["median_s"] > 0
    (mem,) = result["memory"]
    assert mem["ffnn-numpy"]["peak_bytes"] >= mem["ffnn-numpy"]["baseline_bytes"] > 0
    if result["gpu"]["status"] == "skipped":
        assert any(result["gpu"]["reasons"].values())
    labels = {row["target"] for row in result["targets"]}
    assert len(labels) >= 5
    text = summary_markdown(result)
    assert "tiny 6-5-4-3" in text and "| target |" in text
    json.dumps(result)  # everything is JSON-ready


def test_cli_writes_json(tmp_path: Path) -> None:
    _needs_the_competitors()
    out = tmp_path / "r.json"
    args = ["--mode", "smoke", "--configs", "tiny", "--threads", "1", "--no-digits", "--no-memory", "--no-gpu"]
    assert main([*args, "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert [c["name"] for c in saved["configs"]] == ["tiny"]
    assert saved["gpu"]["status"] == "skipped"


def test_cli_mode_defaults_to_full_and_quick_selects_quick() -> None:
    from benchmarks.run import _parse

    assert _parse([]).mode == "full"
    assert _parse(["--quick"]).mode == "quick"
    assert _parse(["--mode", "smoke"]).mode == "smoke"


def test_cli_rejects_unknown_config() -> None:
    with pytest.raises(SystemExit, match="unknown config"):
        main(["--mode", "smoke", "--configs", "huge"])


def test_write_readme_replaces_only_the_results_block(tmp_path: Path) -> None:
    _needs_the_competitors()
    result = run_benchmarks(mode=MODES["smoke"], configs=[TINY_CONFIG], gpu_configs=[], threads=1,
                            digits=False, memory=False, gpu=False)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold table\n<!-- results:end -->\noutro\n")
    write_readme(result, readme=readme)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:start -->\n") and text.endswith("<!-- results:end -->\noutro\n")
    assert "old table" not in text and "tiny 6-5-4-3" in text
    bare = tmp_path / "BARE.md"
    bare.write_text("no markers\n")
    with pytest.raises(ValueError, match="no <!-- results:start -->"):
        write_readme(result, readme=bare)
    assert bare.read_text() == "no markers\n"
