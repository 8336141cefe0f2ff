"""NaN results are never collected as results (issue 19, item 2): a seed that predicts NaN for a
basin, a diverged seed of a k-fold block, and a cell that wrote DIVERGED are named, cell and basin,
and collect refuses them unless --skip-nan; then the basins are left out of their experiment
(every seed and the ensemble, never a NaN ensemble under a median of the rest) and counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.collect import collect
from rvhpc.errors import CollectError
from rvhpc.runfiles import DIVERGED
from tests.collect.conftest import DATES, basin_ids, cell, noisy, observed
from tests.support.fake_runs import write_cell


def _block(runs: Path, qobs: np.ndarray, nan_rows: list[int]) -> None:
    """EP seeds 1 and 2 (seed 2 NaN for ``nan_rows``) and EO seeds 1 and 2 (sound)."""
    cell(runs, "ea", "physics", None, 1, qobs, noisy(qobs, 1))
    bad = noisy(qobs, 2)
    bad[nan_rows, :] = np.nan
    cell(runs, "ea", "physics", None, 2, qobs, bad)
    for seed in (1, 2):
        cell(runs, "ea", "one_hot", None, seed, qobs, noisy(qobs, 10 + seed))


def test_one_nan_seed_is_refused_then_skipped_and_counted(tmp_path: Path, client) -> None:
    qobs, ids = observed(4), basin_ids(4)
    runs, out = tmp_path / "runs", tmp_path / "res"
    _block(runs, qobs, [1])
    with pytest.raises(CollectError) as refused:
        collect(runs, out, client)
    line = str(refused.value)
    assert "\n" not in line and "seed2" in line and ids[1] in line and "--skip-nan" in line
    assert f"1 of 4 basin(s): {ids[1]}" in (out / "nan.txt").read_text()
    rep = collect(runs, out, client, skip_nan=True)
    assert rep.skipped == {"EP": {ids[1]}} and rep.skipped_basins == 1
    m = pd.read_parquet(out / "metrics.parquet")
    ep = m[m["experiment"] == "EP"]
    assert ids[1] not in set(ep["basin"])  # out of every seed and the ensemble
    assert set(ep["member"]) == {"1", "2", "ensemble"} and ep["NSE"].notna().all()
    assert set(m.loc[m["experiment"] == "EO", "basin"]) == set(ids)
    summary = pd.read_csv(out / "summary.csv").set_index("experiment")
    assert summary.loc["EP", "basins_skipped_nan"] == 1 and summary.loc["EP", "basins"] == 3
    assert summary.loc["EO", "basins_skipped_nan"] == 0 and summary.loc["EO", "basins"] == 4


def test_nan_only_where_nothing_was_observed_is_no_nan_result(tmp_path: Path, client) -> None:
    qobs = observed(3)
    qobs[0, :10] = np.nan
    sim = noisy(qobs, 1)
    sim[0, :10] = np.nan  # no observation that day: nothing is scored there anyway
    cell(tmp_path / "runs", "ea", "physics", None, 1, qobs, sim)
    rep = collect(tmp_path / "runs", tmp_path / "res", client)
    assert rep.nan == [] and not (tmp_path / "res" / "nan.txt").exists()


def _fold(runs, fold, seed, ids, held, qobs, qsim) -> Path:
    run_dir = runs / f"all/kfold2-s0/fold{fold}/ea/physics/seed{seed}"
    write_cell(run_dir, "ea", "physics", None, None, seed, held, DATES, qobs, qsim)
    config = json.loads((run_dir / "config.json").read_text())
    train = [b for b in ids if b not in held]
    scenario = {"basin_list": "all", "evaluation": "kfold", "folds": 2, "fold_seed": 0}
    scenario |= {"fold": fold, "train_basins": len(train)}
    config.update(basins=train, eval_basins=held, scenario=scenario)
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def test_kfold_block_with_a_nan_seed_and_a_diverged_seed(tmp_path: Path, client) -> None:
    qobs, ids = observed(4), basin_ids(4)
    runs, out = tmp_path / "runs", tmp_path / "res"
    rows = ([0, 2], [1, 3])
    for fold, fold_rows in enumerate(rows):
        held = [ids[i] for i in fold_rows]
        for seed in (1, 2):
            sim = noisy(qobs[fold_rows], 10 * fold + seed)
            if (fold, seed) == (1, 2):
                sim[0, :] = np.nan  # seed 2 of fold 1 predicts basin ids[1] as NaN
            _fold(runs, fold, seed, ids, held, qobs[fold_rows], sim)
    # and a third seed that diverged in fold 0: DIVERGED, no predictions, no DONE
    diverged = runs / "all/kfold2-s0/fold0/ea/physics/seed3"
    diverged.mkdir(parents=True)
    (diverged / "config.json").write_text(json.dumps({"arch": "ea", "static": "physics"}))
    (diverged / DIVERGED).write_text(json.dumps({"epoch": 3, "reason": "training loss nan"}))
    with pytest.raises(CollectError, match="NaN predictions") as refused:
        collect(runs, out, client)
    assert "(+1 more)" in str(refused.value)
    listed = (out / "nan.txt").read_text()
    assert "seed3: diverged at epoch 3 (training loss nan)" in listed
    assert (
        f"fold1/ea/physics/seed2: qsim is NaN on observed days for 1 of 2 basin(s): {ids[1]}"
        in (listed)
    )
    rep = collect(runs, out, client, skip_nan=True)
    m = pd.read_parquet(out / "metrics.parquet")
    ens = m[m["member"] == "ensemble"]
    assert sorted(ens["basin"]) == sorted(set(ids) - {ids[1]}) and ens["NSE"].notna().all()
    assert rep.skipped == {"EP@all/kfold2-s0": {ids[1]}}
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["basins_skipped_nan"]) == [1] and list(summary["basins"]) == [3]


def test_cli_names_the_nan_cell_and_counts_what_it_skips(tmp_path: Path, client) -> None:
    qobs, ids = observed(3), basin_ids(3)
    runs, out = tmp_path / "runs", tmp_path / "res"
    _block(runs, qobs, [0, 2])
    args = ["collect", str(runs), "--out", str(out), "--scheduler", client.scheduler.address]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    errors = [ln for ln in refused.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "seed2" in errors[0] and f"{ids[0]}, {ids[2]}" in errors[0]
    accepted = CliRunner().invoke(app, [*args, "--skip-nan"])
    assert accepted.exit_code == 0, accepted.output
    assert "skipped for NaN predictions: 1 cell(s), 2 basin(s) (EP 2)" in accepted.output
