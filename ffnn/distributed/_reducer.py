"""One flat buffer for all gradients: pack (scaled by m_r/M), all-reduce once, unpack."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._comm import Communicator

__all__ = ["GradientReducer"]


class GradientReducer:
    """Sums a name-keyed gradient dict over ranks with one all-reduce per step.

    The gradients ("W1", "b1", …) are copied, each multiplied by the rank's weight
    m_r/M (:func:`~ffnn.distributed.batch_weight`), into one 1-D buffer allocated
    once; the buffer is all-reduced and the result handed back as views with the
    original shapes. Σ_r (m_r/M) ∇J_r is the gradient of the mean cost over the global
    batch of M rows, P1 (15)/(16), so every rank applies the same update.

    Parameters
    ----------
    comm : Communicator
    template : mapping of str to array
        Arrays of the backend with the gradients' names, shapes and dtype (the
        parameters themselves will do). All must share one float dtype.

    Attributes
    ----------
    names : tuple of str
    nbytes : int
        Size of the reduced buffer in bytes (what crosses the network per step).

    Raises
    ------
    ValueError
        Empty template, or arrays of different dtypes.
    """

    def __init__(self, comm: Communicator, template: Mapping[str, Any]) -> None:
        if not template:
            msg = "template must name at least one gradient"
            raise ValueError(msg)
        dtypes = {str(a.dtype) for a in template.values()}
        if len(dtypes) != 1:
            msg = f"all gradients must share one dtype to travel in one buffer, got {sorted(dtypes)}"
            raise ValueError(msg)
        self.comm = comm
        backend = comm.backend
        xp = self.xp = backend.xp
        self.names = tuple(template)
        self.shapes = {k: tuple(a.shape) for k, a in template.items()}
        sizes = [math.prod(self.shapes[k]) for k in self.names]
        offsets = [0]
        for n in sizes:
            offsets.append(offsets[-1] + n)
        self.slices = {k: (offsets[i], offsets[i + 1]) for i, k in enumerate(self.names)}
        first = next(iter(template.values()))
        self.dtype = first.dtype
        self._device = backend.device
        self._buffer = xp.zeros((offsets[-1],), dtype=self.dtype, device=self._device)
        self.nbytes = offsets[-1] * np.dtype(str(self.dtype).rsplit(".", 1)[-1]).itemsize
        self.inplace = _writable(self._buffer)
        self.weight = 1.0

    def _check(self, grads: Mapping[str, Any]) -> None:
        if set(grads) != set(self.names):
            missing, extra = set(self.names) - set(grads), set(grads) - set(self.names)
            msg = f"gradients must be named {list(self.names)}; missing {sorted(missing)}, unexpected {sorted(extra)}"
            raise KeyError(msg)

    def pack(self, grads: Mapping[str, Any] | None, *, weight: float = 1.0) -> Any:
        """The 1-D buffer holding ``weight`` × each gradient, in :attr:`names` order;
        zeros when ``grads`` is None (a rank with an empty share)."""
        xp = self.xp
        if grads is None:
            if not self.inplace:
                return xp.zeros(self._buffer.shape, dtype=self.dtype, device=self._device)
            self._buffer[...] = 0
            return self._buffer
        self._check(grads)
        flat = [xp.reshape(grads[k], (-1,)) for k in self.names]
        if weight != 1.0:
            flat = [f * weight for f in flat]
        if not self.inplace:
            return xp.concat(flat)
        for k, f in zip(self.names, flat):
            lo, hi = self.slices[k]
            self._buffer[lo:hi] = f
        return self._buffer

    def unpack(self, buffer: Any) -> dict[str, Any]:
        """The gradients as views of ``buffer`` (valid until the next :meth:`reduce`)."""
        xp = self.xp
        return {k: xp.reshape(buffer[lo:hi], self.shapes[k]) for k, (lo, hi) in self.slices.items()}

    def reduce(self, grads: Mapping[str, Any] | None, *, weight: float = 1.0) -> dict[str, Any]:
        """Σ over ranks of ``weight`` × ``grads``, by name.

        Parameters
        ----------
        grads : mapping of str to array, or None
            This rank's gradients, averaged over its own m_r rows; None when its
            share of the global batch is empty (it still takes part in the reduction).
        weight : float, default 1
            m_r / M (:func:`~ffnn.distributed.batch_weight`).

        Returns
        -------
        dict of str to array
            The global-batch gradients, identical on every rank. With one rank and
            weight 1 these are the given arrays (nothing is copied).
        """
        if self.comm.size == 1 and grads is not None:
            self._check(grads)
            if weight == 1.0:
                return dict(grads)
            return {k: g * weight for k, g in grads.items()}
        return self.unpack(self.comm.allreduce_sum(self.pack(grads, weight=weight)))

    def __call__(self, grads: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`reduce` with :attr:`weight` (set it per batch): the gradient hook form."""
        return self.reduce(grads, weight=self.weight)


def _writable(buffer: Any) -> bool:
    """Whether slices of the library's arrays can be assigned (not JAX)."""
    try:
        buffer[0:0] = buffer[0:0]
    except (TypeError, ValueError, NotImplementedError):
        return False
    return True
