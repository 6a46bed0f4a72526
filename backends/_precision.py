"""Switching off reduced-precision math modes (TF32 and the like) for exact cross-backend comparisons."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._backend import Backend
from ._registry import LIBRARIES, load_module

__all__ = ["disable_reduced_precision", "reduced_precision_disabled"]

Restore = Callable[[], None]


def _cupy() -> tuple[list[str], Restore]:
    """CuPy reads ``CUPY_TF32`` once, when it first needs the compute type of float32
    matrix products (older releases: at import); ``"0"`` (its default) means FP32."""
    previous = os.environ.get("CUPY_TF32")
    os.environ["CUPY_TF32"] = "0"
    messages = ["cupy: CUPY_TF32=0 (float32 matrix products computed in FP32, not TF32)"]
    if "cupy" in sys.modules and previous not in (None, "", "0"):
        messages.append(
            f"cupy: warning: CuPy was imported while CUPY_TF32={previous}; float32 products it has already "
            "computed keep TF32 for the rest of the process; set CUPY_TF32=0 before starting Python"
        )

    def restore() -> None:
        if previous is None:
            os.environ.pop("CUPY_TF32", None)
        else:
            os.environ["CUPY_TF32"] = previous

    return messages, restore


def _torch() -> tuple[list[str], Restore]:
    torch = load_module("torch")
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (
        torch.get_float32_matmul_precision(),
        cudnn.allow_tf32,
        matmul.allow_fp16_reduced_precision_reduction,
        matmul.allow_bf16_reduced_precision_reduction,
    )
    torch.set_float32_matmul_precision("highest")
    matmul.allow_tf32 = False
    cudnn.allow_tf32 = False
    matmul.allow_fp16_reduced_precision_reduction = False
    matmul.allow_bf16_reduced_precision_reduction = False
    message = (
        "torch: TF32 off for CUDA matrix products (torch.backends.cuda.matmul.allow_tf32=False) "
        "and cuDNN (torch.backends.cudnn.allow_tf32=False); float32 matmul precision 'highest'; "
        "reduced-precision fp16/bf16 reductions off"
    )

    def restore() -> None:
        torch.set_float32_matmul_precision(saved[0])
        cudnn.allow_tf32 = saved[1]
        matmul.allow_fp16_reduced_precision_reduction = saved[2]
        matmul.allow_bf16_reduced_precision_reduction = saved[3]

    return [message], restore


def _jax() -> tuple[list[str], Restore]:
    jax = load_module("jax")
    previous = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", "highest")
    messages = ["jax: default matmul precision 'highest' (no TF32 or bf16 passes on GPUs)"]
    return messages, lambda: jax.config.update("jax_default_matmul_precision", previous)


def _nothing() -> tuple[list[str], Restore]:
    return [], lambda: None


_SWITCHES: dict[str, Callable[[], tuple[list[str], Restore]]] = {
    "numpy": _nothing,
    "array_api_strict": _nothing,
    "cupy": _cupy,
    "auto": _cupy,
    "torch": _torch,
    "jax": _jax,
}


def _switch(backend: str | Backend) -> tuple[list[str], Restore]:
    name = backend.name if isinstance(backend, Backend) else backend
    if name not in _SWITCHES:
        known = ", ".join(["auto", *LIBRARIES])
        msg = f"unknown backend {name!r}; known backends: {known}"
        raise ValueError(msg)
    return _SWITCHES[name]()


def disable_reduced_precision(backend: str | Backend) -> list[str]:
    """Make a library compute float32 in full FP32 precision, for the rest of the process.

    GPUs since NVIDIA Ampere can run float32 matrix products on TF32 tensor cores
    (10-bit mantissa, relative error ~1e-3 instead of ~1e-7); this switches that
    and similar modes off so that CPU and GPU runs can be compared at float32
    rounding level:

    - torch: ``torch.backends.cuda.matmul.allow_tf32 = False``,
      ``torch.backends.cudnn.allow_tf32 = False``,
      ``torch.set_float32_matmul_precision("highest")`` and no reduced-precision
      fp16/bf16 reductions (the library is imported);
    - cupy (and ``"auto"``, which may pick it): ``os.environ["CUPY_TF32"] = "0"``.
      CuPy reads this variable once per process (when it first needs the compute
      type of float32 products; older releases at import), so call this before
      importing cupy, or start Python with ``CUPY_TF32=0``; a warning message is
      returned when CuPy was already imported with TF32 requested. CuPy is not
      imported here;
    - jax: ``jax_default_matmul_precision = "highest"``;
    - numpy, array_api_strict: nothing to switch (an empty list).

    Parameters
    ----------
    backend : str or Backend
        A backend name (see :data:`backends.KNOWN_BACKENDS`) or a Backend.

    Returns
    -------
    list of str
        One line per library setting changed, saying what was switched.

    Raises
    ------
    ValueError
        Unknown backend name (the message lists the known ones).
    BackendUnavailableError
        torch or jax is asked for but not installed.
    """
    messages, _ = _switch(backend)
    return messages


@contextmanager
def reduced_precision_disabled(*backends: str | Backend) -> Iterator[list[str]]:
    """Like :func:`disable_reduced_precision` for each backend, undone on exit.

    Yields the messages of all the switches. On exit the torch and jax settings
    and the ``CUPY_TF32`` variable are put back as they were; a CuPy that has made
    its first float32 product inside the block keeps FP32 (it reads the variable
    once).

    Raises
    ------
    ValueError
        Unknown backend name.
    BackendUnavailableError
        torch or jax is asked for but not installed.
    """
    restores: list[Restore] = []
    messages: list[str] = []
    try:
        for name in dict.fromkeys(b.name if isinstance(b, Backend) else b for b in backends):
            lines, restore = _switch(name)
            restores.append(restore)
            messages.extend(lines)
        yield messages
    finally:
        for restore in reversed(restores):
            restore()
