"""The built-in grid caravan-smoke end to end: synthetic Caravan generated and prepared, the
leave-one-region-out folds trained through the local runner, then collected: every basin is
scored once, by the fold that held its region out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rvhpc.data.datasets.caravan import Caravan
from tests.hpc._gridtools import rvhpc


def test_caravan_smoke_regions_through_run_and_collect(tmp_path: Path) -> None:
    proc = rvhpc("run", "caravan-smoke", "--jobs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "8 cells run, 0 already done, 0 failed" in proc.stdout
    runs = tmp_path / "runs" / "caravan-smoke"
    basins = (runs / "data" / "store_caravan" / "basin_list.txt").read_text().split()
    regions = {Caravan.region(b) for b in basins}
    assert regions == {"camels", "camelsaus", "grdc", "lamah"}
    for done in runs.rglob("DONE"):  # each fold predicted exactly the basins of its region
        config = json.loads((done.parent / "config.json").read_text())
        region = config["scenario"]["region"]
        assert done.parent.relative_to(runs).parts[1:3] == ("regions", region)
        predicted = set(pd.read_parquet(done.parent / "predictions.parquet")["basin"])
        assert predicted == {b for b in basins if Caravan.region(b) == region}
        assert not predicted & set(config["basins"])  # never trained on
    out = tmp_path / "results"
    collected = rvhpc("collect", "caravan-smoke", "--out", out, cwd=tmp_path)
    assert collected.returncode == 0, collected.stdout + collected.stderr[-3000:]
    metrics = pd.read_parquet(out / "metrics.parquet")
    ensemble = metrics[metrics["member"] == "ensemble"]
    for name, rows in ensemble.groupby("experiment"):
        assert name.endswith("@synthetic/regions")
        assert sorted(rows["basin"]) == sorted(basins)  # every basin scored once
    assert set(ensemble["evaluation"]) == {"regions"}
    assert "leave-one-region-out" in (out / "summary.md").read_text()
