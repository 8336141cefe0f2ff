"""Collect groups a paired experiment's runs across their (seed, attr_seed) pairs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from rvhpc.collect import collect
from rvhpc.grid.expand import load_grid
from tests.collect.conftest import DATES, basin_ids, cell, noisy, observed
from tests.support.fake_runs import write_cell


def _mark_paired(run_dir):
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "paired_draw": True}))


def test_runs_dir_paired_draws_form_one_experiment(tmp_path, client):
    qobs = observed(3)
    sims = {}
    for seed in (0, 1, 2):
        sims[seed] = noisy(qobs, seed)
        _mark_paired(
            cell(tmp_path / "runs", "ea", "gaussian", 16, seed, qobs, sims[seed], attr_seed=seed)
        )
    # a fixed draw of another dimension stays its own experiment per draw
    cell(tmp_path / "runs", "ea", "gaussian", 32, 0, qobs, noisy(qobs, 5), attr_seed=3)
    rep = collect(tmp_path / "runs", tmp_path / "res", client)
    assert rep.problems == []
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    assert set(m["experiment"]) == {"EG-16", "EG-32/a3"}
    eg = m[m["experiment"] == "EG-16"]
    assert set(eg["member"]) == {"0", "1", "2", "ensemble"}
    members = eg[eg["member"] != "ensemble"]
    assert (members["attr_seed"].astype(int) == members["member"].astype(int)).all()
    assert eg.loc[eg["member"] == "ensemble", "attr_seed"].isna().all()
    # the ensemble is the mean hydrograph of the three (seed, draw) pairs
    from rvhpc.evaluation.metrics import all_metrics

    mean = np.mean([sims[s] for s in (0, 1, 2)], axis=0)
    ens = eg[eg["member"] == "ensemble"].set_index("basin")["NSE"]
    for i, b in enumerate(basin_ids(3)):
        assert abs(ens[b] - all_metrics(qobs[i], mean[i])["NSE"]) < 1e-9
    summ = pd.read_csv(tmp_path / "res" / "summary.csv").set_index("experiment")
    assert summ.loc["EG-16", "draws"] == 3 and summ.loc["EG-32/a3", "draws"] == 1
    paper = pd.read_csv(tmp_path / "res" / "paper_table.csv", index_col=0)
    assert paper.loc["EA-LSTM", "gaussian-16"] == summ.loc["EG-16", "ensemble_median_nse"]


def test_grid_source_pairs_from_the_grid(tmp_path, client):
    grid_file = tmp_path / "g.yaml"
    grid_file.write_text(
        "name: g\ndata: {store: data/store.h5}\nruns_dir: runs\n"
        "experiments:\n  - {arch: ea, static: gaussian, dims: [8], attr_seeds: paired,"
        " seeds: [0, 1]}\n"
    )
    grid = load_grid(grid_file)
    qobs = observed(3)
    for c in grid.cells:  # written without the label: the grid says they are paired
        write_cell(
            c.run_dir,
            c.arch,
            c.static,
            c.dim,
            c.attr_seed,
            c.seed,
            basin_ids(3),
            DATES,
            qobs,
            noisy(qobs, c.seed),
            config={k: v for k, v in c.config.items() if k != "paired_draw"},
        )
    rep = collect(grid_file, tmp_path / "res", client)
    assert rep.cells == 2
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    assert set(m["experiment"]) == {"EG-8"} and set(m["member"]) == {"0", "1", "ensemble"}
