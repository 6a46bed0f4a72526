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
    expected = {"ffnn-numpy", "inlined-numpy", "reference-numpy", "torch-eager", "sklearn-mlp", "matmul-numpy-float32"}
    assert expected <= set(cfg["results"])
    for stats in cfg["results"].values():
        assert stats["reps"] == MODES["smoke"].reps
        assert 0 < stats["min_s"] <= stats["median_s"] < 10
    assert {"vs_reference", "vs_inlined", "vs_torch_eager", "matmul_fraction"} <= set(cfg["ratios"]["ffnn-numpy"])
    assert cfg["first_step_cost"]["inlined-numpy"] == cfg["first_step_cost"]["ffnn-numpy"]  # the same bits
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


# ---------------------------------------------------------------- whole epochs and compiled steps
def _fit_pair(dtype: str, m: int, seed: int = 4):
    from benchmarks.fit_loop import FfnnFit, ReferenceFitLoop, one_hot_rows

    X, labels = make_batch(TINY_CONFIG, m=m, dtype=dtype, seed=seed)
    weights = build_network(TINY_CONFIG, dtype=dtype, seed=6).get_weights()
    fit = FfnnFit(TINY_CONFIG, weights, X, labels, lr=0.1, dtype=dtype, seed=6)
    loop = ReferenceFitLoop(_reference_params(weights), X, one_hot_rows(labels, 3, dtype), batch=TINY_CONFIG.batch,
                            lr=0.1, seed=6)
    return fit, loop, weights


