"""Fuzzing the model-file reader: seeded corruptions of a real saved model (byte flips in
every part of the archive, truncations, insertions, member swaps, removals, duplicates and
renames, .npy and zip header edits). Each file must either load exactly the saved model or
be refused with ModelFileError; no other exception, and never a different model."""

from __future__ import annotations

import collections
import io
import json
import random
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ffnn import Dense, Network
from ffnn.optimizers import Adam
from ffnn.serialization import ModelFileError, load, read_metadata
from ffnn.training import EarlyStopping
from tests.test_training import circles

CASES_PER_KIND = 24
SEED = 20261201


def trained() -> Network:
    X, y = circles(40, seed=3)
    net = Network([Dense(2, 5, activation="relu"), Dense(5, 3, activation="tanh"), Dense(3, 2, activation="softmax")],
                  loss="cce", backend="numpy", dtype="float64", seed=3)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=Adam(0.05), validation_split=0.25,
            early_stopping=EarlyStopping(patience=1, restore_best=True))
    net.metadata = {"classes": ["a", "b"], "note": "fuzz"}
    return net


def content(net: Network) -> str:
    """Everything a loaded model holds, as one comparable text (arrays by their bytes)."""
    opt, state = net.optimizer, net.training_state
    arrays = [*net.get_weights()]
    if opt is not None:
        arrays += [np.asarray(a) for name in sorted(opt.slots or {}) for a in opt.slots[name]]
    if state is not None and state.best_weights is not None:
        arrays += [np.asarray(a) for a in state.best_weights]
    facts = {
        "layers": [(la.n_in, la.n_out, la.activation.name, la.init.name) for la in net.layers],
        "loss": net.loss.name, "dtype": net.dtype, "seed": net.seed, "fuse": net.fuse_output,
        "metadata": net.metadata,
        "optimizer": None if opt is None else [opt.get_config(), opt.iterations, sorted(opt.slots or {})],
        "training": None if state is None else state.as_dict(),
        "arrays": [(a.dtype.str, a.shape, a.tobytes().hex()) for a in arrays],
    }
    return json.dumps(facts, sort_keys=True)


