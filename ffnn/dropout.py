"""Inverted dropout, D (1)–(8) of MATH.md §8: keep probabilities, their validation, and
the keep masks of a training epoch.

Design
------
Masks are drawn **on the host, once per epoch**, by a NumPy Generator seeded from
``SeedSequence(seed, spawn_key=(2, epoch))`` (the shuffle uses stream 1), and reach the
device in **one** host→device copy per epoch: a boolean array holding R^[l] for every
dropout layer, stacked by rows, one column per example position of the epoch. Each
batch then takes a column slice of it on the device and scales it by 1/p (one
``astype`` and one multiply), so no batch adds host work or synchronisation.

Why the host: the masks are a pure function of (seed, epoch, probabilities, m), drawn
by NumPy's own generator, so they are bit-identical on every backend (numpy, cupy,
torch, jax, array_api_strict) without asking each library for an identical random
integer generator, which the Array API standard does not have. The stream is part of
the training state without storing anything: a resumed fit draws the same masks from
the saved seed and epoch count. The price is m · Σ n^[l] bytes of device memory (a
bool per unit and example) and one copy per epoch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backends import Backend

from ._types import Array, Namespace
from ._validation import is_integer, is_number

__all__ = ["DropoutError", "EpochMasks", "draw_masks", "dropout_config", "keep_probabilities", "scales"]

DROPOUT_STREAM = 2
"""The spawn key of the mask stream (the shuffle of :mod:`ffnn.training.sampling` is 1)."""

_CHUNK = 4096
"""Examples drawn at a time (bounds the host's float64 scratch; the stream does not depend on it)."""

Probabilities = dict[int, "float | tuple[float, ...]"]


class DropoutError(ValueError):
    """A dropout specification that D (§8) does not allow; the message says which and how to fix it."""


def _probability(value: Any, where: str) -> float:
    if not is_number(value):
        msg = f"{where} must be a keep probability in (0, 1], got {value!r}"
        raise DropoutError(msg)
    p = float(value)
    if not (0.0 < p <= 1.0) or math.isnan(p):
        msg = (
            f"{where} = {value!r} is not a keep probability in (0, 1]: p is the chance a unit is KEPT "
            "(D (1)); 1 keeps every unit, 0 would drop them all"
        )
        raise DropoutError(msg)
    return p


def _entry(value: Any, l: int, n: int) -> float | tuple[float, ...]:
    where = f"dropout of layer {l}"
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return _probability(value, where)
    values = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
    if len(values) != n:
        msg = (
            f"{where} gives {len(values)} keep probabilities, but layer {l} has {n} units: "
            "give one per unit or a scalar"
        )
        raise DropoutError(msg)
    return tuple(_probability(v, f"{where}, unit {k}") for k, v in enumerate(values))


def keep_probabilities(spec: Any, sizes: Sequence[int]) -> Probabilities:
    """D's keep probabilities p^[l], validated against the layer sizes.

    Parameters
    ----------
    spec : None, float, mapping or sequence
        - None (or 1): no dropout.
        - a number p: the keep probability of every hidden layer l = 1 … L−1 (not the
          input, not the output);
        - a mapping {l: p^[l]} with l = 0 (the input, A^[0] = X) … L−1 (integer keys,
          or their strings as JSON writes them);
        - a sequence of L entries, one per layer l = 0 … L−1 (None meaning 1).
        Each p^[l] is a scalar or a sequence of n^[l] values, one per unit (D (1)).
    sizes : sequence of int
        [n^[0], n^[1], …, n^[L]].

    Returns
    -------
    dict
        {l: p^[l]} for the layers that drop something (entries equal to 1 are left out),
        each a float or a tuple of n^[l] floats.

    Raises
    ------
    DropoutError (a ValueError)
        A probability outside (0, 1], a per-unit list of the wrong length, a layer
        index outside 0 … L−1 (in particular the output layer L), or a number for a
        network without hidden layers.
    """
    L = len(sizes) - 1
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = []
        for key, value in spec.items():
            index = key
            if isinstance(key, str) and key.strip().isdigit():
                index = int(key)
            if not is_integer(index):
                msg = f"dropout keys are layer numbers 0 (the input) … {L - 1}, got {key!r}"
                raise DropoutError(msg)
            items.append((int(index), value))
    elif isinstance(spec, (str, bytes)):
        msg = f"dropout must be a keep probability, a mapping {{layer: p}} or a list per layer, got {spec!r}"
        raise DropoutError(msg)
    elif isinstance(spec, (Sequence, np.ndarray)):
        entries = list(spec)
        if len(entries) != L:
            msg = (
                f"a dropout list gives one entry per layer l = 0 (the input) … {L - 1}, i.e. {L} entries for this "
                f"network; got {len(entries)} (the output layer {L} takes none)"
            )
            raise DropoutError(msg)
        items = [(l, v) for l, v in enumerate(entries) if v is not None]
    else:
        p = _probability(spec, "dropout")
        if p == 1.0:
            return {}
        if L < 2:
            msg = (
                f"dropout={spec!r} applies to the hidden layers, and this network has none; "
                "give {0: p} to drop inputs instead"
            )
            raise DropoutError(msg)
        items = [(l, p) for l in range(1, L)]
    out: Probabilities = {}
    for l, value in sorted(items, key=lambda kv: kv[0]):
        if l == L:
            msg = (
                f"dropout on the output layer ({L}) is not allowed: D drops hidden units and inputs only "
                f"(layers 0 … {L - 1}); remove key {L}"
            )
            raise DropoutError(msg)
        if not 0 <= l < L:
            msg = f"dropout names layer {l}, but this network's layers are 0 (the input) … {L - 1}"
            raise DropoutError(msg)
        entry = _entry(value, l, int(sizes[l]))
        if (entry != 1.0) if isinstance(entry, float) else any(v != 1.0 for v in entry):
            out[l] = entry
    return out


def dropout_config(probs: Probabilities) -> dict[str, Any] | None:
    """The JSON form saved in model files: {"l": p or [p_1, …]}, or None without dropout."""
    if not probs:
        return None
    return {str(l): (p if isinstance(p, float) else list(p)) for l, p in sorted(probs.items())}


def _row(p: float | tuple[float, ...], n: int) -> np.ndarray:
    return np.full(n, p) if isinstance(p, float) else np.asarray(p, dtype=np.float64)


def draw_masks(probs: Probabilities, sizes: Sequence[int], seed: int, epoch: int, m: int) -> np.ndarray:
    """D (1): the keep masks R^[l] of one epoch, on the host.

    Returns a boolean array of shape (Σ n^[l], m): the rows of R^[l] for the layers of
    ``probs`` in increasing l, stacked; column i belongs to the i-th example the epoch
    visits (after shuffling). Drawn from ``SeedSequence(seed, spawn_key=(2, epoch))``:
    r_{k,i} = [u_{k,i} < p_k] with u uniform in [0, 1), so it depends on nothing else
    (not on the backend, not on the batch size).
    """
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(DROPOUT_STREAM, int(epoch))))
    rows = np.concatenate([_row(probs[l], int(sizes[l])) for l in sorted(probs)])
    keep = np.empty((m, rows.shape[0]), dtype=bool)
    for start in range(0, m, _CHUNK):
        stop = min(start + _CHUNK, m)
        keep[start:stop] = rng.random((stop - start, rows.shape[0])) < rows
    return np.ascontiguousarray(keep.T)


