"""A rerun reuses cached per-cell metrics and recomputes exactly the changed cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.collect import collect
from tests.collect.conftest import cell, noisy, observed


def test_rerun_reuses_unchanged_and_recomputes_changed(tmp_path, client):
    qobs = observed(3)
    runs, out = tmp_path / "runs", tmp_path / "res"
    for seed in (1, 2):
        cell(runs, "ea", "physics", None, seed, qobs, noisy(qobs, seed))
        cell(runs, "ea", "one_hot", None, seed, qobs, noisy(qobs, 10 + seed))
    first = collect(runs, out, client)
    assert len(first.computed) == 4 and first.cached == [] and first.ensembles_computed == 2
    before = pd.read_parquet(out / "metrics.parquet")

    second = collect(runs, out, client)
    assert second.computed == [] and len(second.cached) == 4 and second.ensembles_computed == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "metrics.parquet"), before)

    changed = cell(
        runs, "ea", "physics", None, 2, qobs, noisy(qobs, 77, 1.5)
    )  # rewrite seed 2 of EP
    third = collect(runs, out, client)
    assert third.computed == [str(changed.relative_to(runs))] and len(third.cached) == 3
    assert third.ensembles_computed == 1  # EP only; EO reused
    after = pd.read_parquet(out / "metrics.parquet")
    key = ["experiment", "member", "basin"]
    merged = before.merge(after, on=key, suffixes=("_a", "_b"))
    moved = merged[~np.isclose(merged["NSE_a"], merged["NSE_b"])]
    assert set(zip(moved["experiment"], moved["member"], strict=False)) == {
        ("EP", "2"),
        ("EP", "ensemble"),
    }