# ---------------------------------------------------------------------- the archive's parts
def regions(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Byte ranges of each kind of part of a stored .npz: zip local headers, .npy headers,
    array data, the metadata JSON, the central directory and its end record."""
    parts: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            parts["local header"].append((info.header_offset, start))
            header_len = 10 + int.from_bytes(data[start + 8 : start + 10], "little")
            parts["npy header"].append((start, start + header_len))
            kind = "metadata json" if info.filename == "metadata.npy" else "array data"
            parts[kind].append((start + header_len, start + info.compress_size))
    end = data.rindex(b"PK\x05\x06")
    directory = int.from_bytes(data[end + 16 : end + 20], "little")
    parts["central directory"].append((directory, end))
    parts["end record"].append((end, len(data)))
    return parts


def rezip(items: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the corruptions
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            for name, member in items:
                archive.writestr(name, member)
    return buffer.getvalue()


def members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


# ---------------------------------------------------------------------- the corruptions
def flip_anywhere(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def flip_in(kind: str) -> Callable[[random.Random, bytes], bytes]:
    def corrupt(rng: random.Random, data: bytes) -> bytes:
        start, stop = rng.choice(regions(data)[kind])
        out = bytearray(data)
        out[rng.randrange(start, stop)] ^= 1 << rng.randrange(8)
        return bytes(out)

    return corrupt


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def insert_or_append(rng: random.Random, data: bytes) -> bytes:
    junk = rng.randbytes(rng.randint(1, 64))
    at = len(data) if rng.random() < 0.3 else rng.randrange(len(data))
    return data[:at] + junk + data[at:]


def swap_members(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    i, j = rng.sample(range(len(items)), 2)
    (a, da), (b, db) = items[i], items[j]
    items[i], items[j] = (a, db), (b, da)
    return rezip(items)


def remove_member(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    del items[rng.randrange(len(items))]
    return rezip(items)


def duplicate_member(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    name = rng.choice(items)[0]
    member = rng.choice(items)[1]  # the same name, with its own or another member's bytes
    items.insert(rng.randrange(len(items) + 1), (name, member))
    return rezip(items)


def rename_member(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    k = rng.randrange(len(items))
    name = rng.choice([other for other, _ in items] + ["param.99.npy", "metadata", "x.npy", "param.0.NPY"])
    items[k] = (name, items[k][1])
    return rezip(items)


def edit_npy_header(rng: random.Random, data: bytes) -> bytes:
    items = members(data)
    k = rng.randrange(len(items))
    name, member = items[k]
    edits = [
        (b"'<f8'", rng.choice([b"'>f8'", b"'<f4'", b"'<i8'", b"'|O' ", b"'<c8'", b"'V8' "])),
        (b"'|u1'", rng.choice([b"'|i1'", b"'<u2'", b"'|O' "])),
        (b"False", b"True "),
        (b"(", rng.choice([b"(1, ", b"(0, ", b"(-1,", b"((", b"[", b"(99999999999, "])),
        (b"'shape'", b"'shapE'"),
    ]
    old, new = rng.choice([edit for edit in edits if edit[0] in member[:128]])
    header_end = member.index(b"\n") + 1
    header = member[:header_end].replace(old, new, 1)
    if len(header) != header_end:  # keep the header length field right: pad or cut spaces
        header = header.replace(b" \n", b"\n") if len(header) > header_end else header[:-1] + b" \n"
    items[k] = (name, header + member[header_end:])
    return rezip(items)


def edit_zip_fields(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    signature, fields = rng.choice([
        (b"PK\x01\x02", {"flags": 8, "method": 10, "crc": 16, "compressed": 20, "size": 24, "offset": 42}),
        (b"PK\x03\x04", {"flags": 6, "method": 8, "crc": 14, "compressed": 18, "size": 22}),
    ])
    starts = [i for i in range(len(out) - 4) if out[i : i + 4] == signature]
    start = rng.choice(starts)
    field, at = rng.choice(list(fields.items()))
    width = 2 if field in ("flags", "method") else 4
    value = {
        "flags": rng.choice([0x1, 0x41, 0x8, 0x800, 0xFFFF]),
        "method": rng.choice([8, 12, 14, 93, 99, 1, 0xFFFF]),
    }.get(field, rng.choice([0, 1, 0xFFFFFFFF, rng.randrange(2**32)]))
    out[start + at : start + at + width] = value.to_bytes(width, "little")
    return bytes(out)


KINDS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip anywhere": flip_anywhere,
    **{f"flip in {kind}": flip_in(kind) for kind in
       ("local header", "npy header", "array data", "metadata json", "central directory", "end record")},
    "truncate": truncate,
    "insert or append bytes": insert_or_append,
    "swap members": swap_members,
    "remove a member": remove_member,
    "duplicate a member": duplicate_member,
    "rename a member": rename_member,
    "edit an .npy header": edit_npy_header,
    "edit zip header fields": edit_zip_fields,
}


def outcome(path: Path, original: str, metadata: dict) -> str:
    """What the readers make of ``path``: 'refused', 'loaded the same', or a failure."""
    try:
        meta = read_metadata(path)
    except ModelFileError:
        pass
    except Exception as exc:  # noqa: BLE001 - any other exception is what the test looks for
        return f"read_metadata raised {type(exc).__name__}: {exc}"
    else:
        if meta != metadata:
            return "read_metadata returned different metadata"
    try:
        net = load(path)
    except ModelFileError as exc:
        return "refused" if str(path) in str(exc) else f"refused without naming the file: {exc}"
    except Exception as exc:  # noqa: BLE001
        return f"load raised {type(exc).__name__}: {exc}"
    return "loaded the same" if content(net) == original else "loaded a DIFFERENT model"


def test_corrupted_model_files_are_refused_or_load_the_very_same_model(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    trained().save(path)
    stored = path.read_bytes()
    deflated = rezip(members(stored), zipfile.ZIP_DEFLATED)
    original, metadata = content(load(path)), read_metadata(path)
    rng = random.Random(SEED)
    table: dict[str, collections.Counter[str]] = {}
    failures = []
    for kind, corrupt in KINDS.items():
        table[kind] = collections.Counter()
        for case in range(CASES_PER_KIND):
            base = deflated if kind in ("flip anywhere", "truncate") and case % 3 == 2 else stored
            damaged = corrupt(rng, base)
            target = tmp_path / f"case{case}.npz"
            target.write_bytes(damaged)
            result = outcome(target, original, metadata)
            table[kind][result if result in ("refused", "loaded the same") else "FAILED"] += 1
            if result not in ("refused", "loaded the same"):
                failures.append(f"{kind} #{case}: {result}")
    lines = [f"{kind:26} " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
             for kind, counts in table.items()]
    total = sum(sum(counts.values()) for counts in table.values())
    print(f"\n{total} corrupted model files:\n" + "\n".join(lines))
    assert total >= 200
    assert not failures, "\n".join(failures[:20])
    refused = sum(counts["refused"] for counts in table.values())
    assert refused > total // 2  # the corruptions are real: most must be caught
    for kind in ("truncate", "flip in array data", "flip in metadata json", "swap members", "remove a member"):
        assert table[kind]["refused"] > 0, kind
