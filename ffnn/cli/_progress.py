"""Progress of ``ffnn train``: a live bar on a terminal, one line per epoch otherwise.

Both are :class:`ffnn.training.Callback` objects passed to ``fit``. A regression run
reports the root-mean-square error in the target's own units (the network trains on
a standardized target), so the lines, the plot and the summary speak one unit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from ..training import Callback

#: (log key, short label) in the order they are shown.
_SHOWN = (
    ("train_cost", "cost"),
    ("train_accuracy", "acc"),
    ("train_rmse", "rmse"),
    ("val_cost", "val_cost"),
    ("val_accuracy", "val_acc"),
    ("val_rmse", "val_rmse"),
)


def metrics_text(logs: dict[str, float], *, sep: str = "  ", digits: int = 4) -> str:
    """'cost 0.1235  acc 0.95  val_cost 0.2  val_acc 0.9' (``digits`` significant digits)."""
    return sep.join(f"{label} {logs[key]:.{digits}g}" for key, label in _SHOWN if key in logs)


class Progress(Callback):
    """Records each epoch's metrics (plus ``extra(net)``, e.g. RMSE in target units)
    and shows them: a tqdm bar on a terminal, a line per epoch when not.

    Parameters
    ----------
    epochs : int
        The epochs asked for (the bar's total).
    extra : callable, optional
        ``extra(net) -> dict`` of more metrics, merged into each epoch's logs.
    live : bool, optional
        Bar (True) or lines (False); default: whether ``out`` is a terminal.
    out : file, optional
        Where lines go (default sys.stdout; the bar goes to sys.stderr).
    hide_cost : bool
        Leave the cost out of the display (regression shows RMSE instead).
    """

    def __init__(
        self,
        epochs: int,
        *,
        extra: Callable[[Any], dict[str, float]] | None = None,
        live: bool | None = None,
        out: IO[str] | None = None,
        hide_cost: bool = False,
    ) -> None:
        self.epochs = epochs
        self.extra = extra
        self.out = out
        self.live = live
        self.hide_cost = hide_cost
        self.records: list[dict[str, float]] = []
        self._bar: Any = None
        self._start = 0.0

    def _stream(self) -> IO[str]:
        return sys.stdout if self.out is None else self.out

    def on_train_begin(self, net: Any) -> None:
        self._start = time.perf_counter()
        live = self.live
        if live is None:
            isatty = getattr(self._stream(), "isatty", None)
            live = bool(isatty and isatty())
        if live:
            from tqdm import tqdm

            # A fixed 8-character bar and 3 significant digits: at 80 columns the four
            # metrics of a classifier with validation stay whole, even at 1000/1000 epochs.
            self._bar = tqdm(
                total=self.epochs,
                unit="epoch",
                bar_format="{n_fmt}/{total_fmt} |{bar:8}| {elapsed} {desc}",
                file=sys.stderr,
            )

    def on_epoch_end(self, net: Any, logs: dict[str, float]) -> bool | None:
        record = dict(logs)
        if self.extra is not None:
            record.update(self.extra(net))
        self.records.append(record)
        shown = {k: v for k, v in record.items() if not (self.hide_cost and k.endswith("_cost"))}
        if self._bar is not None:
            self._bar.set_description_str(metrics_text(shown, sep=" ", digits=3), refresh=False)
            self._bar.update(1)
        else:
            width = len(str(self.epochs))
            seconds = time.perf_counter() - self._start
            print(
                f"epoch {int(record['epoch']):>{width}}/{self.epochs}  {metrics_text(shown)}  ({seconds:.1f} s)",
                file=self._stream(),
                flush=True,
            )
        return None

    def on_train_end(self, net: Any, history: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def series(self, key: str) -> list[float]:
        """One metric per recorded epoch (empty when it was not recorded)."""
        return [r[key] for r in self.records if key in r]
