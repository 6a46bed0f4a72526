"""Feature scaling on the host, and folding it into a network's weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .network import Network

__all__ = ["Standardizer", "fold_standardization"]


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
        if np.any(bad):
            msg = (
                f"{_which(bad, names)} span too wide a range to standardize in float64 "
                "((x - mean) / std overflows); rescale them (e.g. to other units) first"
            )
            raise ValueError(msg)
        return scaler

    def transform(self, X: Any) -> np.ndarray:
        """(X − mean) / scale, float64, the shape of X."""
        return np.reshape(_as_columns(X) / self.scale - self.mean / self.scale, np.shape(X))

    def inverse(self, Z: Any) -> np.ndarray:
        """Z · scale + mean: undoes :meth:`transform`."""
        return np.reshape((_as_columns(Z) + self.mean / self.scale) * self.scale, np.shape(Z))


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
