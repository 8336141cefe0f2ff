"""``rvhpc bench``: one JSON line of training throughput, synthetic data or a store."""

from __future__ import annotations

import json

from tests.training.trainhelp import rvhpc


def test_bench_json_synthetic_and_store(tiny_store):
    proc = rvhpc(
        "bench",
        "--arch",
        "ea",
        "--hidden",
        8,
        "--batch-size",
        16,
        "--steps",
        2,
        "--warmup",
        1,
        "--seq-length",
        20,
        "--device",
        "cpu",
        "--threads",
        1,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["store"] == "synthetic" and result["arch"] == "ea" and result["device"] == "cpu"
    assert result["samples_per_s"] > 0 and 0 < result["data_fraction"] <= 1

    proc = rvhpc(
        "bench",
        "--arch",
        "lstm",
        "--hidden",
        8,
        "--batch-size",
        16,
        "--steps",
        2,
        "--seq-length",
        20,
        "--store",
        tiny_store,
        "--threads",
        1,
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["store"] == str(tiny_store) and result["samples_per_s"] > 0


def test_measure_is_callable_by_the_grid():
    from rvhpc.training.bench import measure

    result = measure(
        arch="ct", hidden=8, batch_size=8, steps=1, warmup=1, seq_length=10, device="cpu"
    )
    assert result["samples_per_s"] > 0 and result["seconds_per_step"] > 0
