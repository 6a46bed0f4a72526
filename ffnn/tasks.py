"""The one table of which loss, output activation and task go together.

A learning task fixes the loss and the output layer that suit it:

============  ===========================  ==================  ==========
task          loss                         output activation   outputs
============  ===========================  ==================  ==========
regression    mse                          linear              t targets
binary        binary_crossentropy          sigmoid             1
multiclass    categorical_crossentropy     softmax             k classes
multilabel    binary_crossentropy          sigmoid             k labels
============  ===========================  ==================  ==========

Each cross-entropy is paired with the output whose fused backward rule holds
(MATH.md P2, P3: dJ/dZ^[L] = (1/m)(A − Y)); mse with a linear output is P1 (9).
The command line, the scikit-learn estimators and :class:`ffnn.Network` (to infer a
missing ``loss=`` from the output activation) read this module, so the pairing is
written once.
"""

from __future__ import annotations

__all__ = [
    "LOSS_FOR_OUTPUT",
    "OUTPUT_FOR_LOSS",
    "default_loss",
    "default_output",
    "head_for",
]

#: Output activation g^[L] whose fused backward rule goes with each loss.
OUTPUT_FOR_LOSS: dict[str, str] = {
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
    "mse": "linear",
}

#: The loss to infer from an output activation: softmax → cce, sigmoid → bce,
#: linear → mse. Other outputs (tanh, relu, ...) have no natural loss: None.
LOSS_FOR_OUTPUT: dict[str, str] = {
    "softmax": "categorical_crossentropy",
    "sigmoid": "binary_crossentropy",
    "linear": "mse",
}


def default_loss(output_activation: str) -> str | None:
    """The loss that goes with an output activation (canonical names), or None when
    the activation implies none (tanh, relu, ...): the caller must then ask for one."""
    return LOSS_FOR_OUTPUT.get(output_activation)


def default_output(loss: str) -> str:
    """The output activation of a loss's fused backward rule (canonical loss names).

    Raises
    ------
    ValueError
        A loss that is not in :data:`OUTPUT_FOR_LOSS`.
    """
    try:
        return OUTPUT_FOR_LOSS[loss]
    except KeyError:
        msg = f"no output activation is paired with loss {loss!r}; known: {', '.join(OUTPUT_FOR_LOSS)}"
        raise ValueError(msg) from None


def head_for(task: str, n: int, *, output: str | None = None, loss: str | None = None) -> tuple[str, str, int]:
    """(output activation, loss, n_out) of a network for a task.

    Parameters
    ----------
    task : {"regression", "binary", "multiclass", "multilabel"}
    n : int
        Target columns (regression), classes (binary, multiclass) or labels (multilabel).
    output, loss : str, optional
        Canonical names asked for; the missing one follows from the other or the task.

    Returns
    -------
    (str, str, int)
        A binary task with binary cross-entropy has one sigmoid output; with
        categorical cross-entropy it has two softmax outputs.

    Raises
    ------
    ValueError
        A cross-entropy asked for a regression task, or mse for class labels.
    """
    if task == "regression":
        loss = loss or "mse"
        if loss != "mse":
            msg = f"loss {loss} needs class labels, but the task is regression (numeric targets)"
            raise ValueError(msg)
        return output or "linear", loss, n
    if task not in ("binary", "multiclass", "multilabel"):
        msg = f"task must be regression, binary, multiclass or multilabel, got {task!r}"
        raise ValueError(msg)
    if loss is None:
        fallback = "categorical_crossentropy" if task == "multiclass" else "binary_crossentropy"
        inferred = default_loss(output or "")
        loss = inferred if inferred in ("categorical_crossentropy", "binary_crossentropy") else fallback
    if loss == "mse":
        msg = f"loss mse is for regression, but the task is {task} (class labels)"
        raise ValueError(msg)
    n_out = 1 if task == "binary" and loss == "binary_crossentropy" else n
    return output or default_output(loss), loss, n_out
