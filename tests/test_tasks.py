"""ffnn.tasks: the one table of loss / output activation / task pairings."""

from __future__ import annotations

import pytest

from ffnn.losses import get_loss
from ffnn.tasks import LOSS_FOR_OUTPUT, OUTPUT_FOR_LOSS, default_loss, default_output, head_for


def test_the_table_agrees_with_each_loss_fused_output() -> None:
    for loss, output in OUTPUT_FOR_LOSS.items():
        assert get_loss(loss).fused_activation == output
        assert LOSS_FOR_OUTPUT[output] == loss


def test_defaults() -> None:
    assert default_loss("softmax") == "categorical_crossentropy"
    assert default_loss("sigmoid") == "binary_crossentropy"
    assert default_loss("linear") == "mse"
    assert default_loss("tanh") is None
    assert default_output("mse") == "linear"
    with pytest.raises(ValueError, match="no output activation is paired with loss 'hinge'"):
        default_output("hinge")


@pytest.mark.parametrize(
    ("task", "n", "output", "loss", "expected"),
    [
        ("regression", 2, None, None, ("linear", "mse", 2)),
        ("binary", 2, None, None, ("sigmoid", "binary_crossentropy", 1)),
        ("binary", 2, None, "categorical_crossentropy", ("softmax", "categorical_crossentropy", 2)),
        ("multiclass", 3, None, None, ("softmax", "categorical_crossentropy", 3)),
        ("multiclass", 3, "sigmoid", None, ("sigmoid", "binary_crossentropy", 3)),
        ("multiclass", 3, None, "binary_crossentropy", ("sigmoid", "binary_crossentropy", 3)),
        ("multilabel", 4, None, None, ("sigmoid", "binary_crossentropy", 4)),
    ],
)
def test_head_for(task: str, n: int, output: str | None, loss: str | None, expected: tuple[str, str, int]) -> None:
    assert head_for(task, n, output=output, loss=loss) == expected


@pytest.mark.parametrize(
    ("task", "loss", "match"),
    [
        ("regression", "binary_crossentropy", "needs class labels"),
        ("multiclass", "mse", "mse is for regression"),
        ("clustering", None, "task must be"),
    ],
)
def test_head_for_refuses_mismatches(task: str, loss: str | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        head_for(task, 3, loss=loss)
