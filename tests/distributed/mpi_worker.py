"""Run under ``mpiexec -n N``: one scenario of the distributed tests per invocation.

Usage: mpiexec -n N python tests/distributed/mpi_worker.py SCENARIO [ARG]
Each rank prints one line ``OK <rank> <details>`` when its checks pass; a failed
check raises inside ``abort_on_failure``, which aborts the job with the message.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile

import numpy as np

from backends import get_backend
from ffnn.distributed import (
    GradientReducer,
    abort_on_failure,
    batch_bounds,
    batch_weight,
    get_communicator,
    rank_rows,
    verify_identical,
)
from ffnn.sources import BatchStream

DEVICES = {"numpy": None, "torch": "cpu", "array_api_strict": "device1", "jax": "cpu"}
SHAPES = {"W1": (5, 3), "b1": (5, 1), "W2": (2, 5), "b2": (2, 1)}


def host_grads(rank: int, dtype: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(100 + rank)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def allreduce(backend_names: str) -> str:
    return "; ".join(_allreduce(name) for name in backend_names.split(","))


def _allreduce(backend_name: str) -> str:
    backend = get_backend(backend_name, DEVICES[backend_name])
    comm = get_communicator(backend=backend)
    with abort_on_failure(comm):
        assert comm.transport == "mpi" and comm.path == "host", comm.describe()
        for dtype in ("float64", "float32"):
            template = {k: backend.asarray(v) for k, v in host_grads(0, dtype).items()}
            reducer = GradientReducer(comm, template)
            # global batch of M = size + 1 rows split among ranks; the last rank may get 1 or 0
            M = comm.size + 1 if comm.size < 3 else 2
            shares = [len(rank_rows(np.arange(M), r, comm.size)) for r in range(comm.size)]
            for step in range(3):  # the buffer is reused: results must not leak between steps
                weights = [batch_weight(s, M) for s in shares]
                mine = shares[comm.rank]
                grads = (
                    None
                    if mine == 0
                    else {k: backend.asarray(v * (step + 1)) for k, v in host_grads(comm.rank, dtype).items()}
                )
                out = reducer.reduce(grads, weight=weights[comm.rank])
                for k, shape in SHAPES.items():
                    expected = sum(
                        weights[r] * host_grads(r, dtype)[k] * (step + 1) for r in range(comm.size) if shares[r]
                    )
                    got = backend.to_numpy(out[k])
                    assert backend.owns(out[k]) and got.dtype == np.dtype(dtype) and got.shape == shape
                    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == "float32" else 1e-14)
                verify_identical(comm, out, what="reduced gradients")
        pending = comm.start_allreduce_sum(backend.asarray(np.full(5, comm.rank + 1.0)))
        assert np.all(backend.to_numpy(pending.wait()) == comm.size * (comm.size + 1) / 2)
        sums = comm.allreduce_scalars([1.0, comm.rank], op="sum")
        assert sums == [comm.size, sum(range(comm.size))], sums
        assert comm.allreduce_scalars([comm.rank], op="max") == [comm.size - 1]
        assert comm.allreduce_scalars([comm.rank], op="min") == [0]
        xp = backend.xp
        value = backend.asarray(np.full(4, float(comm.rank)))
        value = comm.bcast_array(value, root=comm.size - 1)
        assert np.all(backend.to_numpy(value) == comm.size - 1)
        assert xp.isdtype(value.dtype, "real floating")
    return f"{backend_name} shares={shares}"


def checksum() -> str:
    backend = get_backend("numpy")
    comm = get_communicator(backend=backend)
    with abort_on_failure(comm):
        params = {k: np.ones(s) for k, s in SHAPES.items()}
        digest = verify_identical(comm, params, what="initial weights")
        if comm.rank == 1:
            params["b2"][1, 0] = np.nextafter(1.0, 2.0)  # one ulp
        try:
            verify_identical(comm, params, what="initial weights")
        except RuntimeError as exc:
            assert "rank(s) [1]" in str(exc), exc
            return f"digest={digest} raised={exc}"
        raise AssertionError("a one-ulp difference on rank 1 went unnoticed")


def abort() -> str:
    comm = get_communicator(backend=get_backend("numpy"))
    with abort_on_failure(comm):
        if comm.rank == 1:
            raise ValueError("deliberate failure on rank 1")
        comm.barrier()  # the others wait here for a rank that never comes
    return "not aborted"


def kill() -> str:
    comm = get_communicator(backend=get_backend("numpy"))
    with abort_on_failure(comm):
        if comm.rank == 1:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        comm.barrier()
    return "not aborted"


def shares(folder: str = "") -> str:
    """Every example of every epoch is computed by exactly one rank, read from a .npy file."""
    backend = get_backend("numpy")
    comm = get_communicator(backend=backend)
    with abort_on_failure(comm):
        folder = comm.bcast(folder or (tempfile.mkdtemp() if comm.rank == 0 else ""))
        m, n = 23, 3
        data = np.arange(m * n, dtype=np.float64).reshape(m, n)
        path = os.path.join(folder, "x.npy")
        if comm.rank == 0:
            np.save(path, data)
        comm.barrier()
        for batch_size in (5, 2, 23, 1):
            order = np.random.default_rng(batch_size).permutation(m)  # the same host permutation everywhere
            seen = np.zeros(m)
            stream = BatchStream(
                path, order=order, batch_size=batch_size, backend=backend, rank=comm.rank, size=comm.size
            )
            assert len(stream) == len(batch_bounds(m, batch_size))
            for (start, stop), (xb, _) in zip(stream.bounds, stream):
                rows = rank_rows(order[start:stop], comm.rank, comm.size)
                assert xb.shape == (rows.size, n)
                np.testing.assert_array_equal(xb, data[rows])
                seen[rows] += 1
            counts = comm.allreduce_scalars(seen.tolist())
            assert counts == [1.0] * m, (batch_size, counts)
    return "covered"


def _problem(n_rows: int = 37):
    rng = np.random.default_rng(3)
    return rng.standard_normal((n_rows, 5)), rng.integers(0, 3, n_rows)


def _build(backend_name: str, dtype: str):
    from ffnn import Dense, Network

    layers = [Dense(5, 8, activation="tanh"), Dense(8, 3, activation="softmax")]
    return Network(
        layers,
        loss="categorical_crossentropy",
        backend=backend_name,
        device=DEVICES[backend_name],
        dtype=dtype,
        seed=11,
    )


def _relative(net, reference) -> float:
    pairs = zip(net.parameters(), reference.parameters())
    return max(
        float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b)) / np.max(np.abs(b)))
        for a, b in (
            (net.backend.to_numpy(p), np.asarray(reference.backend.to_numpy(q), dtype=np.float64)) for p, q in pairs
        )
    )


def _relative_history(h, ref) -> float:
    worst = 0.0
    for key in ("train_cost", "val_cost", "train_accuracy", "val_accuracy"):
        a, b = (
            np.asarray(getattr(h, key) or [], dtype=np.float64),
            np.asarray(getattr(ref, key) or [], dtype=np.float64),
        )
        assert a.shape == b.shape, (key, a.shape, b.shape)
        if a.size:
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))))
    return worst


# (name, optimizer, fit options): 100 steps or more each; batch 2 leaves a rank idle with n = 3,
# the last batch is partial; one run stops early, one diverges and rolls back.
CASES = (
    (
        "sgd-momentum",
        lambda: __import__("ffnn").SGD(0.1, momentum=0.9),
        dict(epochs=34, batch_size=10, l2=0.01, sample_weight=np.linspace(0.2, 2.0, 37)),
    ),
    ("adam", lambda: __import__("ffnn").Adam(0.01), dict(epochs=34, batch_size=10, early_stopping=40)),
    ("adam-b2-stop", lambda: __import__("ffnn").Adam(0.05), dict(epochs=30, batch_size=2, early_stopping=2)),
    ("sgd-diverges", lambda: __import__("ffnn").SGD(1000.0), dict(epochs=30, batch_size=10, l2=100.0)),
)


def fit_parity(backend_names: str = "numpy") -> str:
    """fit(distributed="mpi") on N ranks reproduces fit on one process: weights, per-epoch
    costs and accuracies, the stop reason and epoch (early stopping, divergence)."""
    comm = get_communicator(backend=get_backend("numpy"))
    worst: dict[str, float] = {}
    reasons = []
    with abort_on_failure(comm):
        X, labels = _problem()
        for backend_name in backend_names.split(","):
            for dtype in ("float64", "float32"):
                for name, make, options in CASES:
                    if backend_name != "numpy" and name != "adam":
                        continue  # the other backends run the main case (time on CI)
                    if backend_name == "jax" and dtype == "float32":
                        continue  # eager JAX takes ~0.15 s a step on 2 shared cores: float64 only (CI time)
                    reference = _build(backend_name, dtype)
                    ref = reference.fit(X, labels, optimizer=make(), validation_split=0.2, **options)
                    net = _build(backend_name, dtype)
                    hist = net.fit(X, labels, optimizer=make(), validation_split=0.2, distributed="mpi", **options)
                    assert hist.stop_reason == ref.stop_reason and hist.epochs == ref.epochs, (name, hist, ref)
                    limit = 1e-12 if dtype == "float64" else 1e-5
                    rel, rel_h = _relative(net, reference), _relative_history(hist, ref)
                    assert rel <= limit and rel_h <= limit, (backend_name, dtype, name, rel, rel_h)
                    key = f"{dtype}"
                    worst[key] = max(worst.get(key, 0.0), rel, rel_h)
                    verify_identical(comm, net.parameters(), what="trained weights")
                    stops = comm.allreduce_scalars([hist.epochs, -hist.epochs], op="max")
                    assert stops[0] == -stops[1] == hist.epochs  # every rank stopped at the same epoch
                    reasons.append(f"{name}:{hist.stop_reason}@{hist.epochs}")
    return " ".join(f"{k}:{v:.1e}" for k, v in worst.items()) + " " + ",".join(sorted(set(reasons)))


def resume_save(folder: str) -> str:
    """Fit with a checkpoint every epoch; rank 0 (the writer) is killed in epoch 7, after epoch 6 was saved."""
    from ffnn import Adam, Callback

    comm = get_communicator(backend=get_backend("numpy"))

    class Die(Callback):
        def on_epoch_end(self, net, logs):
            if logs["epoch"] == 7 and comm.rank == 0:  # the writer dies before saving epoch 7
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)  # epoch 7's checkpoint is never written
            return False

    with abort_on_failure(comm):
        X, labels = _problem()
        net = _build("numpy", "float64")
        net.fit(
            X,
            labels,
            optimizer=Adam(0.01),
            epochs=20,
            batch_size=10,
            validation_split=0.2,
            l2=0.01,
            checkpoint=os.path.join(folder, "ckpt.ffnn"),
            callbacks=[Die()],
            distributed="mpi",
        )
    return "not killed"


def resume_finish(folder: str) -> str:
    """Load the checkpoint written before the kill, resume on this number of ranks, compare
    with an uninterrupted one-process fit."""
    import ffnn

    comm = get_communicator(backend=get_backend("numpy"))
    with abort_on_failure(comm):
        X, labels = _problem()
        options = dict(epochs=20, batch_size=10, validation_split=0.2, l2=0.01)
        reference = _build("numpy", "float64")
        ref = reference.fit(X, labels, optimizer=ffnn.Adam(0.01), **options)
        net = ffnn.load(os.path.join(folder, "ckpt.ffnn"))
        saved = net.training_state.epoch
        assert saved == 6, saved
        hist = net.fit(X, labels, optimizer=ffnn.Adam(0.01), resume=True, distributed="mpi", **options)
        rel, rel_h = _relative(net, reference), _relative_history(hist, ref)
        assert rel <= 1e-12 and rel_h <= 1e-12, (rel, rel_h)
    return f"resumed-from={saved} rel={max(rel, rel_h):.1e}"


def fit_abort() -> str:
    """A callback raising on rank 1 in the middle of fit(distributed=...) aborts every rank."""
    from ffnn import Adam

    comm = get_communicator(backend=get_backend("numpy"))
    X, labels = _problem()

    def fail(logs):
        if logs["epoch"] == 2 and comm.rank == 1:
            raise RuntimeError("deliberate failure in a callback")

    _build("numpy", "float64").fit(
        X, labels, optimizer=Adam(0.01), epochs=50, batch_size=10, callbacks=[fail], distributed="mpi"
    )
    return "not aborted"


def fit_rows(folder: str = "") -> str:
    """Each rank reads its share of every batch from .npy files; same result as in memory."""
    from ffnn import Adam

    comm = get_communicator(backend=get_backend("numpy"))
    with abort_on_failure(comm):
        X, labels = _problem()
        folder = comm.bcast(folder or (tempfile.mkdtemp() if comm.rank == 0 else ""))
        if comm.rank == 0:
            np.save(os.path.join(folder, "x.npy"), X)
            np.save(os.path.join(folder, "y.npy"), labels)
        comm.barrier()
        options = dict(optimizer="adam", epochs=10, batch_size=7, validation_split=0.2)
        reference = _build("numpy", "float64")
        ref = reference.fit(X, labels, **options)
        net = _build("numpy", "float64")
        hist = net.fit(os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy"), distributed="mpi", **options)
        rel, rel_h = _relative(net, reference), _relative_history(hist, ref)
        assert rel <= 1e-12 and rel_h <= 1e-12, (rel, rel_h)
        del Adam
    return f"rel={max(rel, rel_h):.1e}"


if __name__ == "__main__":
    scenario, *args = sys.argv[1:]
    result = {
        "allreduce": allreduce,
        "checksum": checksum,
        "abort": abort,
        "kill": kill,
        "shares": shares,
        "fit_parity": fit_parity,
        "resume_save": resume_save,
        "resume_finish": resume_finish,
        "fit_abort": fit_abort,
        "fit_rows": fit_rows,
    }[scenario](*args)
    print(f"OK {get_communicator(backend=get_backend('numpy')).rank} {result}", flush=True)
