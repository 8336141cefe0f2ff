"""collect with scenarios: scenario columns, one block per scenario, k-fold members merged from
the folds that held each basin out, ensembles never across scenarios, the training-size figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.collect import collect
from rvhpc.collect.report import SCENARIO_COLUMNS
from rvhpc.evaluation.metrics import all_metrics
from tests.collect.conftest import DATES, basin_ids, noisy, observed, write_cell


def _cell(
    runs,
    rel,
    ids,
    qobs,
    qsim,
    scenario,
    basins,
    eval_basins=None,
    seed=1,
    done=True,
    static="physics",
):
    run_dir = runs / rel / "ea" / static / f"seed{seed}"
    write_cell(run_dir, "ea", static, None, None, seed, ids, DATES, qobs, qsim, done=done)
    config = json.loads((run_dir / "config.json").read_text())
    config.update(scenario=scenario, basins=basins, eval_basins=eval_basins)
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def _scenario(name, n_train, folds=None, fold=None):
    return {
        "basin_list": name,
        "train_period": None,
        "train_years": None,
        "evaluation": "kfold" if folds else "temporal",
        "folds": folds,
        "fold_seed": 0 if folds else None,
        "fold": fold,
        "train_basins": n_train,
    }


def _runs(runs: Path, qobs: np.ndarray, drop_fold: bool = False) -> dict:
    ids = basin_ids(6)
    sims = {}
    for seed in (1, 2):
        _cell(runs, "all", ids, qobs, noisy(qobs, seed), _scenario("all", 6), ids, seed=seed)
        _cell(
            runs,
            "all",
            ids,
            qobs,
            noisy(qobs, 3 + seed),
            _scenario("all", 6),
            ids,
            seed=seed,
            static="one_hot",
        )
        _cell(
            runs,
            "half",
            ids[:3],
            qobs[:3],
            noisy(qobs[:3], 5 + seed),
            _scenario("half", 3),
            ids[:3],
            seed=seed,
        )
        for fold, rows in enumerate(([0, 2, 4], [1, 3, 5])):
            held = [ids[i] for i in rows]
            train = [b for b in ids if b not in held]
            sim = noisy(qobs[rows], 10 * fold + seed, 0.3 + 0.5 * fold)
            sims[(fold, seed)] = (rows, sim)
            _cell(
                runs,
                f"all/kfold2-s0/fold{fold}",
                held,
                qobs[rows],
                sim,
                _scenario("all", 3, 2, fold),
                train,
                held,
                seed=seed,
                done=not (drop_fold and fold == 1 and seed == 2),
            )
    return sims


def test_collect_scenarios(tmp_path, client) -> None:
    qobs = observed(6)
    runs, out = tmp_path / "runs", tmp_path / "res"
    sims = _runs(runs, qobs)
    rep = collect(runs, out, client)
    assert rep.problems == [] and rep.cells == 10
    m = pd.read_parquet(out / "metrics.parquet")
    assert list(m.columns[7:13]) == SCENARIO_COLUMNS
    assert list(dict.fromkeys(m["experiment"])) == [
        "EP@all",
        "EO@all",
        "EP@all/kfold2-s0",
        "EP@half",
    ]
    pub = m[m["experiment"] == "EP@all/kfold2-s0"]
    assert set(pub["evaluation"]) == {"kfold2-s0"} and set(pub["train_basins"]) == {3}
    assert set(pub["unseen_static"]) == {"descriptors standardised with training-basin statistics"}
    assert set(m.loc[m["experiment"] == "EP@half", "train_basins"]) == {3}
    assert set(m.loc[m["experiment"] == "EP@all", "unseen_static"]) == {""}
    ids = basin_ids(6)
    for member in ("1", "2", "ensemble"):
        rows = pub[pub["member"] == member].set_index("basin")
        assert sorted(rows.index) == ids  # every basin once, from its fold
    ens = pub[pub["member"] == "ensemble"].set_index("basin")["NSE"]
    seed1 = pub[pub["member"] == "1"].set_index("basin")["NSE"]
    for fold in (0, 1):
        rows, sim1 = sims[(fold, 1)]
        mean = (sim1 + sims[(fold, 2)][1]) / 2
        for k, i in enumerate(rows):
            assert np.isclose(ens[ids[i]], all_metrics(qobs[i], mean[k])["NSE"], rtol=1e-6)
            assert np.isclose(seed1[ids[i]], all_metrics(qobs[i], sim1[k])["NSE"], rtol=1e-6)
    # the half list's ensemble holds its own 3 basins only: scenarios never mix
    assert (
        m.loc[(m["experiment"] == "EP@half") & (m["member"] == "ensemble"), "basin"].nunique() == 3
    )

    summ = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(summ["scenario"]) == ["all", "all", "all/kfold2-s0", "half"]
    assert list(summ["paper_name"]) == ["EP", "EO", "EP", "EP"]
    assert list(summ["basins"]) == [6, 6, 6, 3]
    text = (out / "summary.md").read_text()
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## all",
        "## all/kfold2-s0",
        "## half",
    ]
    assert "PUB: 2-fold cross-validation over basins" in text
    paper = pd.read_csv(out / "paper_table.csv", index_col=[0, 1])
    assert list(paper.index) == [(s, "EA-LSTM") for s in ("all", "all/kfold2-s0", "half")]
    assert np.isclose(paper.loc[("all/kfold2-s0", "EA-LSTM"), "physics"], ens.median())
    assert np.isnan(paper.loc[("all/kfold2-s0", "EA-LSTM"), "one_hot"])
    assert (out / "nse_vs_train_basins.png").read_bytes()[:4] == b"\x89PNG"
    # comparisons stay inside a scenario: each against EP of its own scenario
    comp = pd.read_csv(out / "comparison.csv")
    assert list(zip(comp["experiment"], comp["baseline"], comp["basins"], strict=True)) == [
        ("EO@all", "EP@all", 6)
    ]


def test_collect_names_a_missing_fold(tmp_path, client) -> None:
    qobs = observed(6)
    runs, out = tmp_path / "runs", tmp_path / "res"
    _runs(runs, qobs, drop_fold=True)
    rep = collect(runs, out, client, allow_partial=True)
    assert rep.problems == [
        "experiment EP@all/kfold2-s0: seed 2 has no finished fold(s) 1; their basins are missing"
    ]
