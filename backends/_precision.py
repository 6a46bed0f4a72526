"""Switching off reduced-precision math modes (TF32 and the like) for exact cross-backend comparisons.

Each library's switch is a function ``() -> (messages, restore)`` named in its
registry spec (``LibrarySpec.precision``); the public functions below only look
them up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ._registry import LIBRARIES, Restore, load_module

__all__ = ["disable_reduced_precision", "reduced_precision_disabled"]


def _set_env(name: str, value: str) -> Restore:
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    return restore


def cupy_switch() -> tuple[list[str], Restore]:
    """CuPy reads ``CUPY_TF32`` once, when it first needs the compute type of float32
    matrix products (older releases: at import); ``"0"`` (its default) means FP32."""
    previous = os.environ.get("CUPY_TF32")
    restore = _set_env("CUPY_TF32", "0")
    messages = ["cupy: CUPY_TF32=0 (float32 matrix products computed in FP32, not TF32)"]
    if "cupy" in sys.modules and previous not in (None, "", "0"):
        messages.append(
            f"cupy: warning: CuPy was imported while CUPY_TF32={previous}; float32 products it has already "
            "computed keep TF32 for the rest of the process; set CUPY_TF32=0 before starting Python"
        )
    return messages, restore


# torch >= 2.9: one ``fp32_precision`` per backend and operator ("ieee", "tf32", "bf16"
# or "none" = inherit). Parents first, so that restoring puts children back last.
_TORCH_FP32_SETTINGS = (
    "backends",
    "backends.cuda.matmul",
    "backends.cudnn",
    "backends.cudnn.conv",
    "backends.cudnn.rnn",
    "backends.mkldnn",
    "backends.mkldnn.matmul",
    "backends.mkldnn.conv",
    "backends.mkldnn.rnn",
)


def _resolve(root: Any, path: str) -> Any:
    for part in path.split("."):
        root = getattr(root, part, None)
        if root is None:
            return None
    return root


def torch_uses_fp32_precision_api(torch: ModuleType) -> bool:
    """Whether this torch has the ``fp32_precision`` settings (torch >= 2.9); then the
    legacy TF32 flags must not be touched: torch refuses to read them once the new
    settings are used."""
    return isinstance(getattr(getattr(torch, "backends", None), "fp32_precision", None), str)


def _torch_reductions(torch: ModuleType) -> Restore:
    matmul = torch.backends.cuda.matmul
    names = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction")
    saved = {n: getattr(matmul, n) for n in names if hasattr(matmul, n)}
    for n in saved:
        setattr(matmul, n, False)

    def restore() -> None:
        for n, value in saved.items():
            setattr(matmul, n, value)

    return restore


def _torch_fp32_precision(torch: ModuleType) -> tuple[list[str], Restore]:
    settings = [(path, obj) for path in _TORCH_FP32_SETTINGS if (obj := _resolve(torch, path)) is not None]
    settings = [(path, obj) for path, obj in settings if hasattr(obj, "fp32_precision")]
    saved = [(obj, obj.fp32_precision) for _, obj in settings]
    for _, obj in settings:
        obj.fp32_precision = "ieee"
    restore_reductions = _torch_reductions(torch)
    message = (
        "torch: TF32 off: float32 precision 'ieee' through torch's fp32_precision settings ("
        + ", ".join(f"torch.{path}.fp32_precision" for path, _ in settings)
        + "; the legacy allow_tf32 flags are left alone); reduced-precision fp16/bf16 reductions off"
    )

    def restore() -> None:
        restore_reductions()
        for obj, value in saved:
            obj.fp32_precision = value

    return [message], restore


def _torch_legacy(torch: ModuleType) -> tuple[list[str], Restore]:
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (torch.get_float32_matmul_precision(), matmul.allow_tf32, cudnn.allow_tf32)
    torch.set_float32_matmul_precision("highest")
    matmul.allow_tf32 = False
    cudnn.allow_tf32 = False
    restore_reductions = _torch_reductions(torch)
    message = (
        "torch: TF32 off for CUDA matrix products (torch.backends.cuda.matmul.allow_tf32=False) "
        "and cuDNN (torch.backends.cudnn.allow_tf32=False); float32 matmul precision 'highest'; "
        "reduced-precision fp16/bf16 reductions off"
    )

    def restore() -> None:
        restore_reductions()
        torch.set_float32_matmul_precision(saved[0])
        matmul.allow_tf32 = saved[1]
        cudnn.allow_tf32 = saved[2]

    return [message], restore


def torch_switch() -> tuple[list[str], Restore]:
    """torch's switch: the ``fp32_precision`` API when torch has it, else the legacy flags."""
    torch = load_module("torch")
    if torch_uses_fp32_precision_api(torch):
        return _torch_fp32_precision(torch)
    return _torch_legacy(torch)