@pytest.mark.parametrize("m", [4 * TINY_CONFIG.batch, 3 * TINY_CONFIG.batch + 5])
def test_reference_loop_trains_like_fit(m: int) -> None:
    """Same permutations, batches (the last one smaller too), steps and epoch cost as Network.fit."""
    fit, loop, weights = _fit_pair("float64", m)
    assert fit.units == loop.units == -(-m // TINY_CONFIG.batch)
    for _ in range(2):  # the second call draws the next epoch's permutation in both
        history = fit.run()
        assert_allclose(loop.run(), history.as_dict()["train_cost"][-1], "float64")
    after = fit.net.get_weights()
    assert max(float(np.abs(a - w).max()) for a, w in zip(after, weights)) > 1e-3
    for got, (W, b) in zip(zip(after[::2], after[1::2]), loop.params):
        assert_allclose(got[0], W, "float64")
        assert_allclose(got[1], b, "float64")


def test_reference_loop_draws_a_new_permutation_each_epoch() -> None:
    loop = _fit_pair("float64", 4 * TINY_CONFIG.batch)[1]
    first = loop.run()
    fresh = _fit_pair("float64", 4 * TINY_CONFIG.batch)[1]
    fresh.epoch_index = 1  # the second epoch's order from the start: a different trajectory
    assert abs(fresh.run() - first) > 1e-9


def test_jax_jit_step_and_loop_equal_the_numpy_reference() -> None:
    pytest.importorskip("jax", reason="the jax.jit reference needs jax")
    from benchmarks.fit_loop import ReferenceFitLoop, one_hot_rows
    from benchmarks.jax_reference import JaxJitFitLoop, JaxJitStep

    X, labels = make_batch(TINY_CONFIG, m=4 * TINY_CONFIG.batch)
    Y = one_hot_rows(labels, 3, "float32")
    weights = build_network(TINY_CONFIG, seed=7).get_weights()
    step, params = JaxJitStep(weights, X, Y, lr=0.1), _reference_params(weights)
    for _ in range(3):
        assert_allclose(np.asarray(step.step()), reference_step(params, X.T, Y.T, lr=0.1), "float32")
    jit = JaxJitFitLoop(weights, X, Y, batch=TINY_CONFIG.batch, lr=0.1, seed=2, epochs_per_call=2)
    loop = ReferenceFitLoop(_reference_params(weights), X, Y, batch=TINY_CONFIG.batch, lr=0.1, seed=2,
                            epochs_per_call=2)
    assert jit.units == loop.units == 8
    assert_allclose(jit.run(), loop.run(), "float32")
    for (W, b), (rW, rb) in zip(jit.params, loop.params):
        assert_allclose(np.asarray(W), rW, "float32")
        assert_allclose(np.asarray(b), rb, "float32")
    with pytest.raises(ValueError, match="whole batches"):
        JaxJitFitLoop(weights, X[:-1], Y[:-1], batch=TINY_CONFIG.batch, lr=0.1)


def test_jax_matmul_step_computes_every_product_of_the_step_in_its_layout() -> None:
    jnp = pytest.importorskip("jax.numpy", reason="the XLA matmul limit needs jax")
    from benchmarks.jax_reference import JaxMatmulStep

    config = Config("c", (7, 5, 4, 3), 11, "test")
    products = JaxMatmulStep(config)
    products.run()
    products.synchronize()
    shapes = config.matmul_shapes()
    assert len(products.out) == len(products.operands) == len(shapes)
    for out, (a, b), (_, M, K, N, ta, tb) in zip(products.out, products.operands, shapes):
        assert out.shape == (M, N) and a.shape == ((K, M) if ta else (M, K)) and b.shape == ((N, K) if tb else (K, N))
        expected = (np.asarray(a).T if ta else np.asarray(a)) @ (np.asarray(b).T if tb else np.asarray(b))
        assert_allclose(np.asarray(out), expected, "float32")
    assert isinstance(products.out[0], type(jnp.zeros(1)))


def test_compile_support_detects_either_public_option() -> None:
    from types import SimpleNamespace

    from benchmarks.fit_loop import NO_COMPILE, compile_support

    class Plain:
        def fit(self, X, y, *, epochs=1): ...

    class WithOption:
        def fit(self, X, y, *, epochs=1, compile=False): ...

    bare, with_step = SimpleNamespace(), SimpleNamespace(compile_step=lambda net, opt: None)
    assert compile_support(Plain, bare) == ((), NO_COMPILE)
    assert compile_support(WithOption, bare) == (("fit",), "")
    assert compile_support(Plain, with_step) == (("compile_step",), "")
    assert compile_support(WithOption, with_step) == (("compile_step", "fit"), "")  # both measured
    assert compile_support() == (("compile_step", "fit"), "")  # today's ffnn offers both


def test_smoke_run_has_the_fit_comparison_and_skips_absent_compiled_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_the_competitors()
    from benchmarks import run
    from benchmarks.fit_loop import NO_COMPILE

    monkeypatch.setattr(run, "compile_support", lambda: ((), NO_COMPILE))
    result = run_benchmarks(mode=MODES["smoke"], configs=[TINY_CONFIG], gpu_configs=[], threads=1,
                            digits=False, memory=False, gpu=False)
    (cfg,) = result["configs"]
    assert {"fit:ffnn-numpy", "fit:reference-numpy"} <= set(cfg["results"])
    assert cfg["results"]["fit:ffnn-numpy"]["steps_per_call"] == MODES["smoke"].fit_batches
    assert cfg["fit"]["ratios"]["ffnn-numpy"]["vs_reference"] > 0
    for name in ("ffnn-jax-compiled", "ffnn-torch-compiled", "fit:ffnn-jax-compiled", "fit:ffnn-torch-compiled"):
        assert cfg["skipped"][name] == NO_COMPILE
        assert name not in cfg["results"]


def _compiled_mode():
    import dataclasses

    return dataclasses.replace(MODES["smoke"], references=("jax-jit",), backends=("numpy", "jax"))


def test_compiled_step_slots_light_up_when_ffnn_offers_compile_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``ffnn.training.compile_step`` (the eager step) is measured in the slots,
    compared with the jax.jit step, and the §2 targets get values."""
    _needs_the_competitors()
    pytest.importorskip("jax", reason="the compiled-step comparison needs jax")
    from benchmarks import run
    from ffnn import training

    calls = []

    def compile_step(net, optimizer):
        calls.append(net.backend.name)
        return lambda X_cols, Y_cols: training.train_step(net, optimizer, X_cols, Y_cols)

    monkeypatch.setattr(training, "compile_step", compile_step, raising=False)
    monkeypatch.setattr(run, "compile_support", lambda: (("compile_step",), ""))
    small_named = Config("small", TINY_CONFIG.sizes, TINY_CONFIG.batch, "test")  # the targets look at 'small'
    result = run_benchmarks(mode=_compiled_mode(), configs=[small_named], gpu_configs=[], threads=1,
                            digits=False, memory=False, gpu=False)
    (cfg,) = result["configs"]
    assert set(calls) == {"jax", "torch"}
    assert cfg["costs_agree"], cfg["first_step_cost"]
    assert {"ffnn-jax-compiled", "ffnn-torch-compiled", "jax-jit", "ffnn-jax"} <= set(cfg["results"])
    assert cfg["ratios"]["ffnn-jax-compiled"]["vs_jax_jit"] > 0
    rows = {row["target"]: row for row in result["targets"] if row["config"] == "small"}
    compiled = rows["ffnn-jax compiled / hand-written jax.jit step"]
    assert compiled["value"] == cfg["ratios"]["ffnn-jax-compiled"]["vs_jax_jit"] and compiled["basis"] == "step"
    vs_torch = rows["ffnn-jax compiled / PyTorch eager step"]
    assert vs_torch["value"] > 0
    med = {k: v["median_s"] for k, v in cfg["results"].items()}
    assert vs_torch["xla_products"] == med["matmul-jax-float32"] / med["torch-eager"]
    summary = summary_markdown(result)
    assert "ffnn-jax compiled" in summary and f"(XLA's products alone: {vs_torch['xla_products']:.3f})" in summary


def test_compiled_fit_slots_light_up_when_fit_takes_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_the_competitors()
    pytest.importorskip("jax", reason="the compiled-step comparison needs jax")
    from benchmarks import run
    from ffnn import Network

    original, seen = Network.fit, []

    def fit(self, X, y, *, compile=False, **options):
        seen.append(compile)
        return original(self, X, y, **options)

    monkeypatch.setattr(Network, "fit", fit)
    monkeypatch.setattr(run, "compile_support", lambda: (("fit",), ""))
    small_named = Config("small", TINY_CONFIG.sizes, TINY_CONFIG.batch, "test")
    result = run_benchmarks(mode=_compiled_mode(), configs=[small_named], gpu_configs=[], threads=1,
                            digits=False, memory=False, gpu=False)
    (cfg,) = result["configs"]
    assert True in seen and False in seen
    assert {"fit:ffnn-jax-compiled", "fit:ffnn-torch-compiled", "fit:jax-jit"} <= set(cfg["results"])
    assert cfg["fit"]["ratios"]["ffnn-jax-compiled"]["vs_jax_jit"] > 0
    rows = {row["target"]: row for row in result["targets"] if row["config"] == "small"}
    assert rows["ffnn-jax compiled / hand-written jax.jit step"]["basis"] == "fit per step"
    assert rows["ffnn-numpy fit per step / NumPy reference loop per step"]["limit"] == 1.10


def test_targets_of_issue_15_without_compiled_steps() -> None:
    from benchmarks.report import evaluate_targets

    def cfg(name, step, fit):
        return {"name": name, "ratios": {"ffnn-numpy": {"vs_reference": step, "vs_torch_eager": 0.5}},
                "skipped": {"ffnn-jax-compiled": "ffnn has no compiled step yet"},
                **({"fit": {"ratios": {"ffnn-numpy": {"vs_reference": fit}}}} if fit else {})}

    rows = evaluate_targets({"configs": [cfg("small", 1.08, 1.2), cfg("mnist-128", 1.04, 1.02),
                                         cfg("mnist-1024", 1.04, None)]})
    got = {(r["target"], r["config"]): r for r in rows}
    step, fit = "ffnn-numpy step / NumPy reference step", "ffnn-numpy fit per step / NumPy reference loop per step"
    assert got[(step, "small")]["limit"] == 1.10 and got[(step, "small")]["met"] is True
    assert got[(step, "mnist-128")]["limit"] == 1.05
    assert got[(fit, "small")]["met"] is False and got[(fit, "mnist-128")]["met"] is True
    assert got[(fit, "mnist-128")]["limit"] == 1.03 and (fit, "mnist-1024") not in got
    compiled = got[("ffnn-jax compiled / hand-written jax.jit step", "small")]
    assert compiled["value"] is None and compiled["skipped"] == "ffnn has no compiled step yet"


def test_gpu_only_runs_no_cpu_section(tmp_path: Path) -> None:
    _needs_the_competitors()
    out = tmp_path / "g.json"
    assert main(["--mode", "smoke", "--configs", "tiny", "--threads", "1", "--gpu-only", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["configs"] == [] and "digits" not in saved and "memory" not in saved
    assert saved["gpu"]["status"] in {"ran", "skipped"}
    with pytest.raises(SystemExit, match="nothing to measure"):
        main(["--mode", "smoke", "--configs", "tiny", "--gpu-only", "--no-gpu"])


def test_one_thread_runs_limit_the_jax_cpu_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import env

    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env._limit_xla(2)
    assert env.xla_threads().startswith("all cores")
    env._limit_xla(1)
    env._limit_xla(1)  # once only
    assert env.os.environ["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {env.XLA_ONE_THREAD}"
    assert env.xla_threads().startswith("1 ")


def test_instruction_counts_parse_callgrind_and_refuse_what_they_cannot_count(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import instructions

    assert instructions._collected("==1== Events    : Ir\n==1== Collected : 123456\n") == 123456
    with pytest.raises(RuntimeError, match="no 'Collected' line"):
        instructions._collected("valgrind: command not found")
    with pytest.raises(ValueError, match="unknown config 'huge'; known: tiny"):
        instructions._config("huge")
    with pytest.raises(ValueError, match="unknown subject 'autograd'"):
        instructions.step_function("autograd", TINY_CONFIG)
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main(["--configs", "tiny"]) == 2
    assert "valgrind is not on the PATH" in capsys.readouterr().err


def test_instruction_count_subjects_take_the_same_steps() -> None:
    """The counted functions train the same network the same way: after the same number
    of calls, ffnn's weights equal the hand-written step's, and the inlined step's bits."""
    from benchmarks import instructions

    runs = {subject: instructions.step_function(subject, TINY_CONFIG) for subject in instructions.SUBJECTS}
    for run, _ in runs.values():
        for _ in range(3):
            run()
    expected = runs["reference"][1]()
    for subject in ("train_step", "make_step", "inlined"):
        got = runs[subject][1]()
        assert len(got) == len(expected) == 6
        for a, b in zip(got, expected):
            assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # the inlined step is ffnn's step, operation for operation: the same bits
    assert all(a.tobytes() == b.tobytes() for a, b in zip(runs["inlined"][1](), runs["make_step"][1]()))
    start = build_network(TINY_CONFIG).get_weights()
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(expected, start)) > 1e-4  # they did train
    assert instructions.main(["--child", "reference", "tiny", "2"]) == 0


def test_instruction_count_fit_subjects_train_the_same_epochs() -> None:
    """``fit`` and the hand-written loop, counted per step of a fit call: after one call
    each, the same weights (the same shuffled batches of the same data), and the count's
    divisor is the call's steps."""
    from benchmarks import instructions
    from benchmarks.run import FIT_BATCHES, FIT_EPOCHS_PER_CALL

    assert instructions.steps_per_run("fit") == FIT_BATCHES * FIT_EPOCHS_PER_CALL
    assert instructions.steps_per_run("make_step") == 1
    runs = {subject: instructions.step_function(subject, TINY_CONFIG) for subject in instructions.FIT_SUBJECTS}
    start = [np.array(w) for w in runs["fit"][1]()]
    for run, _ in runs.values():
        run()
    got, expected = runs["fit"][1](), runs["reference_fit"][1]()
    assert len(got) == len(expected) == 6
    for a, b in zip(got, expected):
        assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(got, start)) > 1e-4  # they did train
