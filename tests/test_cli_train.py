"""`ffnn train`: training on each backend, heads, plots, summaries and progress output."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from backends import gpu_available
from ffnn.cli import EXIT_OK, EXIT_USAGE, main
from ffnn.serialization import read_metadata
from tests.cli_helpers import OTHER_BACKENDS, PNG_SIGNATURE, TINY, assert_short_error, field, quiet_result, run, usable


def test_default_command_reaches_096_on_digits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train")
    assert code == EXIT_OK, err
    assert field(out, "data").startswith("digits:")
    assert field(out, "backend") == "numpy" and field(out, "device") == "cpu" and field(out, "dtype") == "float32"
    assert field(out, "parameters") == f"{64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10:,}"
    assert field(out, "epochs") == "30 of 30 (completed)"
    train_cost, train_accuracy = field(out, "train").split()
    test_cost, test_accuracy = field(out, "test").split()
    assert float(test_accuracy) >= 0.96
    assert float(train_accuracy) >= float(test_accuracy) - 0.02
    assert 0 < float(train_cost) < float(test_cost) < 0.5


@pytest.mark.parametrize("backend", ["numpy", *OTHER_BACKENDS])
def test_train_succeeds_on_each_backend(capsys: pytest.CaptureFixture[str], backend: str) -> None:
    usable(backend)
    code, out, err = run(capsys, "train", "--dataset", "moons", "--backend", backend, *TINY)
    assert code == EXIT_OK, err
    cost, accuracy = quiet_result(out)
    assert cost > 0 and accuracy is not None and 0 <= accuracy <= 1


def test_train_backends_agree_on_the_same_seed(capsys: pytest.CaptureFixture[str]) -> None:
    usable("torch")
    args = ["train", "--dataset", "iris", "--hidden", "5", "--epochs", "3", "--dtype", "float64", "--quiet"]
    numpy_cost, _ = quiet_result(run(capsys, *args, "--backend", "numpy")[1])
    torch_cost, _ = quiet_result(run(capsys, *args, "--backend", "torch")[1])
    assert torch_cost == pytest.approx(numpy_cost, rel=1e-5)


@pytest.mark.gpu
def test_train_on_the_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    if not gpu_available():
        pytest.skip("no usable CUDA device")
    code, out, err = run(capsys, "train", "--dataset", "moons", "--device", "gpu", "--hidden", "4", "--epochs", "1")
    assert code == EXIT_OK, err
    assert field(out, "device").startswith("cuda:")


def test_regression_table_and_target_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "train", "--dataset", "regression", "--hidden", "16", "--epochs", "15", "--learning-rate", "0.01"
    )
    assert code == EXIT_OK, err
    assert field(out, "network") == "10-16-1 relu → linear, mse"
    test_cost, r2, _, rmse = field(out, "test").split()
    # Friedman #1 has variance ≈ 24 around its mean; a fit must do far better than the mean.
    assert float(test_cost) < 8.0 and float(r2) > 0.5 and float(rmse) < 4.0


def test_early_stopping_with_and_without_validation(capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "train",
        "--dataset",
        "iris",
        "--hidden",
        "32",
        "--epochs",
        "500",
        "--learning-rate",
        "0.05",
        "--patience",
        "2",
    ]
    code, out, err = run(capsys, *base)
    assert code == EXIT_OK, err
    assert re.fullmatch(r"\d+ of 500 \(early stopping; weights of epoch \d+ kept\)", field(out, "epochs"))
    code, out, err = run(capsys, *base, "--val-size", "0", "--dtype", "float64")
    assert code == EXIT_OK, err
    assert "/ 0 validation /" in field(out, "data") and field(out, "dtype") == "float64"


def test_binary_and_bce_heads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--dataset", "breast_cancer", "--hidden", "8", "--epochs", "2")
    assert code == EXIT_OK
    assert field(out, "network") == "30-8-1 relu → sigmoid, binary_crossentropy"
    code, out, _ = run(capsys, "train", "--dataset", "iris", "--loss", "bce", "--hidden", "none", "--epochs", "2")
    assert code == EXIT_OK
    assert field(out, "network") == "4-3 sigmoid, binary_crossentropy"


def test_plot_writes_a_png_with_cost_and_accuracy_panels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image", reason="--plot needs the plot extra")
    path = tmp_path / "curves.png"
    code, out, err = run(capsys, "train", "--dataset", "moons", "--hidden", "4", "--epochs", "3", "--plot", str(path))
    assert code == EXIT_OK, err
    assert f"curves written to {path}" in out
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = image.imread(path).shape
    assert (width, height) == (1000, 400)  # two 5 x 4 inch panels at 100 dpi
    regression = tmp_path / "regression.png"
    assert main(["train", "--dataset", "regression", *TINY, "--plot", str(regression)]) == EXIT_OK
    assert image.imread(regression).shape[:2] == (400, 500)  # cost only
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_plot_without_matplotlib_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "train", *TINY, "--plot", str(tmp_path / "c.png"))
    assert code == EXIT_USAGE
    assert_short_error(err, "--plot needs matplotlib", "pip install 'ffnn[plot]'")
    assert not (tmp_path / "c.png").exists()


def test_existing_files_are_kept_unless_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"precious")
    code, _, err = run(capsys, "train", *TINY, "--save", str(path))
    assert code == EXIT_USAGE
    assert_short_error(err, "the file exists and is kept", "--overwrite")
    assert path.read_bytes() == b"precious"
    fresh = tmp_path / "fresh.npz"
    assert main(["train", "--dataset", "moons", *TINY, "--save", str(fresh)]) == EXIT_OK
    assert main(["train", "--dataset", "moons", *TINY, "--save", str(fresh), "--overwrite", "--seed", "1"]) == EXIT_OK
    assert read_metadata(fresh)["architecture"]["seed"] == 1


# ---------------------------------------------------------------------- progress, summary and plot
def test_piped_output_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--dataset", "iris", "--hidden", "8", "--epochs", "3")
    assert code == EXIT_OK, err
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    for line in lines:
        assert re.search(r"cost \S+  acc \S+  val_cost \S+  val_acc \S+  \(\d+\.\d s\)$", line), line
        assert len(line) <= 80
    assert out.index("epoch 3/3") < out.index("network")  # printed as it trains, before the summary
    assert "\r" not in out and "\r" not in err  # no bar when stdout is not a terminal


def test_quiet_prints_no_epoch_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--dataset", "iris", *TINY)
    assert code == EXIT_OK and "epoch" not in out and len(out.splitlines()) == 1


def test_the_bar_on_a_terminal_keeps_the_metrics_readable_at_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    from ffnn.cli._progress import Progress

    progress = Progress(1000, live=True)
    progress.on_train_begin(None)
    logs = {"epoch": 1, "train_cost": 0.123456, "train_accuracy": 0.95, "val_cost": 0.234567, "val_accuracy": 0.9}
    for _ in range(3):
        progress.on_epoch_end(None, logs)
    progress.on_train_end(None, None)
    captured = capsys.readouterr()
    assert captured.out == ""  # the bar goes to stderr, not into the results
    last = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("3/1000 |") and "cost 0.123 acc 0.95 val_cost 0.235 val_acc 0.9" in last
    assert len(last) <= 80, last


def test_summary_has_a_validation_row(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--dataset", "iris", "--hidden", "8", "--epochs", "2")
    assert code == EXIT_OK, err
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.split()[:1] in (["train"], ["validation"], ["test"])
    }
    assert set(rows) == {"train", "validation", "test"}
    assert all(len(values) == 2 for values in rows.values())  # cost, accuracy


def test_regression_reports_r2_mae_rmse_in_the_target_units(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--dataset", "regression", "--hidden", "16", "--epochs", "3")
    assert code == EXIT_OK, err
    assert "accuracy" not in out and "acc " not in out
    assert "regression metrics in the target's units" in out
    header = next(line for line in out.splitlines() if "R²" in line)
    assert header.split() == ["cost", "R²", "MAE", "RMSE"]
    test = next(line for line in out.splitlines() if line.startswith("test ")).split()
    cost, r2, mae, rmse = map(float, test[1:])
    assert cost == pytest.approx(rmse**2 / 2, rel=1e-4) or cost == pytest.approx(rmse**2, rel=1e-4)
    assert r2 <= 1 and 0 < mae <= rmse
    epoch = [line for line in out.splitlines() if line.startswith("epoch ")][-1]
    assert "rmse" in epoch and "cost" not in epoch  # the same unit while training as in the table
    last_rmse = float(re.search(r"  rmse (\S+)", epoch)[1])
    train_rmse = float(next(line for line in out.splitlines() if line.startswith("train ")).split()[4])
    assert last_rmse == pytest.approx(train_rmse, rel=1e-3)


def test_plot_marks_the_restored_epoch_and_the_stop_on_a_log_axis(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    saved: list[Figure] = []
    original = Figure.savefig

    def keep(self: Figure, *args: object, **kwargs: object) -> None:
        saved.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    argv = ["--dataset", "iris", "--hidden", "32", "--epochs", "500", "--learning-rate", "0.05", "--patience", "2"]
    code, _, err = run(capsys, "train", *argv, "--plot", str(tmp_path / "c.png"), "--log-cost", "--quiet")
    assert code == EXIT_OK, err
    cost_axes = saved[0].axes[0]
    labels = [line.get_label() for line in cost_axes.get_lines()]
    assert any(label.startswith("restored (epoch ") for label in labels), labels
    assert "early stop" in labels
    assert cost_axes.get_yscale() == "log"
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)


def test_threads_limits_the_blas_pools(capsys: pytest.CaptureFixture[str]) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ffnn.cli import _common

    try:
        code, _, err = run(capsys, "train", "--dataset", "iris", "--threads", "1", "--backend", "numpy", *TINY)
        assert code == EXIT_OK, err
        pools = threadpoolctl.threadpool_info()
        assert pools and all(pool["num_threads"] == 1 for pool in pools)
    finally:
        if _common._LIMITS is not None:
            _common._LIMITS.restore_original_limits()
            _common._LIMITS = None
