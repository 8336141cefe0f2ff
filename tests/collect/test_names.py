"""collect keeps experiments' names (issue 19, item 5): tables carry the name config.json records,
``--baseline NAME`` finds it (also without its scenario, per scenario), and runs of different
experiments under one name are refused rather than mixed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rvhpc.collect import collect
from rvhpc.errors import CollectError
from tests.collect.conftest import DATES, basin_ids, noisy, observed
from tests.support.fake_runs import write_cell


def _named(runs: Path, rel: str, static: str, name: str, qobs, seed: int, scenario=None) -> None:
    run_dir = runs / rel / "ea" / static / f"seed{seed}"
    ids = basin_ids(qobs.shape[0])
    write_cell(run_dir, "ea", static, None, None, seed, ids, DATES, qobs, noisy(qobs, seed))
    config = json.loads((run_dir / "config.json").read_text())
    config.update(name=name, experiment=name, scenario=scenario)
    if scenario:
        config["basins"] = ids
    (run_dir / "config.json").write_text(json.dumps(config))


def test_baseline_by_name(tmp_path: Path, client) -> None:
    qobs, runs, out = observed(5), tmp_path / "runs", tmp_path / "res"
    for seed in (1, 2):
        _named(runs, "t", "physics", "MyName", qobs, seed)
        _named(runs, "t", "one_hot", "Other", qobs, seed + 10)
    collect(runs, out, client, baseline="MyName")
    assert set(pd.read_csv(out / "summary.csv")["experiment"]) == {"MyName", "Other"}
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison["baseline"]) == ["MyName"] and list(comparison["experiment"]) == [
        "Other"
    ]


def test_baseline_by_name_within_each_scenario(tmp_path: Path, client) -> None:
    qobs, runs, out = observed(4), tmp_path / "runs", tmp_path / "res"
    for rel in ("a", "b"):
        scenario = {"basin_list": rel, "evaluation": "temporal"}
        for seed in (1, 2):
            _named(runs, rel, "physics", "MyName", qobs, seed, scenario)
            _named(runs, rel, "one_hot", "Other", qobs, seed + 10, scenario)
    collect(runs, out, client, baseline="MyName")
    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison["baseline"]) == ["MyName@a", "MyName@b"]
    assert list(comparison["experiment"]) == ["Other@a", "Other@b"]
    with pytest.raises(CollectError, match="--baseline Nope: no such experiment"):
        collect(runs, out, client, baseline="Nope")


def test_one_name_for_two_experiments_is_refused(tmp_path: Path, client) -> None:
    qobs, runs = observed(3), tmp_path / "runs"
    _named(runs, "t", "physics", "Same", qobs, 1)
    _named(runs, "t", "one_hot", "Same", qobs, 1)
    with pytest.raises(CollectError, match="experiment name 'Same' is used by different"):
        collect(runs, tmp_path / "res", client)
