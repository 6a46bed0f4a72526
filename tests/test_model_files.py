"""Model files that cannot crash or exhaust the reader, and saves that survive kill -9 and
concurrent writers: every file gets the model or a ModelFileError naming the file and the
problem."""

from __future__ import annotations

import errno
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ffnn import Dense, Network, serialization
from ffnn._files import remove_stale_temporaries, temporaries
from ffnn._schema import MAX_DEPTH, USER_DEPTH, checksum
from ffnn.optimizers import Adam
from ffnn.serialization import ModelFileError, load, read_metadata
from ffnn.training import EarlyStopping
from tests.test_training import circles

try:
    import fcntl
except ImportError:
    fcntl = None


def full_model(seed: int = 0) -> Network:
    """A trained network with every part a file can hold: Adam state, training state, best weights."""
    X, y = circles(40, seed=seed)
    net = Network([Dense(2, 6, activation="tanh"), Dense(6, 2, activation="softmax")], loss="cce",
                  backend="numpy", dtype="float64", seed=seed)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=Adam(0.02), validation_split=0.25,
            early_stopping=EarlyStopping(patience=5))
    net.metadata = {"classes": ["in", "out"], "run": {"seed": seed}}
    return net


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    full_model().save(path)
    return path.read_bytes()


@pytest.fixture
def model(saved: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    path.write_bytes(saved)
    return path


# ---------------------------------------------------------------------- archive surgery
def members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_members(path: Path, items: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests write
        with zipfile.ZipFile(path, "w", compression=method) as archive:
            for name, data in items:
                archive.writestr(name, data)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_header(header: dict, data: bytes = b"") -> bytes:
    text = repr(header).encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def meta_of(path: Path) -> dict:
    raw = np.load(io.BytesIO(dict(members(path))["metadata.npy"]), allow_pickle=False)
    return json.loads(raw.tobytes())


def put_meta_text(path: Path, text: str) -> None:
    """Replace the metadata member by ``text`` (raw JSON, possibly invalid), keeping the rest."""
    items = [(n, npy(np.frombuffer(text.encode(), dtype=np.uint8)) if n == "metadata.npy" else d)
             for n, d in members(path)]
    write_members(path, items)


def edit_meta(path: Path, edit) -> None:
    meta = meta_of(path)
    edit(meta)
    put_meta_text(path, json.dumps(meta))


def put_array(path: Path, key: str, array: np.ndarray, *, resign: bool = True) -> None:
    """Replace one array; with ``resign`` its checksum in the metadata is updated as well
    (a consistent file whose content is wrong, not damage)."""
    items = [(n, npy(array) if n == f"{key}.npy" else d) for n, d in members(path)]
    write_members(path, items)
    if resign:
        edit_meta(path, lambda m: m["checksums"].update({key: checksum(array)}))


def patch_zip_entries(path: Path, name: str, *, flags: int | None = None, method: int | None = None) -> None:
    """Set the general-purpose flags or compression method of member ``name`` in both
    its local header and its central-directory entry."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, flag_at, method_at, name_at in ((b"PK\x03\x04", 6, 8, 30), (b"PK\x01\x02", 8, 10, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at : start + name_at + len(encoded)] == encoded:
                if flags is not None:
                    data[start + flag_at : start + flag_at + 2] = flags.to_bytes(2, "little")
                if method is not None:
                    data[start + method_at : start + method_at + 2] = method.to_bytes(2, "little")
            start += 4
    path.write_bytes(bytes(data))


def refused(path: Path, message: str, *, metadata_too: bool = True) -> ModelFileError:
    """Both readers refuse ``path`` with ModelFileError naming it and matching ``message``."""
    readers = (load, read_metadata) if metadata_too else (load,)
    for reader in readers:
        with pytest.raises(ModelFileError, match=message) as info:
            reader(path)
        assert str(path) in str(info.value)
    return info.value


# ---------------------------------------------------------------------- the metadata
def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH, 5000, 200_000])
def test_deeply_nested_metadata_is_refused_not_a_recursion_error(model: Path, depth: int) -> None:
    meta = json.dumps(meta_of(model))
    put_meta_text(model, meta[:-1] + f', "deep": {nested(depth)}}}')
    refused(model, f"'metadata' entry is not valid JSON metadata \\(it is nested more than {MAX_DEPTH} levels")


def test_user_metadata_nesting_is_bounded_the_same_way_on_save_and_load(tmp_path: Path) -> None:
    net = full_model()
    deepest = json.loads(nested(USER_DEPTH - 1))  # a list USER_DEPTH - 1 deep inside the user dict
    net.save(tmp_path / "ok.npz", metadata={"a": deepest})
    assert load(tmp_path / "ok.npz").metadata == {"a": deepest}
    with pytest.raises(ValueError, match=rf"metadata\['a'\].* is nested more than {USER_DEPTH} levels deep"):
        net.save(tmp_path / "deep.npz", metadata={"a": [deepest]})
    assert not (tmp_path / "deep.npz").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iterations", "Infinity", "Infinity is not a valid value"),
        ("iterations", "NaN", "NaN is not a valid value"),
        ("iterations", "1e999", "beyond the float range"),
        ("epoch", "-1", r"metadata.training.epoch must be an integer in \[0, "),
        ("iterations", "-5", r"metadata.optimizer.iterations must be an integer in \[0, "),
        ("epoch", "9" * 40, r"metadata.training.epoch must be an integer in \[0, "),
        ("epoch", "9" * 5000, "Exceeds the limit"),
        ("n_in", "10000000000000", r"array 'param.0' is float64\[6, 2\], the architecture needs float64\[6, 1"),
        ("n_in", "0", r"metadata.architecture.layers\[0\].n_in must be an integer in \[1, "),
        ("n_out", "1e300", r"layers\[0\].n_out must be an integer"),
        ("beta1", "9" * 400, r"metadata.optimizer.config.beta1 must be a finite number"),
        ("dtype", '"int64"', "metadata.dtype must be one of float32, float64"),
        ("shuffle_seed", "-3", "metadata.training.shuffle_seed must be an integer"),
        ("patience", '"5"', "early_stopping.patience must be an integer"),
    ],
    ids=["infinity", "nan", "overflow", "negative-epoch", "negative-iterations", "huge-epoch", "digits",
         "huge-n_in", "zero-n_in", "float-size", "huge-beta", "dtype", "seed", "patience"],
)
def test_bad_numbers_in_the_metadata_are_refused(model: Path, field: str, value: str, message: str) -> None:
    text = json.dumps(meta_of(model))
    edited, count = re.subn(rf'"{field}": [^,}}]+', f'"{field}": {value}', text, count=1)
    assert count == 1
    put_meta_text(model, edited)
    tracemalloc.start()
    try:
        refused(model, message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20  # nothing the size of a declared array was allocated


def leaves(value, path=()):
    """(path, value) of every field of a JSON object, containers included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from leaves(item, (*path, k))


def wrong_types(value):
    """Values of a JSON type that ``value``'s field never holds (null excluded: some fields allow it)."""
    if isinstance(value, bool):
        return ["true", 1]
    if isinstance(value, int):
        return ["3", 2.5, True, [3]]
    if isinstance(value, float):
        return ["0.5", True, {"v": 1}]
    if isinstance(value, str):
        return [1, ["x"], True]
    return ["x", 1]


def test_every_metadata_field_of_a_wrong_type_is_refused_naming_the_field(model: Path) -> None:
    original = meta_of(model)
    cases = 0
    for path, value in leaves(original):
        if not path or path[0] in ("user", "format"):
            continue  # "user" holds any JSON; "format" is checked first (not an ffnn file)
        for bad in wrong_types(value):
            meta = json.loads(json.dumps(original))
            parent = meta
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = bad
            put_meta_text(model, json.dumps(meta))
            field = ".".join(str(k) for k in path if not isinstance(k, int))
            message = refused(model, "metadata|format_version")
            assert field.split(".")[-1] in str(message) or "format_version" in str(message), (path, bad, message)
            cases += 1
    assert cases > 150


def test_every_required_metadata_field_is_required(model: Path) -> None:
    original = meta_of(model)
    optional = {("ffnn_version",), ("saved_from",), ("user",), ("checksums",), ("training", "best"),
                ("training", "best_epoch"), ("training", "wait"), ("training", "previous_epochs")}
    for path, _ in leaves(original):
        if not path or isinstance(path[-1], int) or path in optional or path[0] == "user":
            continue
        if path[:2] in (("training", "history"), ("training", "settings")) and len(path) > 2:
            continue  # read with defaults
        if path[0] == "saved_from" or (path[:2] == ("optimizer", "config") and path[-1] not in ("name", "learning_rate")):
            continue  # hyperparameters default as in the optimizer's constructor
        meta = json.loads(json.dumps(original))
        parent = meta
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        put_meta_text(model, json.dumps(meta))
        with pytest.raises(ModelFileError, match=str(path[-1])):
            load(model)


def test_a_model_without_checksums_or_user_metadata_still_loads(model: Path) -> None:
    """Files written before checksums existed (format version 1 as well)."""
    edit_meta(model, lambda m: (m.pop("checksums"), m.pop("user")))
    net = load(model)
    want = full_model()
    for got, expected in zip(net.get_weights(), want.get_weights()):
        np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------- the members
def test_a_member_that_is_not_an_npy_array_is_refused(model: Path) -> None:
    write_members(model, [*members(model), ("notes.txt", b"hello")])
    refused(model, r"member 'notes.txt' is not an .npy array")
    write_members(model, [(n, b"not an array at all" if n == "param.1.npy" else d) for n, d in members(model)
                          if n != "notes.txt"])
    refused(model, r"array 'param.1' has an invalid header")
    write_members(model, [(n, b"" if n == "param.1.npy" else d) for n, d in members(model)])
    refused(model, r"array 'param.1' has an invalid header")


def test_a_directory_member_is_refused(model: Path) -> None:
    write_members(model, [*members(model), ("dir/", b"")])
    refused(model, r"member 'dir/' is not an .npy array")


@pytest.mark.parametrize("shape", [(400_000, 400_000), (6, 2**40), (2**62, 2**62)])
def test_a_header_claiming_more_than_its_member_holds_allocates_nothing(model: Path, shape: tuple) -> None:
    header = npy_header({"descr": "<f8", "fortran_order": False, "shape": shape}, b"\0" * 96)
    write_members(model, [(n, header if n == "param.0.npy" else d) for n, d in members(model)])
    assert model.stat().st_size < 10_000
    tracemalloc.start()
    try:
        refused(model, r"array 'param.0' declares float64\[.*but its member holds 96 bytes of data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_a_deflated_member_is_read_only_as_far_as_it_really_inflates(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    small(0).save(path, include_optimizer=False)
    n_in = 10**6  # W^[1] becomes (40, 10**6): 320 MB declared, by a file of 400 kB
    header = npy_header({"descr": "<f8", "fortran_order": False, "shape": (40, n_in)})
    filler = random.Random(0).randbytes(400_000)  # incompressible: the ratio stays under deflate's limit
    edit_meta(path, lambda m: m["architecture"]["layers"][0].update(n_in=n_in))
    items = [(n, header + filler if n == "param.0.npy" else d) for n, d in members(path)]
    write_members(path, items, method=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46 : entry + 57] != b"param.0.npy":  # the central-directory entry of param.0
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = (len(header) + 40 * n_in * 8).to_bytes(4, "little")  # the uncompressed size
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        refused(path, r"array 'param.0' cannot be read \(the member ends after 400000 of 320000000", metadata_too=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_a_zip_directory_claiming_more_than_the_file_holds_is_refused(model: Path) -> None:
    data = bytearray(model.read_bytes())
    entry = data.find(b"PK\x01\x02")  # the first central-directory entry: sizes at +20 (compressed), +24
    data[entry + 20 : entry + 28] = (2**31).to_bytes(4, "little") * 2
    model.write_bytes(bytes(data))
    refused(model, "which a [0-9]+-byte file cannot hold")


@pytest.mark.parametrize("flags", [0x1, 0x41])
def test_encrypted_members_are_refused(model: Path, flags: int) -> None:
    patch_zip_entries(model, "param.2.npy", flags=flags)
    refused(model, "member 'param.2.npy' is encrypted")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 99, 1])
def test_members_with_another_compression_method_are_refused(model: Path, method: int) -> None:
    patch_zip_entries(model, "metadata.npy", method=method)
    refused(model, rf"member 'metadata.npy' uses zip compression method {method}; ffnn reads stored or deflated")


def test_a_member_needing_a_newer_zip_version_is_refused(model: Path) -> None:
    data = bytearray(model.read_bytes())
    entry = data.find(b"PK\x01\x02")  # "version needed to extract" at +6 (a flipped byte found by the fuzz)
    data[entry + 6 : entry + 8] = (177).to_bytes(2, "little")
    model.write_bytes(bytes(data))
    refused(model, "zip file version 17.7")


def test_a_deflated_model_loads_the_same(model: Path) -> None:
    write_members(model, members(model), method=zipfile.ZIP_DEFLATED)
    for got, want in zip(load(model).get_weights(), full_model().get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_member_given_twice_is_refused(model: Path) -> None:
    items = members(model)
    write_members(model, [*items, items[1]])
    refused(model, f"member '{items[1][0]}' appears twice")


def test_missing_and_unexpected_arrays_are_refused(model: Path, saved: bytes) -> None:
    write_members(model, [(n, d) for n, d in members(model) if n != "training.best.2.npy"])
    refused(model, "array 'training.best.2' is missing")
    model.write_bytes(saved)
    write_members(model, [*members(model), ("param.4.npy", npy(np.zeros(3)))])
    refused(model, "unexpected array 'param.4'")


def test_object_arrays_are_refused_never_unpickled(model: Path) -> None:
    header = npy_header({"descr": "|O", "fortran_order": False, "shape": (6, 2)}, b"\x80\x04N." * 3)
    write_members(model, [(n, header if n == "param.0.npy" else d) for n, d in members(model)])
    refused(model, "array 'param.0' holds pickled Python objects")


@pytest.mark.parametrize(
    ("key", "value"),
    [("param.1", np.array([[np.nan]] * 6)), ("param.2", np.full((2, 6), np.inf)),
     ("optimizer.v.0", np.full((6, 2), -np.inf)), ("training.best.3", np.array([[np.nan], [0.0]]))],
)
def test_nan_or_infinite_arrays_are_refused_even_with_matching_checksums(model: Path, key: str, value) -> None:
    put_array(model, key, value)
    refused(model, f"array '{key}' holds NaN or infinite values", metadata_too=False)


def test_swapped_or_reinterpreted_arrays_fail_their_checksum(model: Path, saved: bytes) -> None:
    items = dict(members(model))
    items["optimizer.m.0.npy"], items["optimizer.v.0.npy"] = items["optimizer.v.0.npy"], items["optimizer.m.0.npy"]
    write_members(model, list(items.items()))
    refused(model, "array 'optimizer.m.0' does not match its checksum", metadata_too=False)
    model.write_bytes(saved)
    items = dict(members(model))  # the same bytes read as Fortran order: a (6, 2) array of other values
    items["param.0.npy"] = items["param.0.npy"].replace(b"'fortran_order': False", b"'fortran_order': True ")
    write_members(model, list(items.items()))
    refused(model, "array 'param.0' does not match its checksum", metadata_too=False)


def test_arrays_in_another_layout_or_byte_order_load_with_the_same_values(model: Path) -> None:
    want = full_model().get_weights()
    items = dict(members(model))
    items["param.0.npy"] = npy(np.asfortranarray(want[0]))
    items["param.2.npy"] = npy(want[2].astype(">f8"))
    write_members(model, list(items.items()))
    for got, expected in zip(load(model).get_weights(), want):
        np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------- the path itself
def test_paths_that_are_not_regular_files_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, "it is a directory, not a model file")
    loop = tmp_path / "loop.npz"
    os.symlink(tmp_path / "other.npz", loop)
    os.symlink(loop, tmp_path / "other.npz")
    refused(loop, "it is a loop of symbolic links")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.npz"
        os.mkfifo(fifo)
        refused(fifo, "not a regular file")  # and does not wait for a writer
    if os.path.exists("/dev/zero"):
        with pytest.raises(ModelFileError, match="/dev/zero: it is not a regular file"):
            load("/dev/zero")
    os.symlink(tmp_path / "missing.npz", tmp_path / "dangling.npz")
    for path in (tmp_path / "missing.npz", tmp_path / "dangling.npz"):
        with pytest.raises(FileNotFoundError):
            load(path)


# ---------------------------------------------------------------------- saving
def small(seed: int, width: int = 40) -> Network:
    return Network([Dense(20, width, activation="tanh"), Dense(width, 3, activation="softmax")], loss="cce",
                   backend="numpy", dtype="float64", seed=seed)


def same_weights(a: Network, b: Network) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_saving_refuses_non_finite_values_so_every_file_saved_loads(tmp_path: Path) -> None:
    net = small(0)
    weights = net.get_weights()
    weights[3][1, 0] = np.nan
    net.set_weights(weights)
    with pytest.raises(ValueError, match=r"cannot save: b\^\[2\] \(param.3\) holds NaN or infinite values"):
        net.save(tmp_path / "nan.npz")
    trained = full_model()
    trained.optimizer.slots["v"][0][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"cannot save: optimizer.v.0 \(of W\^\[1\]\) holds NaN or infinite"):
        trained.save(tmp_path / "inf.npz")
    trained.save(tmp_path / "bare.npz", include_optimizer=False)  # the parameters alone are finite
    assert os.listdir(tmp_path) == ["bare.npz"]


def leftover(path: Path) -> Path:
    """A temporary file as a save killed while writing ``path`` leaves it."""
    stale = path.parent / f".{path.name}.k1ll_9ed.tmp"
    stale.write_bytes(b"PK\x03\x04 half an archive")
    return stale


@pytest.mark.skipif(fcntl is None, reason="leftovers are found through file locks (fcntl), missing here")
def test_the_next_save_removes_leftovers_but_not_files_in_use(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    stale = leftover(path)
    other = tmp_path / ".model.npz.notes.tmp"  # not a name a save gives its temporary files
    other.write_text("mine")
    busy = path.parent / f".{path.name}.w0rking_.tmp"
    busy.write_bytes(b"")
    with open(busy, "rb") as holder:  # a live writer holds its temporary file locked
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert sorted(temporaries(path)) == sorted([str(stale), str(busy)])
        small(0).save(path)
        assert not stale.exists() and busy.exists() and other.exists()
    assert remove_stale_temporaries(path) == [str(busy)]
    leftover(path)
    small(1).save(path, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == [".model.npz.notes.tmp", "model.npz"]


def test_a_refused_temporary_file_is_reported_with_the_target_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the operating system's refusal, simulated where it is raised, so that the test runs as any user
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".model.npz.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    target = tmp_path / "model.npz"
    with pytest.raises(PermissionError) as info:
        small(0).save(target)
    message = str(info.value)
    assert f"cannot write '{target}' (in the folder '{tmp_path}')" in message
    assert "ermission denied" in message and ".tmp" not in message
    assert info.value.errno == errno.EACCES
    assert os.listdir(tmp_path) == []


def test_a_save_into_a_folder_it_cannot_write_names_the_target_and_folder(tmp_path: Path) -> None:
    root = os.geteuid() == 0  # root writes anywhere: then save as an unprivileged user, in a subprocess
    if root and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop privileges")
    base = Path(tempfile.mkdtemp()) if root else tmp_path  # pytest's folders are private to root
    folder = base / "locked"
    folder.mkdir()
    base.chmod(0o755)
    folder.chmod(0o555)
    target = folder / "model.npz"
    try:
        if root:
            message = unprivileged_save(target)
        else:
            with pytest.raises(PermissionError) as info:
                small(0).save(target)
            message = str(info.value)
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)
        if root:
            shutil.rmtree(base)
    assert f"cannot write '{target}' (in the folder '{folder}')" in message
    assert "ermission denied" in message and ".tmp" not in message


def _as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(serialization.__file__).parents[1]
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code, *args],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120, check=False,
    )


def unprivileged_save(target: Path) -> str:
    # first make sure the unprivileged user can run this Python with ffnn at all (the checkout or the
    # environment may sit in a folder only root can read); if not, this variant cannot run here
    probe = _as_nobody("import ffnn, numpy")
    if probe.returncode != 0:
        pytest.skip(f"the unprivileged user cannot import ffnn here: {probe.stderr.strip()[-200:]}")
    code = (
        "import sys\nfrom ffnn import Dense, Network\n"
        "net = Network([Dense(2, 1)], backend='numpy', seed=0)\n"
        "try:\n    net.save(sys.argv[1])\nexcept PermissionError as exc:\n    print(exc)\n"
    )
    result = _as_nobody(code, str(target))
    assert result.returncode == 0, result.stderr
    return result.stdout


# -------------------------------------------------- real processes: kill -9 and concurrent saves
def _forkserver() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no forkserver start method on this platform")
    context = multiprocessing.get_context("forkserver")
    # workers fork from a server that has already imported what a save needs
    context.set_forkserver_preload(["ffnn", "array_api_compat.numpy", "numpy.random", "numpy.testing", __name__])
    return context


def _save_forever(path: str, ready) -> None:
    nets = [small(1, 200), small(2, 200)]
    nets[0].save(path, overwrite=True)
    ready.set()
    k = 0
    while True:
        nets[k % 2].save(path, overwrite=True)
        k += 1


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
def test_kill_9_during_saves_keeps_a_loadable_file_and_the_next_save_cleans_up(tmp_path: Path) -> None:
    context = _forkserver()
    path = tmp_path / "model.npz"
    nets = [small(1, 200), small(2, 200)]
    rng = random.Random(9)
    # At least 30 kills; on a loaded machine the worker can be off the CPU for the whole
    # random delay, so more are made (up to 200) until one lands inside a save.
    trials, left = 0, 0
    while trials < 30 or (left == 0 and trials < 200):
        trials += 1
        ready = context.Event()
        worker = context.Process(target=_save_forever, args=(str(path), ready), daemon=True)
        worker.start()
        assert ready.wait(60)
        time.sleep(rng.uniform(0.0, 0.05))
        worker.kill()  # SIGKILL: no cleanup runs in the worker
        worker.join(30)
        assert worker.exitcode == -9
        on_disk = load(path)
        assert same_weights(on_disk, nets[0]) or same_weights(on_disk, nets[1])
        left += bool(temporaries(path))
        nets[0].save(path, overwrite=True)
        assert os.listdir(tmp_path) == ["model.npz"]
    print(f"\n{trials} saves killed with SIGKILL: {left} left a temporary file, all removed by the next save")
    assert left > 0, "no kill landed inside a save: the test exercised nothing"


def _save_new(path: str, seed: int, barrier) -> None:
    net = small(seed)
    if barrier is not None:  # both processes have checked the path and written their files: now race
        write = serialization.np.savez

        def write_then_wait(handle, **arrays):
            write(handle, **arrays)
            barrier.wait(30)

        serialization.np.savez = write_then_wait
    try:
        net.save(path)
    except FileExistsError as exc:
        sys.exit(3 if "refusing to overwrite" in str(exc) else 4)
    sys.exit(0)


@pytest.mark.parametrize("synchronised", [True, False], ids=["both-past-the-check", "free-race"])
def test_two_processes_saving_to_the_same_new_path_exactly_one_wins(tmp_path: Path, synchronised: bool) -> None:
    context = _forkserver()
    for trial in range(8):
        path = tmp_path / f"model{trial}.npz"
        barrier = context.Barrier(2) if synchronised else None
        workers = [context.Process(target=_save_new, args=(str(path), seed, barrier)) for seed in (1, 2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        codes = [worker.exitcode for worker in workers]
        assert sorted(codes) == [0, 3], codes
        winner = (1, 2)[codes.index(0)]
        assert same_weights(load(path), small(winner))
    assert sorted(os.listdir(tmp_path)) == sorted(f"model{k}.npz" for k in range(8))


def test_overwrite_false_creates_the_file_exclusively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that appears after the first check is kept, and the save says so."""
    path = tmp_path / "model.npz"
    write = serialization.np.savez

    def someone_else_saves_meanwhile(handle, **arrays):
        write(handle, **arrays)
        if not path.exists():
            path.write_bytes(b"theirs")

    monkeypatch.setattr(serialization.np, "savez", someone_else_saves_meanwhile)
    with pytest.raises(FileExistsError, match=re.escape(f"refusing to overwrite '{path}': the file was created")):
        small(0).save(path)
    assert path.read_bytes() == b"theirs" and os.listdir(tmp_path) == ["model.npz"]
