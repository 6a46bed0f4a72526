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


def _data_parallel_fit(net, optimizer, X, labels, *, epochs, batch_size, comm):
    """A data-parallel fit written with the public pieces, as the training loop will do it:
    the global batch's rows split among ranks, local gradients scaled by m_r/M and summed
    in one all-reduce, the same update on every rank, per-epoch costs summed."""
    from ffnn.training import shuffle_order

    backend, xp = net.backend, net.xp
    x, t = net.inputs(X), net.targets(labels, X.shape[0])
    m, L = X.shape[0], len(net.layers)
    params = {f"{p}{l}": a for l, layer in enumerate(net.layers, 1) for p, a in (("W", layer.W), ("b", layer.b))}
    verify_identical(comm, params, what="initial weights")
    reducer = GradientReducer(comm, params)
    costs = []
    for epoch in range(epochs):
        order = shuffle_order(net.seed, epoch, m)
        cost_sum = 0.0
        for start, stop in batch_bounds(m, batch_size):
            rows = rank_rows(order[start:stop], comm.rank, comm.size)
            grads = None
            if rows.size:
                index = backend.asarray(rows)
                xb, yb = xp.take(x, index, axis=0), xp.take(t, index, axis=0)
                cache, Z = net.forward_columns(xb.T)
                cost_sum += float(net.cost_columns(cache, Z, yb.T)) * rows.size
                pairs = net.backward_columns(cache, yb.T, release_cache=True)
                grads = {f"{p}{l}": g for l, pair in enumerate(pairs, 1) for p, g in zip("Wb", pair)}
            total = reducer.reduce(grads, weight=batch_weight(rows.size, stop - start))
            optimizer.step(net, [(total[f"W{l}"], total[f"b{l}"]) for l in range(1, L + 1)])
        costs.append(comm.allreduce_scalars([cost_sum])[0] / m)
    return costs


def parity() -> str:
    """N ranks reproduce ffnn's one-process fit: weights and per-epoch costs."""
    from ffnn import SGD, Adam, Dense, Network

    comm = get_communicator(backend=get_backend("numpy"))
    worst = {}
    with abort_on_failure(comm):
        rng = np.random.default_rng(3)
        X, labels = rng.standard_normal((37, 5)), rng.integers(0, 3, 37)
        for dtype in ("float64", "float32"):
            for name, make in (("sgd-momentum", lambda: SGD(0.1, momentum=0.9)), ("adam", lambda: Adam(0.01))):
                for batch_size, epochs in ((10, 25), (2, 5)):  # 100 and 95 steps; batch 2 leaves a rank idle

                    def build(dtype: str = dtype) -> Network:
                        layers = [Dense(5, 8, activation="tanh"), Dense(8, 3, activation="softmax")]
                        return Network(layers, loss="categorical_crossentropy", backend="numpy", dtype=dtype, seed=11)

                    reference = build()
                    history = reference.fit(X, labels, epochs=epochs, batch_size=batch_size, optimizer=make())
                    net = build()
                    costs = _data_parallel_fit(net, make(), X, labels, epochs=epochs, batch_size=batch_size, comm=comm)
                    rel = max(
                        float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                        for a, b in zip(net.parameters(), reference.parameters())
                    )
                    rel_cost = max(abs(a - b) / abs(b) for a, b in zip(costs, history.train_cost))
                    limit = 1e-12 if dtype == "float64" else 1e-5
                    assert rel <= limit and rel_cost <= limit, (dtype, name, batch_size, rel, rel_cost)
                    worst[dtype] = max(worst.get(dtype, 0.0), rel, rel_cost)
                    verify_identical(comm, net.parameters(), what="trained weights")
    return " ".join(f"{k}:{v:.1e}" for k, v in worst.items())


if __name__ == "__main__":
    scenario, *args = sys.argv[1:]
    result = {
        "allreduce": allreduce,
        "checksum": checksum,
        "abort": abort,
        "kill": kill,
        "shares": shares,
        "parity": parity,
    }[scenario](*args)
    print(f"OK {get_communicator(backend=get_backend('numpy')).rank} {result}", flush=True)