def scales(probs: Probabilities, sizes: Sequence[int], dtype: str) -> np.ndarray:
    """The column (Σ n^[l], 1) of 1/p_k (computed in float64, then rounded to ``dtype``)."""
    rows = np.concatenate([_row(probs[l], int(sizes[l])) for l in sorted(probs)])
    return (1.0 / rows).astype(dtype).reshape(-1, 1)


class EpochMasks:
    """The device side of the masks of a fit: one copy per epoch, scaled slices per batch.

    Parameters
    ----------
    probs : dict
        From :func:`keep_probabilities` (not empty).
    sizes : sequence of int
        [n^[0], …, n^[L]].
    backend
        The network's :class:`backends.Backend`.
    dtype : str
        The network's dtype.
    """

    def __init__(self, probs: Probabilities, sizes: Sequence[int], backend: Backend, dtype: str) -> None:
        self.probs, self.sizes, self.backend = probs, list(sizes), backend
        self.layers = sorted(probs)
        offsets = np.cumsum([0] + [int(sizes[l]) for l in self.layers])
        self.rows = [(int(a), int(b)) for a, b in itertools.pairwise(offsets)]
        self.scale = backend.asarray(scales(probs, sizes, dtype))
        self.keep: Array = None

    def start_epoch(self, seed: int, epoch: int, m: int) -> None:
        """Draw the epoch's masks (:func:`draw_masks`) and copy them to the device once."""
        self.keep = self.backend.asarray(draw_masks(self.probs, self.sizes, seed, epoch, m))

    def batch(self, start: int, stop: int, *, xp: Namespace) -> dict[int, Array]:
        """{l: (1/p^[l]) ⊙ R^[l]} for the epoch's examples start … stop−1: the scaled
        masks D (2)/(8) multiply by, each (n^[l], stop − start), on the device."""
        scaled = xp.astype(self.keep[:, start:stop], self.scale.dtype) * self.scale
        return {l: scaled[a:b, :] for l, (a, b) in zip(self.layers, self.rows)}


def apply(A: Array, mask: Array) -> Array:
    """D (2) Ã = (1/p) ⊙ R ⊙ A, and D (8) dJ/dA = dJ/dÃ ⊙ (1/p) ⊙ R: both multiply by the
    scaled mask (a fresh array; ``A`` is untouched)."""
    return A * mask
