"""The JSON metadata of an ffnn model file: bounded parsing, a type check of every field,
and the checksums that tie each array to the metadata."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "MAX_COUNT",
    "METADATA_LIMIT",
    "USER_DEPTH",
    "SchemaError",
    "check_metadata",
    "checksum",
    "parse_metadata",
]

METADATA_LIMIT = 64 << 20
"""The largest metadata entry read or written (bytes of UTF-8 JSON)."""
USER_DEPTH = 64
"""The deepest nesting of the user metadata (a dict counts as one level)."""
MAX_DEPTH = USER_DEPTH + 1
"""The deepest nesting of the whole metadata (the user metadata sits one level down)."""
MAX_COUNT = 2**53
"""The largest counter or size (epochs, iterations, layer widths …) a file may hold."""
CHECKSUM = "sha256"


class SchemaError(Exception):
    """The metadata is not what an ffnn model file holds; the message says where and why."""


# ---------------------------------------------------------------------- parsing
def parse_metadata(raw: bytes) -> dict[str, Any]:
    """The metadata object from its UTF-8 JSON bytes, refusing NaN, infinities, numbers
    beyond float range and nesting deeper than :data:`MAX_DEPTH`."""
    if len(raw) > METADATA_LIMIT:
        raise SchemaError(f"it is {len(raw)} bytes, more than the {METADATA_LIMIT}-byte limit")
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise SchemaError(f"it is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSON, Unicode and integer-length errors
        raise SchemaError(str(exc)) from None
    if not isinstance(meta, dict):
        raise SchemaError(f"not a JSON object but {_kind(meta)}")
    if _depth(meta) > MAX_DEPTH:
        raise SchemaError(f"it is nested more than {MAX_DEPTH} levels deep")
    return meta


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid value in ffnn metadata")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is beyond the float range")
    return value


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


# ---------------------------------------------------------------------- the type check
Check = Callable[[Any, str], None]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _fail(where: str, expected: str, value: Any) -> None:
    shown = f"{value!r}"[:60] if not isinstance(value, (dict, list)) else _kind(value)
    raise SchemaError(f"{where} must be {expected}, got {shown}")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def integer(low: int = 0, high: int | None = MAX_COUNT) -> Check:
    """A check: an integer (not a bool) in [``low``, ``high``] (by default up to 2^53, which JSON keeps exact)."""
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"an integer ≥ {low}" if high is None else f"an integer in [{low}, {high}]"
            _fail(where, bound, value)

    return check


def number(low: float = -math.inf) -> Check:
    """A check: a finite number (not a bool) ≥ ``low`` when given."""
    def check(value: Any, where: str) -> None:
        if not _is_number(value) or value < low:
            _fail(where, "a finite number" + ("" if low == -math.inf else f" ≥ {low}"), value)

    return check


def string(*choices: str) -> Check:
    """A check: a string, one of ``choices`` when any are given."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, str) or (choices and value not in choices):
            _fail(where, f"one of {', '.join(choices)}" if choices else "a string", value)

    return check


def boolean(value: Any, where: str) -> None:
    """A check: true or false."""
    if not isinstance(value, bool):
        _fail(where, "true or false", value)


def optional(check: Check) -> Check:
    """A check: null, or a value that passes ``check``."""
    def either(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)

    return either


def array(item: Check, *, min_length: int = 0) -> Check:
    """A check: a list whose items all pass ``item``."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list) or len(value) < min_length:
            _fail(where, "an array" + (f" of at least {min_length} items" if min_length else ""), value)
        for k, element in enumerate(value):
            item(element, f"{where}[{k}]")

    return check


def json_value(value: Any, where: str) -> None:
    """Any JSON value (parsing already refused non-finite numbers and deep nesting)."""


def obj(required: dict[str, Check], optional: dict[str, Check] | None = None, *, other: Check = json_value) -> Check:
    """An object with the ``required`` fields, the ``optional`` ones when present, any
    other field checked by ``other`` (so a field added later reads as long as it is JSON)."""
    known = {**(optional or {}), **required}

    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        missing = [key for key in required if key not in value]
        if missing:
            raise SchemaError(f"{where} lacks the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        for key, item in value.items():
            known.get(key, other)(item, f"{where}.{key}")

    return check


def _setting(value: Any, where: str) -> None:
    if not (_is_number(value) or isinstance(value, (bool, str)) or value is None):
        _fail(where, "a finite number, a boolean, a string or null", value)


SCHEDULE = obj({"name": string(), "initial_learning_rate": number()}, other=_setting)


def _learning_rate(value: Any, where: str) -> None:
    (SCHEDULE if isinstance(value, dict) else number())(value, where)


def _keep_probability(value: Any, where: str) -> None:
    if not (_is_number(value) and 0 < value <= 1):
        _fail(where, "a keep probability in (0, 1]", value)


def _dropout_entry(value: Any, where: str) -> None:
    (array(_keep_probability, min_length=1) if isinstance(value, list) else _keep_probability)(value, where)


def _dropout(value: Any, where: str) -> None:
    """{"l": p or [p_1, …]}: D (1)'s keep probabilities by layer number (MATH.md §8)."""
    if not isinstance(value, dict):
        _fail(where, "an object of keep probabilities by layer", value)
    for key, item in value.items():
        if not (key.isdigit() and key.isascii()):
            _fail(f"{where} key", "a layer number", key)
        _dropout_entry(item, f"{where}.{key}")


