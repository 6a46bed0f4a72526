"""Model files: one NumPy .npz archive of parameters, optimizer and training state, with JSON metadata; no pickle.

This module never imports :mod:`ffnn.network`: the network subclasses :class:`Saver`
(for ``net.save``) and registers its class in :data:`MODELS`, which :func:`load` uses to
rebuild it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from backends import Backend, get_backend

from ._files import check_target, write_atomically
from ._registry import Registry
from ._types import Device, Params
from ._version import __version__
from .layers import Dense
from .optimizers import Optimizer, optimizer_from_config
from .training import TrainingState

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODELS",
    "USER_KEY",
    "ModelFileError",
    "Saver",
    "load",
    "read_metadata",
    "save",
]


class _Saveable(Protocol):
    """What the writer needs of a network."""

    backend: Backend
    dtype: str
    layers: list[Dense]
    optimizer: Optimizer | None
    training_state: TrainingState | None
    metadata: dict[str, Any]

    def get_config(self) -> dict[str, Any]: ...
    def named_parameters(self) -> Params: ...
    def set_weights(self, weights: Any) -> None: ...
    @classmethod
    def from_config(cls, config: dict[str, Any], *, backend: str | Backend = ..., device: Device = ...) -> Any: ...

FORMAT = "ffnn.network"
"""The ``format`` field of the metadata: marks a file as an ffnn model."""
FORMAT_VERSION = 1
"""The newest model-file format this ffnn writes and reads."""
METADATA_KEY = "metadata"
USER_KEY = "user"
"""The field of the JSON metadata that holds the network's own :attr:`Network.metadata`
(optional: files written before it existed read as ``{}``, so the format version stays 1)."""


class ModelFileError(ValueError):
    """A file that cannot be read as an ffnn model; the message names the file and the problem."""


# ---------------------------------------------------------------------- the model classes
class Saver:
    """Base class giving a network :meth:`save` (the network subclasses it)."""

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        include_optimizer: bool = True,
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> str:
        """Write the network to ``path`` (.npz + JSON metadata, atomically); see
        :func:`ffnn.serialization.save`. Read it back with :func:`ffnn.load`.

        ``metadata`` (default: this network's :attr:`metadata`) is stored in the file
        and becomes the loaded network's :attr:`metadata`.

        Raises
        ------
        FileExistsError
            ``path`` exists and ``overwrite`` is False, or it is not an ffnn model
            file (never replaced).
        TypeError
            ``metadata`` is not a dict of JSON-ready values with string keys.
        """
        return save(self, path, include_optimizer=include_optimizer, metadata=metadata, overwrite=overwrite)  # type: ignore[arg-type]


MODELS: Registry[Any] = Registry("model class", type)
"""The classes :func:`load` can rebuild, by name; :class:`ffnn.Network` registers itself as "network"."""


# ---------------------------------------------------------------------- writing
def save(
    net: _Saveable,
    path: str | os.PathLike[str],
    *,
    include_optimizer: bool = True,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Write ``net`` to ``path`` (exactly that name) as an ffnn model file.

    The file is a NumPy ``.npz`` archive: ``param.<k>`` for W^[1], b^[1], … in the
    network's dtype; with ``include_optimizer``, ``optimizer.<slot>.<k>`` and, after
    or during a fit, the training state (``training.best.<k>``) needed to resume;
    and ``metadata``, UTF-8 JSON with the format name and version, architecture,
    dtype, loss, optimizer configuration, training state and, under ``"user"``,
    your own metadata. No pickled objects.

    The write is atomic: a temporary file beside the target is written, flushed to
    disk, then renamed over it, so an interrupted save leaves any previous file
    intact.

    Parameters
    ----------
    net : Network
    path : str or PathLike
    include_optimizer : bool, default True
        Also store the optimizer state and the training state (to resume a fit).
    metadata : dict, optional
        JSON-ready facts to keep with the model (class names, feature names,
        provenance…): a dict with string keys whose values are str, int, float
        (finite), bool, None, lists/tuples and dicts of these. Read back by
        :func:`read_metadata` (key ``"user"``) and by :func:`load` as
        ``net.metadata``. Default: ``net.metadata``.
    overwrite : bool, default False
        Replace an existing ffnn model file at ``path`` (checkpoints do). Without
        it an existing file is refused; a file that is not an ffnn model is never
        replaced.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError
        ``metadata`` is not a dict, or holds something JSON cannot store (the
        message names where).
    FileExistsError
        ``path`` exists and ``overwrite`` is False, or it is not an ffnn model file
        (such a file is never overwritten).
    IsADirectoryError
        ``path`` is a directory.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    user = _user_metadata(net.metadata if metadata is None else metadata)
    target = check_target(path, replace=_not_a_model if overwrite else _keep)
    arrays = _pack(net, include_optimizer=include_optimizer, user=user)
    write_atomically(target, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]
    return target


def _keep(target: str) -> str:
    """Why an existing file is kept when ``overwrite`` is False."""
    return "pass overwrite=True to replace it"


def _not_a_model(target: str) -> str | None:
    """None when ``target`` is an ffnn model file (which a save may replace), else why not."""
    try:
        _read(target, check_version=False, load_arrays=False)
    except ModelFileError as exc:
        return f"it is not an ffnn model file ({exc}); choose another path"
    return None


_JSON_SCALARS = (str, int, float, bool, type(None))


def _user_metadata(metadata: Any) -> dict[str, Any]:
    """A JSON copy of ``metadata``, after checking that JSON stores it faithfully."""
    if not isinstance(metadata, dict):
        msg = f"metadata must be a dict (a JSON object with string keys), got {type(metadata).__name__}"
        raise TypeError(msg)
    _check_json(metadata, "metadata", ())
    return json.loads(json.dumps(metadata))


def _check_json(value: Any, where: str, parents: tuple[int, ...]) -> None:
    hint = "use str, int, float, bool, None, and lists and dicts of them (e.g. x.tolist() for NumPy values)"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in parents:
            msg = f"{where} contains itself; JSON cannot store a circular structure"
            raise TypeError(msg)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict) and not isinstance(key, str):
                msg = f"{where} has the key {key!r} ({type(key).__name__}); JSON object keys must be strings"
                raise TypeError(msg)
            _check_json(item, f"{where}[{key!r}]", (*parents, id(value)))
    elif not isinstance(value, _JSON_SCALARS):
        kind = type(value)
        named = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        msg = f"{where} has type {named} ({value!r:.60}), which JSON cannot store; {hint}"
        raise TypeError(msg)
    elif isinstance(value, float) and not math.isfinite(value):
        msg = f"{where} is {value!r}, which JSON cannot store; use None or a string for a missing value"
        raise TypeError(msg)


def _pack(net: _Saveable, *, include_optimizer: bool, user: dict[str, Any]) -> dict[str, np.ndarray]:
    """All arrays of the file as host NumPy arrays, the metadata included."""
    backend = net.backend
    arrays = {f"param.{k}": backend.to_numpy(p) for k, p in enumerate(net.named_parameters().values())}
    optimizer = net.optimizer if include_optimizer else None
    state = net.training_state if optimizer is not None else None
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ffnn_version": __version__,
        "dtype": net.dtype,
        "architecture": {k: v for k, v in net.get_config().items() if k != "dtype"},
        "saved_from": {"backend": backend.name, "device": backend.device_name},
        "optimizer": None,
        "training": None,
        USER_KEY: user,
    }
    if optimizer is not None:
        meta["optimizer"] = {
            "config": optimizer.get_config(),
            "iterations": optimizer.iterations,
            "has_state": optimizer.state is not None,
        }
        arrays.update({f"optimizer.{key}": backend.to_numpy(a) for key, a in optimizer.state_arrays().items()})
    if state is not None:
        meta["training"] = state.as_dict()
        meta["training"]["has_best_weights"] = state.best_weights is not None
        best = state.best_weights or []
        arrays.update({f"training.best.{k}": np.asarray(backend.to_numpy(a)) for k, a in enumerate(best)})
    arrays[METADATA_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    return arrays


# ---------------------------------------------------------------------- reading
def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of an ffnn model file (format, version, architecture, dtype,
    loss, optimizer, training state, and under ``"user"`` the metadata saved with the
    network: ``{}`` for files that have none), without building the network.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        As for :func:`load`.
    """
    name = os.fspath(path)
    meta = _read(name, check_version=True, load_arrays=False)[0]
    meta[USER_KEY] = _user(name, meta)
    return meta


def load(path: str | os.PathLike[str], *, backend: str | Backend = "auto", device: Device = None) -> Any:
    """Read a model file written by :func:`save` (or :meth:`Network.save`) onto any
    backend and device.

    Returns
    -------
    Network
        With the saved architecture, dtype, parameters and ``metadata`` ({} for
        files saved without), and, when saved, its ``optimizer`` (state included)
        and ``training_state`` (to resume a fit).

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        (a ValueError) The file is truncated or corrupt, holds pickled data, is an
        .npz/.npy that is not an ffnn model, was written by a newer ffnn (a newer
        format version), or its arrays do not match its architecture. The message
        names the file and the problem.
    ValueError, BackendUnavailableError
        Unknown or unusable ``backend``/``device`` (as for :func:`backends.get_backend`).
    """
    name = os.fspath(path)
    target = get_backend(backend, device)
    meta, arrays = _read(name, check_version=True, load_arrays=True)
    model = MODELS.get("network")
    try:
        arch = meta["architecture"]
        config = {
            "layers": [Dense.from_config(spec).get_config() for spec in arch["layers"]],
            "loss": arch["loss"],
            "dtype": meta["dtype"],
            "seed": arch["seed"],
            "fuse_output": bool(arch["fuse_output"]),
        }
        net = model.from_config(config, backend=target)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{name}: the metadata does not describe a valid network ({exc})") from exc
    shapes = [tuple(p.shape) for p in net.named_parameters().values()]
    net.set_weights(_arrays(name, arrays, "param", shapes, meta["dtype"]))
    net.metadata = _user(name, meta)
    try:
        _restore_training(net, name, meta, arrays, shapes)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{name}: the optimizer or training state is invalid ({exc})") from exc
    return net


def _user(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The saved :attr:`Network.metadata`; {} for files written without it."""
    user = meta.get(USER_KEY, {})
    if not isinstance(user, dict):
        raise ModelFileError(f"{name}: the {USER_KEY!r} metadata must be a JSON object, got {type(user).__name__}")
    return user


def _restore_training(
    net: _Saveable, name: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], shapes: list[tuple[int, ...]]
) -> None:
    """Rebuild ``net.optimizer`` (with its state) and ``net.training_state`` when saved."""
    info = meta.get("optimizer")
    if info is None:
        return
    optimizer = optimizer_from_config(info["config"])
    if info["has_state"]:
        slots = {}
        for slot in optimizer.slot_names:
            values = _arrays(name, arrays, f"optimizer.{slot}", shapes, meta["dtype"])
            slots.update({f"{slot}.{k}": v for k, v in enumerate(values)})
        optimizer.load_state(int(info["iterations"]), slots, net.backend, list(net.named_parameters()))
    net.optimizer = optimizer
    training = meta.get("training")
    if training is not None:
        best = _arrays(name, arrays, "training.best", shapes, meta["dtype"]) if training["has_best_weights"] else None
        net.training_state = TrainingState.from_dict(training, best)


def _arrays(
    name: str, arrays: dict[str, np.ndarray], prefix: str, shapes: list[tuple[int, ...]], dtype: str
) -> list[np.ndarray]:
    """``prefix.0``, ``prefix.1``, … checked against the parameter shapes and dtype."""
    out = []
    for k, shape in enumerate(shapes):
        key = f"{prefix}.{k}"
        if key not in arrays:
            raise ModelFileError(f"{name}: array {key!r} is missing")
        value = arrays[key]
        if value.dtype != np.dtype(dtype) or value.shape != shape:
            found, needed = f"{value.dtype}{list(value.shape)}", f"{dtype}{list(shape)}"
            msg = f"{name}: array {key!r} is {found}, the architecture needs {needed}"
            raise ModelFileError(msg)
        out.append(value)
    return out


_UNREADABLE = (EOFError, OSError, zipfile.BadZipFile, zlib.error)


def _read(name: str, *, check_version: bool, load_arrays: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and (optionally) every other array of the file at ``name``."""
    with open(name, "rb") as handle:
        with _numpy_errors(
            name,
            pickled="not an ffnn model file: it holds pickled data or is not a NumPy archive",
            damaged="truncated or corrupt, not a readable .npz archive",
        ):
            archive = np.load(handle, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ModelFileError(f"{name}: not an ffnn model file: it is a single .npy array, not an .npz archive")
        with archive:
            if METADATA_KEY not in archive.files:
                shown = ", ".join(archive.files[:5]) or "no arrays"
                msg = f"{name}: not an ffnn model file: it has no {METADATA_KEY!r} entry (it holds {shown})"
                raise ModelFileError(msg)
            meta = _metadata(name, _entry(name, archive, METADATA_KEY), check_version=check_version)
            keys = [k for k in archive.files if k != METADATA_KEY] if load_arrays else []
            return meta, {key: _entry(name, archive, key) for key in keys}


def _entry(name: str, archive: Any, key: str) -> np.ndarray:
    with _numpy_errors(
        name,
        pickled=f"array {key!r} holds pickled Python objects, which ffnn model files never do",
        damaged=f"truncated or corrupt: array {key!r} cannot be read",
    ):
        return archive[key]


@contextlib.contextmanager
def _numpy_errors(name: str, *, pickled: str, damaged: str) -> Iterator[None]:
    """Report NumPy's refusal of pickled data (a ValueError under ``allow_pickle=False``)
    and its errors on damaged data as ModelFileError naming the file."""
    try:
        yield
    except ValueError as exc:
        raise ModelFileError(f"{name}: {pickled} ({exc}); ffnn never loads pickles") from exc
    except _UNREADABLE as exc:
        raise ModelFileError(f"{name}: {damaged} ({exc})") from exc


def _metadata(name: str, raw: np.ndarray, *, check_version: bool) -> dict[str, Any]:
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"expected UTF-8 bytes, got {raw.dtype}{list(raw.shape)}")
        meta = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:  # includes JSON and Unicode decoding errors
        raise ModelFileError(f"{name}: the {METADATA_KEY!r} entry is not valid JSON metadata ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not an ffnn model file (format {meta.get('format')!r}, expected {FORMAT!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{name}: invalid format_version {version!r}")
    if check_version and version > FORMAT_VERSION:
        msg = (
            f"{name}: written by a newer ffnn (model format version {version}); this ffnn "
            f"reads versions up to {FORMAT_VERSION}: upgrade ffnn to load it"
        )
        raise ModelFileError(msg)
    return meta
