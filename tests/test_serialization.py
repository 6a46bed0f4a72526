"""Model files and moving networks: save/load across backends, refused files, atomic writes,
checkpoints, resume from a checkpoint, and Network.to."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat

import numpy as np
import pytest

import ffnn.serialization as serialization
from backends import to_numpy
from ffnn import Dense, Network
from ffnn.optimizers import SGD, Adam, AdamW
from ffnn.schedules import CosineDecay
from ffnn.serialization import FORMAT, FORMAT_VERSION, USER_KEY, ModelFileError, load, read_metadata
from ffnn.training import Callback, Checkpoint, EarlyStopping
from tests.helpers import assert_allclose, assert_on_backend
from tests.test_training import circles

NEWER = FORMAT_VERSION + 1


def trained(backend="numpy", dtype="float64", epochs=2):
    X, y = circles(30)
    layers = [Dense(2, 5, activation="relu"), Dense(5, 3, activation="tanh"), Dense(3, 2, activation="softmax")]
    net = Network(layers, loss="cce", backend=backend, dtype=dtype, seed=2)
    net.fit(X, y, epochs=epochs, batch_size=8, optimizer=AdamW(CosineDecay(0.05, decay_steps=20)), validation_split=0.2)
    return net, X, y


def host_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def rewrite(path, **changes):
    """Rewrite the model file at ``path`` with entries replaced (None deletes) or metadata edited."""
    arrays = host_arrays(path)
    edit = changes.pop("meta", None)
    if edit is not None:
        meta = json.loads(arrays["metadata"].tobytes())
        edit(meta)
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    for key, value in changes.items():
        arrays.pop(key.replace("__", "."), None)
        if value is not None:
            arrays[key.replace("__", ".")] = value
    os.remove(path)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_on_one_backend_load_on_another_predicts_the_same(backend, tmp_path, dtype):
    for source, target in (("numpy", backend), (backend, "numpy")):
        net, X, _ = trained(source, dtype)
        path = tmp_path / f"{dtype}.npz"
        assert net.save(path, overwrite=True) == str(path)
        again = load(path, backend=target)
        assert again.backend.name == (target if isinstance(target, str) else target.name)
        assert again.dtype == dtype and again.task == net.task and again.loss.name == net.loss.name
        for got, want in zip(again.get_weights(), net.get_weights()):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        assert_allclose(again.predict(X), net.predict(X), dtype)
        np.testing.assert_array_equal(again.predict_classes(X), net.predict_classes(X))
        assert again.optimizer.get_config() == net.optimizer.get_config()
        assert again.optimizer.iterations == net.optimizer.iterations
        for name in ("m", "v"):
            for got, want in zip(again.optimizer.slots[name], net.optimizer.slots[name]):
                assert_on_backend(got, again.backend, tuple(want.shape), dtype)
                np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
        assert again.training_state.history.as_dict() == net.training_state.history.as_dict()


def test_file_is_an_npz_with_numeric_arrays_and_json_metadata(tmp_path):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    arrays = host_arrays(path)
    assert all(a.dtype != object for a in arrays.values())
    meta = json.loads(arrays.pop("metadata").tobytes())
    assert meta == read_metadata(path)
    assert (meta["format"], meta["format_version"]) == (FORMAT, FORMAT_VERSION)
    assert meta["dtype"] == "float64" and meta["architecture"]["loss"] == "categorical_crossentropy"
    assert [layer["activation"] for layer in meta["architecture"]["layers"]] == ["relu", "tanh", "softmax"]
    assert meta["optimizer"]["config"]["name"] == "adamw"
    assert meta["optimizer"]["config"]["learning_rate"]["name"] == "cosine"
    assert sorted(k for k in arrays if k.startswith("param.")) == [f"param.{k}" for k in range(6)]
    assert sum(k.startswith("optimizer.") for k in arrays) == 12


def test_include_optimizer_false_saves_the_model_alone(tmp_path):
    net, X, _ = trained()
    path = tmp_path / "bare.npz"
    net.save(path, include_optimizer=False)
    assert not any(k.startswith(("optimizer.", "training.")) for k in host_arrays(path))
    again = load(path)
    assert again.optimizer is None and again.training_state is None
    assert_allclose(again.predict(X), net.predict(X), "float64")


def test_network_to_moves_parameters_and_optimizer_state(backend):
    net, X, y = trained()
    expected = to_numpy(net.predict(X)).copy()
    reference, _, _ = trained()
    assert net.to(backend) is net
    assert net.backend == backend
    for p in net.parameters() + net.optimizer.slots["m"]:
        assert_on_backend(p, backend, tuple(p.shape), "float64")
    assert_allclose(net.predict(X), expected, "float64")
    options = dict(epochs=1, batch_size=8, optimizer=net.optimizer)
    net.fit(X, y, **options)
    reference.fit(X, y, **{**options, "optimizer": reference.optimizer})
    for got, want in zip(net.get_weights(), reference.get_weights()):
        assert_allclose(got, want, "float64")


def test_network_to_an_unknown_backend_leaves_the_network_where_it_was():
    net, X, _ = trained()
    before = to_numpy(net.predict(X)).copy()
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        net.to("tpu")
    assert net.backend.name == "numpy"
    np.testing.assert_array_equal(to_numpy(net.predict(X)), before)


# ---------------------------------------------------------------------- refused files
def test_truncated_or_empty_files_are_refused(tmp_path):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    data = path.read_bytes()
    for size in (len(data) // 2, len(data) - 30, 10, 0):
        cut = tmp_path / f"cut{size}.npz"
        cut.write_bytes(data[:size])
        with pytest.raises(ModelFileError, match=rf"{cut}: truncated or corrupt"):
            load(cut)


def test_a_corrupted_array_is_refused(tmp_path):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b"param.0.npy") + 200  # inside the stored array bytes
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="truncated or corrupt: array 'param.0' cannot be read"):
        load(path)


def test_pickles_are_refused_never_loaded(tmp_path):
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"W": [1.0, 2.0]}))
    with pytest.raises(ModelFileError, match=rf"{pickled}: not an ffnn model file: it holds pickled data"):
        load(pickled)
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    rewrite(path, param__0=np.array([{"payload": 1}, None], dtype=object))
    with pytest.raises(ModelFileError, match="array 'param.0' holds pickled Python objects"):
        load(path)


def test_foreign_files_are_refused(tmp_path):
    foreign = tmp_path / "data.npz"
    np.savez(foreign, X=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(ModelFileError, match=r"not an ffnn model file: it has no 'metadata' entry \(it holds X, y\)"):
        load(foreign)
    single = tmp_path / "array.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ModelFileError, match="it is a single .npy array"):
        load(single)
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    with pytest.raises(ModelFileError, match="notes.txt: not an ffnn model file"):
        load(text)
    other = tmp_path / "other.npz"
    np.savez(other, metadata=np.frombuffer(b'{"format": "someone-else"}', dtype=np.uint8))
    with pytest.raises(ModelFileError, match="not an ffnn model file \\(format 'someone-else'"):
        load(other)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"meta": lambda m: m.update(format_version=NEWER)}, rf"newer ffnn \(model format version {NEWER}"),
        ({"meta": lambda m: m.update(format_version="1")}, "invalid format_version '1'"),
        ({"metadata": np.frombuffer(b"{not json", dtype=np.uint8)}, "'metadata' entry is not valid JSON metadata"),
        ({"metadata": np.zeros(3)}, "'metadata' entry is not valid JSON metadata \\(expected UTF-8 bytes"),
        ({"param__3": None}, "array 'param.3' is missing"),
        ({"param__0": np.zeros((5, 3))}, r"array 'param.0' is float64\[5, 3\], the architecture needs float64\[5, 2\]"),
        ({"param__0": np.zeros((5, 2), dtype=np.float32)}, r"array 'param.0' is float32\[5, 2\]"),
        ({"optimizer__m__1": None}, "array 'optimizer.m.1' is missing"),
        (
            {"meta": lambda m: m["architecture"]["layers"][0].update(activation="mish")},
            r"does not describe a valid network \(unknown activation 'mish'",
        ),
        ({"meta": lambda m: m["architecture"].pop("loss")}, "does not describe a valid network"),
        (
            {"meta": lambda m: m["optimizer"]["config"].update(name="lion")},
            r"optimizer or training state is invalid \(unknown optimizer 'lion'",
        ),
        ({"meta": lambda m: m["training"].pop("epoch")}, "optimizer or training state is invalid"),
        ({"meta": lambda m: m.update(user=["a"])}, "the 'user' metadata must be a JSON object, got list"),
    ],
    ids=["newer", "version-type", "bad-json", "metadata-dtype", "missing", "shape", "dtype", "slot", "activation",
         "no-loss", "optimizer", "training", "user"],
)
def test_damaged_model_files_are_refused_with_the_file_and_problem(tmp_path, change, message):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    rewrite(path, **change)
    with pytest.raises(ModelFileError, match=message) as info:
        load(path)
    assert str(path) in str(info.value)


def test_loading_on_an_unknown_backend_is_a_backend_error(tmp_path):
    net, _, _ = trained()
    net.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        load(tmp_path / "m.npz", backend="tpu")


# ---------------------------------------------------------------------- user metadata
INFO = {
    "classes": ["cat", "dog"],
    "feature_names": ["x0", "x1"],
    "task": "binary",
    "run": {"epochs": 2, "lr": 0.05, "tuned": True, "notes": None, "tags": ["a", 1, 2.5]},
}


def test_metadata_is_saved_loaded_and_kept_by_the_next_save(tmp_path):
    net, _, _ = trained()
    assert net.metadata == {}
    net.metadata = json.loads(json.dumps(INFO))
    path = tmp_path / "model.npz"
    net.save(path)
    meta = read_metadata(path)
    assert meta[USER_KEY] == INFO and meta["format_version"] == FORMAT_VERSION == 1
    again = load(path)
    assert again.metadata == INFO
    again.save(tmp_path / "again.npz")  # loaded, then saved: the metadata stays
    assert load(tmp_path / "again.npz").metadata == INFO
    serialization.save(net, tmp_path / "given.npz", metadata={"shape": (2, 3)}, include_optimizer=False)
    assert load(tmp_path / "given.npz").metadata == {"shape": [2, 3]}  # as JSON stores it
    net.save(tmp_path / "empty.npz", metadata={})
    assert read_metadata(tmp_path / "empty.npz")[USER_KEY] == {} and load(tmp_path / "empty.npz").metadata == {}
    assert net.metadata == INFO


def test_metadata_is_per_network_and_must_be_a_dict():
    first, second = (Network([Dense(2, 1)], backend="numpy", seed=0) for _ in range(2))
    first.metadata["owner"] = "me"
    assert first.metadata == {"owner": "me"} and second.metadata == {}
    with pytest.raises(TypeError, match="metadata must be a dict, got list"):
        first.metadata = ["owner"]
    assert first.metadata == {"owner": "me"}


def test_checkpoints_keep_the_metadata(tmp_path):
    net, X, y = trained()
    net.metadata = {"experiment": "rings"}
    net.fit(X, y, epochs=1, batch_size=8, checkpoint=tmp_path / "ckpt.npz")
    assert load(tmp_path / "ckpt.npz").metadata == {"experiment": "rings"}


def test_files_without_user_metadata_load_with_an_empty_dict(tmp_path):
    """Files written before the "user" field existed (format version 1 as well)."""
    net, X, _ = trained()
    path = tmp_path / "old.npz"
    net.save(path, metadata={"dropped": True})
    rewrite(path, meta=lambda m: (m.pop(USER_KEY), m["training"].pop("previous_epochs")))
    assert USER_KEY not in json.loads(host_arrays(path)["metadata"].tobytes())
    assert read_metadata(path)[USER_KEY] == {}
    old = load(path)
    assert old.metadata == {} and old.training_state.previous_epochs == 0
    assert_allclose(old.predict(X), net.predict(X), "float64")


def circular():
    loop = {"a": []}
    loop["a"].append(loop)
    return loop


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (["classes"], r"metadata must be a dict \(a JSON object with string keys\), got list"),
        (
            {"n": np.int64(3)},
            r"metadata\['n'\] has type numpy.int64 \(np.int64\(3\)\), which JSON cannot store; .*tolist",
        ),
        ({"w": np.zeros(2)}, r"metadata\['w'\] has type numpy.ndarray"),
        ({"run": {1: "a"}}, r"metadata\['run'\] has the key 1 \(int\); JSON object keys must be strings"),
        ({"costs": [0.5, float("nan")]}, r"metadata\['costs'\]\[1\] is nan, which JSON cannot store"),
        ({"tags": {"a", "b"}}, r"metadata\['tags'\] has type set"),
        ({"ok": np.True_}, r"metadata\['ok'\] has type numpy.bool"),
        (circular(), r"metadata\['a'\]\[0\] contains itself"),
    ],
    ids=["list", "numpy-int", "array", "int-key", "nan", "set", "numpy-bool", "circular"],
)
def test_metadata_json_cannot_store_is_refused_before_anything_is_written(tmp_path, metadata, message):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=message):
        net.save(path, metadata=metadata)
    with pytest.raises(TypeError, match=message):
        serialization.save(net, tmp_path / "new.npz", metadata=metadata)
    if isinstance(metadata, dict):
        net.metadata = metadata
        with pytest.raises(TypeError, match=message):
            net.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


# ---------------------------------------------------------------------- atomic writes, overwriting
def test_a_crash_during_save_keeps_the_previous_file(tmp_path, monkeypatch):
    net, X, y = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()
    net.fit(X, y, epochs=1, optimizer=net.optimizer, batch_size=8)

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        net.save(path, overwrite=True)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]
    load(path)
    net.save(path, overwrite=True)
    assert path.read_bytes() != before and os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load(path).get_weights()[0], net.get_weights()[0])


def test_save_never_overwrites_something_that_is_not_a_model(tmp_path):
    net, _, _ = trained()
    notes = tmp_path / "notes.npz"
    notes.write_text("years of work")
    with pytest.raises(FileExistsError, match="refusing to overwrite .*notes.npz.*not an ffnn model file"):
        net.save(notes, overwrite=True)
    with pytest.raises(FileExistsError, match="refusing to overwrite .*notes.npz.*pass overwrite=True"):
        net.save(notes)
    assert notes.read_text() == "years of work"
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        net.save(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"missing.*m.npz': the folder .*missing' does not exist"):
        net.save(tmp_path / "missing" / "m.npz")


def test_saved_files_get_the_usual_permissions_or_keep_those_of_the_file_replaced(tmp_path):
    net, _, _ = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    net.save(path, overwrite=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and os.listdir(tmp_path) == ["model.npz"]


def test_a_saved_model_is_not_replaced_without_overwrite(tmp_path):
    net, X, y = trained()
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()
    net.fit(X, y, epochs=1, optimizer=net.optimizer, batch_size=8)
    with pytest.raises(FileExistsError, match=r"refusing to overwrite .*model.npz': pass overwrite=True to replace it"):
        net.save(path)
    assert path.read_bytes() == before
    net.save(path, overwrite=True)
    assert path.read_bytes() != before


# ---------------------------------------------------------------------- checkpoints and resume
def test_checkpoint_every_n_epochs_and_best_only(tmp_path):
    X, y = circles(30)
    net, _, _ = trained()
    net.fit(X, y, epochs=5, batch_size=8, checkpoint=Checkpoint(tmp_path / "every-{epoch}.npz", every=2))
    assert sorted(os.listdir(tmp_path)) == ["every-2.npz", "every-4.npz"]
    assert load(tmp_path / "every-4.npz").training_state.epoch == 4
    history = net.fit(X, y, epochs=6, batch_size=8, validation_data=(X, 1 - y),
                      checkpoint=Checkpoint(tmp_path / "best-{epoch}.npz", best_only=True))
    records = [e + 1 for e, v in enumerate(history.val_cost) if v < min(history.val_cost[:e], default=np.inf)]
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("best")) == sorted(f"best-{e}.npz" for e in records)
    net.fit(X, y, epochs=1, checkpoint=tmp_path / "plain.npz")
    assert read_metadata(tmp_path / "plain.npz")["training"]["history"]["stop_reason"] == "completed"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every": 0}, "every must be a positive integer"),
        ({"monitor": "loss"}, "monitor must be one of 'val_cost', 'train_cost'"),
    ],
)
def test_checkpoint_errors(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        Checkpoint(tmp_path / "c.npz", **options)


class Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, logs):
        if logs["epoch"] == self.epoch:
            raise Crash


SCENARIOS = {
    "adam-cosine": dict(epochs=5, optimizer="adam", validation_split=0.2),
    "early-stopping": dict(epochs=12, optimizer="sgd", early_stopping=EarlyStopping(patience=3, min_delta=1e-3)),
}


def test_resuming_a_later_fit_continues_its_shuffles(tmp_path):
    """A checkpoint of a network's second fit holds the epochs of its first (previous_epochs),
    so resuming it draws the same permutations as the uninterrupted fit."""
    X, y = circles(30)
    options = {"epochs": 4, "batch_size": 8, "optimizer": "adam"}

    def after_a_first_fit():
        layers = [Dense(2, 6, activation="tanh"), Dense(6, 2, activation="softmax")]
        net = Network(layers, loss="cce", backend="numpy", dtype="float64", seed=8)
        net.fit(X, y, epochs=3, batch_size=8, optimizer="sgd")
        return net

    reference = after_a_first_fit()
    expected = reference.fit(X, y, **options)
    path = tmp_path / "run.npz"
    with pytest.raises(Crash):
        after_a_first_fit().fit(X, y, **options, checkpoint=path, callbacks=[CrashAt(3)])
    resumed = load(path)
    assert (resumed.training_state.previous_epochs, resumed.training_state.epoch) == (3, 2)
    assert resumed.fit(X, y, **options, resume=True).as_dict() == expected.as_dict()
    assert resumed.training_state.epochs_trained == reference.training_state.epochs_trained == 7
    for got, want in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(backend, tmp_path, scenario):
    """float64: bit-identical weights and history on the same backend (optimizer state,
    step count, schedule, shuffling and early-stopping state all continue)."""
    X, y = circles(30)
    options = dict(SCENARIOS[scenario], batch_size=8)
    if "early_stopping" in options:
        options["validation_data"] = (X, 1 - y)  # the validation cost rises: stops early

    def fresh():
        layers = [Dense(2, 6, activation="tanh"), Dense(6, 2, activation="softmax")]
        return Network(layers, loss="cce", backend=backend, dtype="float64", seed=8)

    def optimizer():
        return Adam(CosineDecay(0.05, decay_steps=12)) if options["optimizer"] == "adam" else SGD(0.3, momentum=0.9)

    reference = fresh()
    expected = reference.fit(X, y, **{**options, "optimizer": optimizer()}, checkpoint=tmp_path / "ref.npz")
    path = tmp_path / "run.npz"
    with pytest.raises(Crash):
        fresh().fit(X, y, **{**options, "optimizer": optimizer()}, checkpoint=path, callbacks=[CrashAt(3)])
    shutil.copy(path, tmp_path / "crash.npz")
    resumed = load(path, backend=backend)
    assert resumed.training_state.epoch == 2
    history = resumed.fit(X, y, **{**options, "optimizer": resumed.optimizer.name}, checkpoint=path, resume=True)
    assert history.as_dict() == expected.as_dict()
    for got, want in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    if scenario == "early-stopping":
        assert history.stop_reason == "early_stopping" and history.epochs < 12
    elsewhere = load(tmp_path / "crash.npz", backend="numpy")  # resuming on another backend: equal within rounding
    other = elsewhere.fit(X, y, **{**options, "optimizer": elsewhere.optimizer.name}, resume=True)
    assert other.stop_reason == expected.stop_reason and other.epochs == expected.epochs
    np.testing.assert_allclose(other.train_cost + other.val_cost, expected.train_cost + expected.val_cost, rtol=1e-10)