_ACTIVATION = re.compile(r"^[a-z_]+(\(alpha=[0-9.eE+-]+\))?$")


def _activation(value: Any, where: str) -> None:
    """An activation's spec: its name, or name(alpha=…) (``Activation.spec``)."""
    if not (isinstance(value, str) and _ACTIVATION.match(value)):
        _fail(where, "an activation such as 'relu' or 'leaky_relu(alpha=0.2)'", value)


COUNT = integer()
SEED = integer(0, None)
ARCHITECTURE = obj(
    {
        "layers": array(
            obj({"n_in": integer(1), "n_out": integer(1), "activation": _activation, "init": string()}), min_length=1
        ),
        "loss": string(),
        "fuse_output": boolean,
        "seed": optional(SEED),
    },
    {"dropout": optional(_dropout)},
)
OPTIMIZER = obj(
    {
        "config": obj({"name": string(), "learning_rate": _learning_rate}, other=_setting),
        "iterations": COUNT,
        "has_state": boolean,
    }
)
HISTORY = obj(
    {},
    {
        "epochs": COUNT,
        "train_cost": array(number()),
        "val_cost": array(number()),
        "train_accuracy": array(number(0.0)),
        "val_accuracy": array(number(0.0)),
        "stop_reason": string(),
    },
)
SETTINGS = obj(
    {},
    {
        "epochs": COUNT,
        "batch_size": integer(1),
        "l2": number(0.0),
        "shuffle": boolean,
        "n_train": COUNT,
        "n_val": COUNT,
        "early_stopping": optional(
            obj(
                {},
                {
                    "patience": COUNT,
                    "min_delta": number(0.0),
                    "restore_best": boolean,
                    "monitor": string("train_cost", "val_cost", "train_accuracy", "val_accuracy"),
                    "mode": string("auto", "min", "max"),
                    "reference": string("improvement", "best"),
                },
            )
        ),
    },
)
TRAINING = obj(
    {"epoch": COUNT, "shuffle_seed": SEED, "history": HISTORY, "settings": SETTINGS, "has_best_weights": boolean},
    {"best": optional(number()), "best_epoch": COUNT, "wait": COUNT, "previous_epochs": COUNT},
)


def _checksums(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        _fail(where, "an object", value)
    for key, digest in value.items():
        if not isinstance(digest, str) or not digest.startswith(f"{CHECKSUM}:"):
            _fail(f"{where}.{key}", f"a string '{CHECKSUM}:<hex digest>'", digest)


NETWORK = obj(
    {
        "format": string(),
        "format_version": integer(1),
        "dtype": string("float32", "float64"),
        "architecture": ARCHITECTURE,
        "optimizer": json_value,
        "training": json_value,
    },
    {
        "ffnn_version": string(),
        "saved_from": obj({}, {"backend": string(), "device": string()}),
        "checksums": _checksums,
    },
)
STATE = obj({}, {"optimizer": optional(OPTIMIZER), "training": optional(TRAINING)})


def check_metadata(meta: dict[str, Any]) -> None:
    """Check the type (and range) of every field of format-version-1 metadata.

    Raises
    ------
    SchemaError
        Saying which part is wrong, the field (e.g. ``metadata.training.epoch``),
        what it must be, and what it is.
    """
    try:
        NETWORK(meta, "metadata")
    except SchemaError as exc:
        raise SchemaError(f"the metadata does not describe a valid network ({exc})") from None
    try:
        STATE(meta, "metadata")
        if meta["training"] is not None and meta["optimizer"] is None:
            raise SchemaError("metadata.training is given without metadata.optimizer")
    except SchemaError as exc:
        raise SchemaError(f"the optimizer or training state is invalid ({exc})") from None
    user = meta.get("user", {})
    if not isinstance(user, dict):
        raise SchemaError(f"the 'user' metadata must be a JSON object, got {type(user).__name__}")


# ---------------------------------------------------------------------- checksums
def checksum(array: np.ndarray) -> str:
    """``"sha256:<hex>"`` of the array's values: its little-endian bytes in C order, so
    the digest depends on the values alone (not on the layout or byte order stored)."""
    canonical = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return f"{CHECKSUM}:{hashlib.sha256(canonical.tobytes()).hexdigest()}"
