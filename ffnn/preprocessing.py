"""Feature scaling on the host, and folding it into a network's weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .sources import RowSource

if TYPE_CHECKING:
    from .network import Network

__all__ = ["ScaledRows", "Standardizer", "fold_standardization"]

CHUNK_ROWS = 65536


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-column affine scaling x ↦ (x − mean) / scale, fitted on training data only.

    Attributes
    ----------
    mean : numpy.ndarray, shape (n,)
    scale : numpy.ndarray, shape (n,)
        The columns' standard deviations; 1 for constant columns, so that they map to 0.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, *, names: Sequence[str] | None = None) -> Standardizer:
        """Column means and standard deviations of X, shape (m, n) or (m,), m ≥ 1.

        Computed on the columns divided by their largest magnitude, so finite values
        up to the float64 maximum (±1.8e308) do not overflow in the sums.

        Raises
        ------
        ValueError
            X holds NaN or infinite values, or a column's scaled values would not be
            finite (the message names the columns, by ``names`` when given).
        """
        columns = _as_columns(X)
        if not np.all(np.isfinite(columns)):
            msg = f"{_which(~np.all(np.isfinite(columns), axis=0), names)} hold NaN or infinite values"
            raise ValueError(msg)
        peak = np.max(np.abs(columns), axis=0, initial=0.0)
        peak = np.where(peak > 0.0, peak, 1.0)
        unit = columns / peak
        mean, std = np.mean(unit, axis=0) * peak, np.std(unit, axis=0) * peak
        scaler = cls(mean=mean, scale=np.where(std > 0.0, std, 1.0))
        with np.errstate(over="ignore", invalid="ignore"):
            bad = ~np.all(np.isfinite(scaler.transform(columns)), axis=0) | ~np.isfinite(std)
        _refuse_overflow(bad, names)
        return scaler

    @classmethod
    def fit_rows(
        cls, source: RowSource, *, names: Sequence[str] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> Standardizer:
        """:meth:`fit` on the rows of ``source`` read ``chunk_rows`` at a time (flat memory).

        The chunks are rows 0..m−1 of ``source`` in order, so every process reading the
        same source gets bit-identical statistics. Up to ``chunk_rows`` rows this is
        :meth:`fit` itself; beyond, three passes (column peaks, means, then squared
        deviations) compute the same quantities, equal to rounding.

        Raises
        ------
        ValueError
            As :meth:`fit`.
        """
        m = len(source)
        if m <= chunk_rows:
            return cls.fit(source.take(np.arange(m)), names=names)

        def chunks() -> Any:
            for lo in range(0, m, chunk_rows):
                yield _as_columns(source.take(np.arange(lo, min(lo + chunk_rows, m))))

        peak: np.ndarray | None = None
        for part in chunks():
            if not np.all(np.isfinite(part)):
                msg = f"{_which(~np.all(np.isfinite(part), axis=0), names)} hold NaN or infinite values"
                raise ValueError(msg)
            top = np.max(np.abs(part), axis=0, initial=0.0)
            peak = top if peak is None else np.maximum(peak, top)
        assert peak is not None
        peak = np.where(peak > 0.0, peak, 1.0)
        total = sum(np.sum(part / peak, axis=0) for part in chunks())
        unit_mean = total / m
        spread = sum(np.sum((part / peak - unit_mean) ** 2, axis=0) for part in chunks())
        mean, std = unit_mean * peak, np.sqrt(spread / m) * peak
        scaler = cls(mean=mean, scale=np.where(std > 0.0, std, 1.0))
        bad = ~np.isfinite(std)
        with np.errstate(over="ignore", invalid="ignore"):
            for part in chunks():
                bad |= ~np.all(np.isfinite(scaler.transform(part)), axis=0)
        _refuse_overflow(bad, names)
        return scaler

    def transform(self, X: Any) -> np.ndarray:
        """(X − mean) / scale, float64, the shape of X."""
        return np.reshape(_as_columns(X) / self.scale - self.mean / self.scale, np.shape(X))

    def inverse(self, Z: Any) -> np.ndarray:
        """Z · scale + mean: undoes :meth:`transform`."""
        return np.reshape((_as_columns(Z) + self.mean / self.scale) * self.scale, np.shape(Z))


class ScaledRows(RowSource):
    """Rows of another :class:`~ffnn.sources.RowSource`, read on demand: some of its rows
    (``rows``, in that order), some of its columns, as float64, optionally standardized.

    Each gather reads only the rows asked for from ``base``, then selects ``columns``
    and applies ``scaler`` (:meth:`Standardizer.transform`) to that batch alone, so a
    ``.npy`` data set trains with memory that does not grow with the file.

    Parameters
    ----------
    base : RowSource
        2-D rows (a ``.npy`` file or a memory map).
    rows : 1-D integer array, optional
        Which rows of ``base``, in this source's order (default: all).
    columns : 1-D integer array, optional
        Which columns of ``base`` (default: all).
    scaler : Standardizer, optional
        Applied to every batch after the column selection.
    """

    def __init__(
        self,
        base: RowSource,
        *,
        rows: np.ndarray | None = None,
        columns: np.ndarray | None = None,
        scaler: Standardizer | None = None,
    ) -> None:
        self.base, self.scaler = base, scaler
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        self.path, self.bytes_read, self._fd, self._array = base.path, 0, None, None
        m = base.shape[0] if self.rows is None else self.rows.shape[0]
        n = base.shape[1] if self.columns is None else self.columns.shape[0]
        self.shape, self.dtype = (m, n), np.dtype(np.float64)
        self.peak: float | None = None  # the largest raw feature magnitude, when the reader knows it

    def select(self, rows: np.ndarray) -> ScaledRows:
        """The rows ``rows`` (positions in this source) as a new source, same columns and scaling."""
        picked = np.asarray(rows, dtype=np.int64)
        return ScaledRows(
            self.base, rows=picked if self.rows is None else self.rows[picked], columns=self.columns, scaler=self.scaler
        )

    def scaled(self, scaler: Standardizer | None) -> ScaledRows:
        """The same rows and columns with ``scaler`` applied to each batch."""
        return ScaledRows(self.base, rows=self.rows, columns=self.columns, scaler=scaler)

    def _gather(self, ascending: np.ndarray) -> np.ndarray:
        data = self.base.take(ascending if self.rows is None else self.rows[ascending])
        if self.columns is not None:
            data = data[:, self.columns]
        data = np.asarray(data, dtype=np.float64)
        return data if self.scaler is None else self.scaler.transform(data)

    def close(self) -> None:
        return None


def _refuse_overflow(bad: np.ndarray, names: Any) -> None:
    """Raise when a column's standardization overflows float64 (``bad``, one flag per
    column), naming those columns and the way out."""
    if np.any(bad):
        msg = (
            f"{_which(bad, names)} span too wide a range to standardize in float64 "
            "((x - mean) / std overflows); rescale them (e.g. to other units) first"
        )
        raise ValueError(msg)


def _which(mask: np.ndarray, names: Sequence[str] | None) -> str:
    picked = [repr(names[int(j)]) if names is not None else str(int(j)) for j in np.flatnonzero(mask)]
    shown = ", ".join(picked[:8]) + (f" and {len(picked) - 8} more" if len(picked) > 8 else "")
    return f"column{'s' if len(picked) > 1 else ''} {shown}"


def _as_columns(X: Any) -> np.ndarray:
    """X as a float64 (m, n) array; a 1-D X is one column."""
    X = np.asarray(X, dtype=np.float64)
    return np.reshape(X, (X.shape[0], -1))


def fold_standardization(net: Network, x_scaler: Standardizer, y_scaler: Standardizer | None = None) -> None:
    """Fold input (and output) standardization into the first (and last) layer, so
    that ``net`` takes raw features and returns targets in their own units.

    With x̃ = (x − μ)/s, P1 (5) gives Z^[1] = W (x − μ)/s + b = W' x + b' with
    W' = W diag(1/s) and b' = b − W' μ. With ỹ = (y − ν)/t predicted by a linear
    output, y = t ỹ + ν gives W^[L]' = diag(t) W^[L] and b^[L]' = t b^[L] + ν.
    The arithmetic is done in float64 on the host, then cast to the network's dtype.

    Raises
    ------
    ValueError
        ``y_scaler`` given for an output layer that is not linear (the scaling
        would not commute with its activation).
    """
    if y_scaler is not None and net.layers[-1].activation.name != "linear":
        msg = f"target scaling folds only into a linear output layer, not {net.layers[-1].activation.name}"
        raise ValueError(msg)
    weights = [np.asarray(w, dtype=np.float64) for w in net.get_weights()]
    W, b = weights[0], weights[1]
    weights[0] = W / x_scaler.scale[np.newaxis, :]
    weights[1] = b - weights[0] @ x_scaler.mean[:, np.newaxis]
    if y_scaler is not None:
        weights[-2] = y_scaler.scale[:, np.newaxis] * weights[-2]
        weights[-1] = y_scaler.scale[:, np.newaxis] * weights[-1] + y_scaler.mean[:, np.newaxis]
    net.set_weights(weights)
