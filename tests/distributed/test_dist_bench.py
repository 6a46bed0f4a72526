"""The helpers of benchmarks/distributed.py, on small inputs (the measurements themselves are not run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.distributed import _fit_alpha_beta, _out_of_core_worker, _write_npy


def test_the_ring_model_fit_recovers_latency_and_bandwidth():
    alpha, bandwidth, ranks = 20e-6, 2e9, 4
    rows = [
        {"bytes": b, "median_s": 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * b / bandwidth}
        for b in [8 * 4**k for k in range(12)]
    ]
    model = _fit_alpha_beta(rows, ranks)
    assert model["ring_bandwidth_GBps"] == pytest.approx(bandwidth / 1e9, rel=1e-6)
    assert model["ring_alpha_s"] == pytest.approx(alpha, rel=1e-3)


def test_the_out_of_core_worker_reads_every_row_once(tmp_path, capsys):
    path = tmp_path / "x.npy"
    _write_npy(path, 3000, 7)
    data = np.load(path)
    assert data.shape == (3000, 7) and data[2999, 3] == np.float32(2999.003)
    _out_of_core_worker(str(path), 256)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["rows_read"] == 3000 and report["checksum_ok"]
    assert report["bytes_read"] == 3000 * 7 * 4
    assert report["whole_file_loads_under_the_cap"]["np.load"].startswith("loaded")  # no cap in this test