def jax_switch() -> tuple[list[str], Restore]:
    """JAX computes float32 products on GPUs in TF32 (its default matmul precision) and
    preallocates 75% of GPU memory when it first touches the GPU; both are switched off."""
    jax = load_module("jax")
    previous = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", "highest")
    restore_env = _set_env("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    messages = [
        "jax: default matmul precision 'highest' (no TF32 or bf16 passes on GPUs)",
        (
            "jax: XLA_PYTHON_CLIENT_PREALLOCATE=false (GPU memory allocated as needed, not 75% up front; "
            "read when JAX first uses the GPU, so set it before that in a process that shares the GPU)"
        ),
    ]

    def restore() -> None:
        restore_env()
        jax.config.update("jax_default_matmul_precision", previous)

    return messages, restore


def _switch(backend: Any) -> tuple[list[str], Restore]:
    name = backend if isinstance(backend, str) else getattr(backend, "name", backend)
    spec = LIBRARIES.get("cupy" if name == "auto" else name)  # "auto" may pick CuPy
    if spec is None:
        known = ", ".join(["auto", *LIBRARIES])
        msg = f"unknown backend {name!r}; known backends: {known}"
        raise ValueError(msg)
    return spec.precision()


def disable_reduced_precision(backend: Any) -> list[str]:
    """Make a library compute float32 in full FP32 precision, for the rest of the process.

    GPUs since NVIDIA Ampere can run float32 matrix products on TF32 tensor cores
    (10-bit mantissa, relative error ~1e-3 instead of ~1e-7); this switches that
    and similar modes off so that CPU and GPU runs can be compared at float32
    rounding level:

    - torch >= 2.9: every ``fp32_precision`` setting (``torch.backends``,
      ``torch.backends.cuda.matmul``, ``torch.backends.cudnn`` and its conv/rnn,
      ``torch.backends.mkldnn`` and its matmul/conv/rnn) set to ``"ieee"``; the
      legacy ``allow_tf32`` flags are not touched (torch refuses a mix of both).
      Older torch: ``torch.backends.cuda.matmul.allow_tf32 = False``,
      ``torch.backends.cudnn.allow_tf32 = False`` and
      ``torch.set_float32_matmul_precision("highest")``. Both: no reduced-precision
      fp16/bf16 reductions;
    - cupy (and ``"auto"``, which may pick it): ``os.environ["CUPY_TF32"] = "0"``.
      CuPy reads this variable once per process, so call this before importing
      cupy, or start Python with ``CUPY_TF32=0``; a warning message is returned
      when CuPy was already imported with TF32 requested. CuPy is not imported;
    - jax: ``jax_default_matmul_precision = "highest"`` and
      ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (read when JAX first uses a GPU);
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
def reduced_precision_disabled(*backends: Any) -> Iterator[list[str]]:
    """Like :func:`disable_reduced_precision` for each backend, undone on exit.

    Yields the messages of all the switches. On exit the torch and jax settings
    and the environment variables are put back as they were; a CuPy that has made
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
        names = (b if isinstance(b, str) else getattr(b, "name", b) for b in backends)
        for name in dict.fromkeys(names):
            lines, restore = _switch(name)
            restores.append(restore)
            messages.extend(lines)
        yield messages
    finally:
        for restore in reversed(restores):
            restore()
