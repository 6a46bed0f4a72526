"""fit(distributed=...) in one process, and inputs read by rows (memory maps, .npy paths):
the same results as the in-memory fit, on every backend of the matrix."""

from __future__ import annotations

import numpy as np
import pytest

from ffnn import SGD, Adam, Dense, Network
from ffnn.distributed import SingleProcess


def build(backend, dtype="float64", loss="categorical_crossentropy"):
    out = 3 if loss == "categorical_crossentropy" else 1
    act = "softmax" if loss == "categorical_crossentropy" else "linear"
    layers = [Dense(5, 8, activation="tanh"), Dense(8, out, activation=act)]
    return Network(layers, loss=loss, backend=backend, dtype=dtype, seed=11)


def problem(m=41):
    rng = np.random.default_rng(5)
    return rng.standard_normal((m, 5)), rng.integers(0, 3, m)


def host(net):
    return [np.asarray(net.backend.to_numpy(p), dtype=np.float64) for p in net.parameters()]


def assert_same(a, b, ha, hb, rtol):
    for p, q in zip(host(a), host(b)):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol * np.max(np.abs(q)))
    for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy"):
        np.testing.assert_allclose(getattr(ha, key), getattr(hb, key), rtol=rtol)
    assert (ha.epochs, ha.stop_reason) == (hb.epochs, hb.stop_reason)


@pytest.mark.parametrize("kind", ["path", "memmap", "distributed"])
def test_rows_and_one_rank_fits_equal_the_in_memory_fit(backend, tmp_path, kind):
    X, labels = problem()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", labels)
    options = dict(epochs=3, batch_size=8, optimizer=SGD(0.1, momentum=0.9), l2=0.05, validation_split=0.25)
    ref_net = build(backend)
    ref = ref_net.fit(X, labels, **options)
    net = build(backend)
    options["optimizer"] = SGD(0.1, momentum=0.9)
    if kind == "path":
        hist = net.fit(str(tmp_path / "x.npy"), tmp_path / "y.npy", **options)
    elif kind == "memmap":
        hist = net.fit(np.load(tmp_path / "x.npy", mmap_mode="r"), labels, **options)
    else:
        hist = net.fit(X, labels, distributed=True, **options)
    assert_same(net, ref_net, hist, ref, 1e-12)


def test_sample_weights_and_in_memory_validation_with_rows(tmp_path):
    X, labels = problem()
    np.save(tmp_path / "x.npy", X)
    weights = np.random.default_rng(0).uniform(0.1, 2.0, X.shape[0])
    val = (X[:9] * 0.5, labels[:9])
    ref_net, net = build("numpy", "float64", "mse"), build("numpy", "float64", "mse")
    y = labels.astype(float)
    ref = ref_net.fit(X, y, epochs=4, batch_size=6, optimizer=Adam(0.01), sample_weight=weights, validation_data=val)
    hist = net.fit(
        tmp_path / "x.npy", y, epochs=4, batch_size=6, optimizer=Adam(0.01), sample_weight=weights, validation_data=val
    )
    assert_same(net, ref_net, hist, ref, 1e-12)


def test_evaluate_and_predict_read_paths_and_memory_maps_in_chunks(backend, tmp_path):
    X, labels = problem(57)
    np.save(tmp_path / "x.npy", X)
    net = build(backend)
    net.fit(X, labels, epochs=1, batch_size=57)
    scores = net.evaluate(X, labels)
    assert net.evaluate(tmp_path / "x.npy", labels, batch_size=10) == pytest.approx(scores, rel=1e-12)
    expected = net.backend.to_numpy(net.predict(X))
    got = net.backend.to_numpy(net.predict(np.load(tmp_path / "x.npy", mmap_mode="r"), batch_size=10))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_array_equal(net.predict_classes(str(tmp_path / "x.npy")), net.predict_classes(X))


def test_bad_distributed_options_are_refused_with_the_way_out(tmp_path):
    X, labels = problem()
    net = build("numpy")
    with pytest.raises(TypeError, match="distributed must be None, True, 'auto'"):
        net.fit(X, labels, distributed=2)
    with pytest.raises(ValueError, match="transport must be one of"):
        net.fit(X, labels, distributed="gloo")
    with pytest.raises(ValueError, match="reduce_gradients cannot be combined"):
        net.fit(X, labels, distributed="auto", reduce_gradients=lambda g: g)
    with pytest.raises(FileNotFoundError, match=r"no \.npy file"):
        net.fit(tmp_path / "missing.npy", labels)
    np.save(tmp_path / "x.npy", X[:, :4])
    with pytest.raises(ValueError, match=r"expects \(m, 5\)"):
        net.fit(tmp_path / "x.npy", labels)
    torch_backend = pytest.importorskip("torch") and __import__("backends").get_backend("torch", "cpu")
    with pytest.raises(ValueError, match="communicator serves the torch backend"):
        net.fit(X, labels, distributed=SingleProcess(torch_backend))


def test_a_one_rank_distributed_fit_checkpoints_and_resumes(tmp_path):
    import ffnn

    X, labels = problem()
    options = dict(epochs=6, batch_size=8, validation_split=0.2)
    ref_net = build("numpy")
    ref = ref_net.fit(X, labels, optimizer=Adam(0.01), **options)
    first = build("numpy")

    def crash(logs):
        if logs["epoch"] == 4:  # before epoch 4 is saved: the file holds epoch 3
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        first.fit(
            X,
            labels,
            optimizer=Adam(0.01),
            checkpoint=tmp_path / "c.ffnn",
            distributed=True,
            callbacks=[crash],
            **options,
        )
    net = ffnn.load(tmp_path / "c.ffnn")
    assert net.training_state.epoch == 3
    hist = net.fit(X, labels, optimizer=Adam(0.01), resume=True, distributed=True, **options)
    assert_same(net, ref_net, hist, ref, 1e-12)


def test_info_lists_the_transports(capsys):
    from ffnn.cli import EXIT_OK
    from ffnn.distributed import available_transports
    from tests.cli_helpers import run

    code, out, err = run(capsys, "info")
    assert code == EXIT_OK, err
    block = out.split("Distributed transports")[1]
    for status in available_transports():
        assert f"{status.name}" in block and status.detail in block
    rows = {line.split()[0]: line.split()[1] for line in block.splitlines()[2:] if line.strip()}
    assert rows["mpi"] == ("yes" if available_transports()[1].available else "no"), block
