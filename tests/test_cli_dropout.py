"""Issue 12 on the command line: `ffnn train --dropout` and the E activations with their
parameters (saved in the model), and `ffnn gradcheck --explain` printing seed H's chain."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import ffnn
from ffnn import Dense, Network
from ffnn.cli import EXIT_OK, EXIT_USAGE
from ffnn.explain import explain_gradient
from tests.cli_helpers import assert_short_error, quiet_result, run

TRAIN = ("train", "--dataset", "iris", "--epochs", "3", "--hidden", "8,6", "--quiet")


# ---------------------------------------------------------------------- train --dropout
@pytest.mark.parametrize(
    ("option", "expected"),
    [("0.5", {1: 0.5, 2: 0.5}), ("0:0.9,2:0.75", {0: 0.9, 2: 0.75}), ("1", {})],
)
def test_train_dropout_is_saved_with_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, expected: dict
) -> None:
    path = tmp_path / "m.npz"
    code, out, err = run(capsys, *TRAIN, "--dropout", option, "--save", str(path))
    assert code == EXIT_OK, err
    cost, _ = quiet_result(out)
    assert np.isfinite(cost)
    assert ffnn.load(path).dropout == expected


def test_train_dropout_changes_training(capsys: pytest.CaptureFixture[str]) -> None:
    results = [quiet_result(run(capsys, *TRAIN, *extra)[1]) for extra in ((), ("--dropout", "0.5"))]
    assert results[0] != results[1]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("1.5", "dropout = 1.5 is not a keep probability in (0, 1]"),
        ("0", "dropout = 0.0 is not a keep probability in (0, 1]"),
        ("3:0.5", "dropout on the output layer (3) is not allowed"),
        ("x", "argument --dropout: 'x' is not a keep probability P or layer:P pairs"),
    ],
)
def test_train_dropout_errors(capsys: pytest.CaptureFixture[str], option: str, message: str) -> None:
    code, _, err = run(capsys, *TRAIN, "--dropout", option)
    assert code == EXIT_USAGE
    assert_short_error(err, message)


# ---------------------------------------------------------------------- E activations
@pytest.mark.parametrize("activation", ["leaky_relu(alpha=0.2)", "elu(alpha=0.5)", "softplus", "silu", "gelu_tanh"])
def test_train_with_e_activations_saves_their_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, activation: str
) -> None:
    path = tmp_path / "m.npz"
    code, _, err = run(capsys, *TRAIN, "--activation", activation, "--save", str(path))
    assert code == EXIT_OK, err
    net = ffnn.load(path)
    assert [layer.activation.spec for layer in net.layers[:-1]] == [activation, activation]


def test_train_rejects_a_bad_alpha(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *TRAIN, "--activation", "leaky_relu(alpha=-1)")
    assert code == EXIT_USAGE
    assert_short_error(err, "leaky_relu alpha must be a positive finite number, got -1")


# ---------------------------------------------------------------------- gradcheck --explain
def _number(out: str, label: str) -> float:
    match = re.search(rf"^{re.escape(label)}\s*=\s*(\S+)", out, flags=re.MULTILINE)
    assert match, out
    return float(match[1])


@pytest.mark.parametrize(
    ("param", "activation", "expected"),
    [
        ("W2:0:1", "tanh", "θ = W^[2][0, 1] (ffnn, 0-based) = w^[2]_{2,1}"),
        ("W1:3:2", "sigmoid", "θ = W^[1][3, 2] (ffnn, 0-based) = w^[1]_{3,4}"),
        ("b1:2", "leaky_relu(alpha=0.2)", "θ = b^[1][2] (ffnn, 0-based) = b^[1]_3"),
        ("W3:0:2", "elu", "θ = W^[3][0, 2] (ffnn, 0-based) = w^[3]_{3,1}"),
    ],
)
def test_gradcheck_explain_prints_h_chain_equal_to_backprop(
    capsys: pytest.CaptureFixture[str], param: str, activation: str, expected: str
) -> None:
    code, out, err = run(capsys, "gradcheck", "--explain", param, "--activation", activation)
    assert code == EXIT_OK, err
    name = activation.split("(")[0]  # the header names the activation; the model keeps α
    assert out.startswith(f"gradcheck --explain: 3-4-3-1 {name} → sigmoid, binary_crossentropy, 8 examples")
    assert expected in out and "loss factor" in out and "σ'(z^[3])" in out
    chain = _number(out, "H's chain (1/m) Σ_e product")
    backprop = _number(out, "backpropagation (P1)")
    assert chain != 0 and abs(chain - backprop) <= 1e-12 * max(1.0, abs(backprop))
    # the printed backprop value is the library's (same network, same data, same seed)
    rng = np.random.default_rng(0)
    net = Network(
        [Dense(3, 4, activation=activation), Dense(4, 3, activation=activation), Dense(3, 1, activation="sigmoid")],
        loss="binary_crossentropy", backend="numpy", dtype="float64", seed=0,
    )
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=(8, 1)).astype(np.float64)
    kind, l, *idx = param.replace(":", " ").replace("W", "W ").replace("b", "b ").split()
    row, col = (int(idx[0]), int(idx[1]) if kind == "W" else 0)
    library = explain_gradient(net, X, y, layer=int(l), row=row, col=col, bias=kind == "b")
    assert abs(library.backprop - backprop) <= 1e-15 * max(1.0, abs(backprop)) * 10
    assert "PASS: relative error" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--explain", "W2:0"), "'W2:0' names no parameter; write Wl:row:col"),
        (("--explain", "b1:0:0"), "'b1:0:0' names no parameter"),
        (("--explain", "W9:0:0"), "layer must be the seeds' l in 1..3, got 9"),
        (("--explain", "W2:7:0"), "index (7, 0) is outside W^[2]"),
        (("--explain", "W1:0:0", "--loss", "cce"), "H's chain (MATH.md §7) is derived for a sigmoid output"),
    ],
)
def test_gradcheck_explain_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str) -> None:
    code, _, err = run(capsys, "gradcheck", *argv)
    assert code == EXIT_USAGE
    assert message in err, err
