"""The distributed pieces under a real ``mpiexec -n 2`` / ``-n 3`` (MPICH through mpi4py):
each test launches tests/distributed/mpi_worker.py as a subprocess with a timeout."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backends import backend_status

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("mpi_worker.py")
TIMEOUT = 180  # seconds per launch: rank start-up imports torch/jax on a small shared machine
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mpi4py") is None, reason="mpi4py is not installed (pip install 'ffnn[mpi]')"
    ),
    pytest.mark.skipif(
        MPIEXEC is None, reason="no mpiexec on PATH or next to the Python interpreter (pip install mpich)"
    ),
]


def launch(n: int, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [MPIEXEC, "-n", str(n), sys.executable, str(WORKER), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False)


def assert_all_ok(result: subprocess.CompletedProcess[str], n: int) -> list[str]:
    lines = [line for line in result.stdout.replace("OK ", "\nOK ").splitlines() if line.startswith("OK ")]
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(int(line.split()[1]) for line in lines) == list(range(n)), result.stdout
    return lines


def cpu_backends() -> str:
    names = ["numpy", "torch", "array_api_strict", "jax"]
    return ",".join(name for name in names if backend_status(name).usable)


@pytest.mark.parametrize("n", [2, 3])
def test_gradient_allreduce_equals_the_weighted_sum_on_every_cpu_backend(n):
    backends = cpu_backends()
    lines = assert_all_ok(launch(n, "allreduce", backends), n)
    expected_shares = {2: "[2, 1]", 3: "[1, 1, 0]"}[n]  # uneven shares; with n = 3 one rank has none
    assert all(line.count(f"shares={expected_shares}") == backends.count(",") + 1 for line in lines)


@pytest.mark.parametrize("n", [2, 3])
def test_checksum_broadcast_finds_a_one_ulp_difference_on_every_rank(n):
    lines = assert_all_ok(launch(n, "checksum"), n)
    assert all("rank(s) [1] differ from rank 0's" in line for line in lines)


@pytest.mark.parametrize("n", [2, 3])
def test_shares_cover_each_example_exactly_once(n):
    assert_all_ok(launch(n, "shares"), n)


def test_an_exception_on_one_rank_aborts_all_ranks_with_the_message():
    result = launch(3, "abort", timeout=60)  # without the abort, ranks 0 and 2 would wait forever
    assert result.returncode != 0
    assert "rank 1 of 3 failed with ValueError: deliberate failure on rank 1; aborting all 3 ranks" in result.stderr
    assert "OK " not in result.stdout


def test_a_killed_rank_takes_the_job_down():
    result = launch(2, "kill", timeout=60)
    assert result.returncode != 0 and "OK " not in result.stdout


@pytest.mark.parametrize(("n", "backends"), [(2, "all"), (3, "numpy")])
def test_distributed_fit_reproduces_the_one_process_fit(n, backends):
    """fit(distributed="mpi"): 100+ steps with SGD+momentum (l2, sample weights) and Adam, validation split,
    early stopping, a divergence rollback; weights, per-epoch costs/accuracies, stop reason and
    epoch within 1e-12 (float64) and 1e-5 (float32) of one process, on every CPU backend
    (numpy runs every case, the others the Adam case; JAX in float64 only, for CI time) for n = 2,
    numpy for n = 3 (an idle rank)."""
    names = cpu_backends() if backends == "all" else backends
    lines = assert_all_ok(launch(n, "fit_parity", names), n)
    assert len({line.split(" ", 2)[2] for line in lines}) == 1  # the same figures on every rank
    assert all("early_stopping@" in line and "diverged@" in line and "float32:" in line for line in lines)


def test_resume_after_a_kill_with_another_number_of_ranks(tmp_path):
    """2 ranks checkpoint every epoch (rank 0 writes), one is killed in epoch 7; 3 ranks and
    1 rank resume from the epoch-6 file and end where an uninterrupted fit ends (1e-12)."""
    killed = launch(2, "resume_save", str(tmp_path), timeout=120)
    assert killed.returncode != 0 and "OK " not in killed.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.ffnn"]  # no temporary left behind
    for n in (3, 1):
        lines = assert_all_ok(launch(n, "resume_finish", str(tmp_path)), n)
        assert all("resumed-from=6" in line for line in lines)


def test_a_failing_rank_aborts_a_distributed_fit_with_the_message():
    result = launch(2, "fit_abort", timeout=60)  # rank 0 would otherwise wait in the next all-reduce
    assert result.returncode != 0 and "OK " not in result.stdout
    assert (
        "rank 1 of 2 failed with RuntimeError: deliberate failure in a callback; aborting all 2 ranks" in result.stderr
    )


@pytest.mark.parametrize("n", [2, 3])
def test_each_rank_reads_its_share_from_npy_files(n):
    lines = assert_all_ok(launch(n, "fit_rows"), n)
    assert all("rel=" in line for line in lines)


def test_cli_distributed_train_matches_one_process_and_rank_0_alone_prints_and_saves(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    train = [sys.executable, "-m", "ffnn", "train", "--dataset", "iris", "--epochs", "4", "--batch-size", "16"]

    def run(command):
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=tmp_path, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    single = run([*train, "--quiet"])
    quiet = run([MPIEXEC, "-n", "3", *train, "--quiet", "--distributed", "mpi"])
    assert quiet == single and quiet.count("test cost=") == 1  # one line: rank 0's
    table = run([MPIEXEC, "-n", "2", *train, "--distributed", "--save", "m.npz"])
    assert table.count("transport") == 1 and "2 ranks" in table and "model written to m.npz" in table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
