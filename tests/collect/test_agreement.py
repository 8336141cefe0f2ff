"""Metrics agree with an independent numpy computation; the ensemble is the mean hydrograph."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.collect import collect
from rvhpc.runrecords import write_done
from tests.collect.conftest import DATES, basin_ids, cell, noisy, observed


def np_nse(obs, sim):
    ok = ~np.isnan(obs)
    o, s = obs[ok], sim[ok]
    return 1 - np.sum((s - o) ** 2) / np.sum((o - o.mean()) ** 2)


def np_kge(obs, sim):
    ok = ~np.isnan(obs)
    o, s = obs[ok], sim[ok]
    r = np.sum((o - o.mean()) * (s - s.mean())) / np.sqrt(
        np.sum((o - o.mean()) ** 2) * np.sum((s - s.mean()) ** 2)
    )
    return 1 - np.sqrt((r - 1) ** 2 + (s.std() / o.std() - 1) ** 2 + (s.mean() / o.mean() - 1) ** 2)


def np_fhv(obs, sim):
    ok = ~np.isnan(obs)
    o, s = np.sort(obs[ok])[::-1], np.sort(sim[ok])[::-1]
    n = int(round(0.02 * o.size))
    return (s[:n].sum() - o[:n].sum()) / o[:n].sum() * 100


def test_metrics_match_numpy_and_ensemble_is_mean_hydrograph(tmp_path, client):
    qobs = observed(4)
    err = (
        np.random.default_rng(5).normal(0, 1, qobs.shape)
        * np.nanstd(qobs, axis=1, keepdims=True)
        * 0.6
    )
    filled = np.where(np.isnan(qobs), 1.0, qobs)
    # two seeds with opposite errors: their mean hydrograph is perfect, their NSEs are not
    seed_sims = {1: filled + err, 2: filled - err}  # seed 2 may dip below 0: collect must not care
    runs = tmp_path / "runs"
    for seed, sim in seed_sims.items():
        cell(runs, "ea", "physics", None, seed, qobs, sim)
    for seed in (1, 2, 3):
        cell(runs, "ea", "gaussian", 16, seed, qobs, noisy(qobs, 10 + seed))
    rep = collect(runs, tmp_path / "res", client)
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    assert set(m["experiment"]) == {"EP", "EG-16"} and len(rep.problems) == 0
    basins = basin_ids(4)

    ep = m[m["experiment"] == "EP"]
    for seed, sim in seed_sims.items():
        rows = ep[ep["member"] == str(seed)].set_index("basin").loc[basins]
        np.testing.assert_allclose(
            rows["NSE"], [np_nse(qobs[i], sim[i]) for i in range(4)], rtol=1e-12
        )
        np.testing.assert_allclose(
            rows["KGE"], [np_kge(qobs[i], sim[i]) for i in range(4)], rtol=1e-10
        )
        np.testing.assert_allclose(
            rows["FHV"], [np_fhv(qobs[i], sim[i]) for i in range(4)], rtol=1e-10
        )
    ens = ep[ep["member"] == "ensemble"].set_index("basin").loc[basins]
    mean_sim = (seed_sims[1] + seed_sims[2]) / 2
    np.testing.assert_allclose(
        ens["NSE"], [np_nse(qobs[i], mean_sim[i]) for i in range(4)], rtol=1e-12
    )
    np.testing.assert_allclose(ens["NSE"], 1.0, atol=1e-12)  # errors cancel in the hydrograph
    mean_of_nse = ep[ep["member"] != "ensemble"].groupby("basin")["NSE"].mean().loc[basins]
    assert (mean_of_nse < 0.9).all()  # ... but not in the NSEs

    eg = (
        m[(m["experiment"] == "EG-16") & (m["member"] == "ensemble")].set_index("basin").loc[basins]
    )
    eg_mean = sum(noisy(qobs, 10 + s) for s in (1, 2, 3)) / 3
    np.testing.assert_allclose(
        eg["NSE"], [np_nse(qobs[i], eg_mean[i]) for i in range(4)], rtol=1e-12
    )
    assert list(eg["dim"].unique()) == [16] and list(eg["attr_seed"].unique()) == [0]


def test_ensemble_aligns_rows_on_basin_and_date(tmp_path, client):
    """A seed whose file lists rows in another order is aligned, not added row by row."""
    qobs = observed(3, seed=2)
    runs = tmp_path / "runs"
    sims = {s: noisy(qobs, 20 + s) for s in (1, 2)}
    cell(runs, "ea", "physics", None, 1, qobs, sims[1])
    d2 = cell(runs, "ea", "physics", None, 2, qobs, sims[2])
    df = pd.read_parquet(d2 / "predictions.parquet")
    df.sample(frac=1.0, random_state=1).to_parquet(d2 / "predictions.parquet", index=False)
    write_done(d2)  # as a run that wrote its rows in this order would have
    collect(runs, tmp_path / "res", client)
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    ens = m[m["member"] == "ensemble"].set_index("basin").loc[basin_ids(3)]
    mean_sim = (sims[1] + sims[2]) / 2
    np.testing.assert_allclose(
        ens["NSE"], [np_nse(qobs[i], mean_sim[i]) for i in range(3)], rtol=1e-12
    )
    assert len(DATES) == 400
