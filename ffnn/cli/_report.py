"""Files ``ffnn`` writes besides models: learning-curve plots and prediction CSVs."""

from __future__ import annotations

import csv
import io
from typing import IO, Any

import numpy as np

from .._files import write_atomically


def plot_curves(
    history: Any,
    progress: Any,
    path: str,
    title: str,
    best_epoch: int | None,
    log_cost: bool,
    regression: bool,
) -> None:
    """Write a PNG of the learning curves per epoch, atomically.

    Classifiers: cost and accuracy panels. Regression: RMSE in the target's units
    (the unit of the summary table). A dashed line marks the epoch whose weights
    early stopping restored, a cross the epoch where it stopped; ``log_cost`` puts
    the cost/RMSE axis on a log scale.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if regression and progress is not None and progress.series("train_rmse"):
        panels = [("RMSE (target units)", progress.series("train_rmse"), progress.series("val_rmse"))]
    else:
        panels = [("cost", list(history.train_cost), list(history.val_cost))]
    if history.train_accuracy:
        panels.append(("accuracy", list(history.train_accuracy), list(history.val_accuracy)))
    figure = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    FigureCanvasAgg(figure)
    for k, (name, train, validation) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), k + 1)
        epochs = np.arange(1, len(train) + 1)
        axes.plot(epochs, train, marker=".", label="train")
        if validation:
            axes.plot(epochs[-len(validation) :], validation, marker=".", label="validation")
        if best_epoch is not None:
            axes.axvline(best_epoch, color="0.4", linestyle="--", label=f"restored (epoch {best_epoch})")
            watched = validation or train
            axes.plot(
                [len(train)], [watched[-1]], marker="x", color="red", markersize=9, linestyle="", label="early stop"
            )
        if k == 0 and log_cost:
            axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    write_atomically(path, lambda handle: figure.savefig(handle, format="png", dpi=100))


def write_csv(handle: IO[bytes], header: list[str], columns: list[np.ndarray]) -> None:
    """A header row, then one row per example from ``columns`` (each (m,) or (m, k)):
    integers as such, floats with 9 significant digits, strings quoted where CSV needs it."""
    blocks = [c[:, np.newaxis] if c.ndim == 1 else c for c in columns]
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    formatted = [
        [[f"{v:.9g}" for v in row] if b.dtype.kind == "f" else [str(v) for v in row] for row in b.tolist()]
        for b in blocks
    ]
    writer.writerows([cell for block in parts for cell in block] for parts in zip(*formatted))
    text.flush()
    text.detach()  # the caller syncs and closes the file
