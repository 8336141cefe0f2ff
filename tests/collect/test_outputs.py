"""End to end on a LocalCluster: every output file, unfinished cells, tables, comparison, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.collect import collect
from tests.collect.conftest import cell, noisy, observed


def _grid(runs, qobs):
    for seed in (1, 2):
        cell(runs, "ea", "physics", None, seed, qobs, noisy(qobs, seed, 0.8))
        cell(runs, "ea", "gaussian", 8, seed, qobs, noisy(qobs, 10 + seed, 0.4))
        cell(runs, "ea", "gaussian", 32, seed, qobs, noisy(qobs, 20 + seed, 0.3))
        cell(runs, "ct", "one_hot", None, seed, qobs, noisy(qobs, 30 + seed, 0.6))
        cell(runs, "ea", "mixed", 32, seed, qobs, noisy(qobs, 40 + seed, 0.5))
    cell(runs, "ea", "gaussian", 8, 3, qobs, noisy(qobs, 99), done=False)  # unfinished


def test_collect_writes_every_output(tmp_path, client):
    qobs = observed(6)
    runs, out = tmp_path / "runs", tmp_path / "res"
    _grid(runs, qobs)
    rep = collect(runs, out, client)
    assert rep.unfinished == ["t/ea/num_of_sf/8/0/seed3"]
    assert rep.cells == 10 and len(rep.computed) == 10 and rep.problems == []
    for name in (
        "metrics.parquet",
        "summary.csv",
        "summary.md",
        "paper_table.csv",
        "paper_table.md",
        "comparison.csv",
        "nse_cdf.png",
        "nse_vs_dim.png",
        "nse_box_by_arch.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "nse_cdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    m = pd.read_parquet(out / "metrics.parquet")
    assert list(m.columns[:7]) == [
        "experiment",
        "arch",
        "static",
        "dim",
        "attr_seed",
        "member",
        "basin",
    ]
    assert len(m) == 5 * 3 * 6 and set(m["member"]) == {"1", "2", "ensemble"}

    summ = pd.read_csv(out / "summary.csv", dtype={"seed_list": str})
    ep = summ.set_index("experiment").loc["EP"]
    ens = m[(m["experiment"] == "EP") & (m["member"] == "ensemble")]["NSE"]
    per_seed = (
        m[(m["experiment"] == "EP") & (m["member"] != "ensemble")].groupby("member")["NSE"].median()
    )
    assert ep["seeds"] == 2 and ep["seed_list"] == "1,2"
    np.testing.assert_allclose(ep["ensemble_median_nse"], ens.median(), rtol=1e-5)
    np.testing.assert_allclose(ep["seed_median_nse_mean"], per_seed.mean(), rtol=1e-5)
    np.testing.assert_allclose(ep["seed_median_nse_std"], per_seed.std(ddof=1), rtol=1e-5)
    assert ep["basins_ensemble_nse_lt0"] == (ens < 0).sum()

    paper = pd.read_csv(out / "paper_table.csv", index_col=0)
    assert list(paper.index) == ["EA-LSTM", "CT-LSTM"]
    assert list(paper.columns) == ["physics", "gaussian-8", "gaussian-32", "one_hot", "mixed-32"]
    np.testing.assert_allclose(paper.loc["EA-LSTM", "physics"], ens.median(), rtol=1e-5)
    assert np.isnan(paper.loc["CT-LSTM", "physics"])
    assert "| EA-LSTM |" in (out / "paper_table.md").read_text()

    comp = pd.read_csv(out / "comparison.csv").set_index("experiment")
    assert set(comp.index) == {"EG-8", "EG-32", "CO", "EM-32"} and set(comp["baseline"]) == {"EP"}
    eg = m[(m["experiment"] == "EG-32") & (m["member"] == "ensemble")].set_index("basin")["NSE"]
    diff = eg - ens.set_axis(m[(m["experiment"] == "EP") & (m["member"] == "ensemble")]["basin"])
    np.testing.assert_allclose(comp.loc["EG-32", "median_diff"], diff.median(), rtol=1e-5)
    np.testing.assert_allclose(
        comp.loc["EG-32", "p_value"], wilcoxon(diff.to_numpy()).pvalue, rtol=1e-5
    )


def test_cli_collect_and_baseline(tmp_path, client):
    qobs = observed(4)
    runs = tmp_path / "runs"
    _grid(runs, qobs)
    address = client.scheduler.address
    result = CliRunner().invoke(
        app,
        [
            "collect",
            str(runs),
            "--out",
            str(tmp_path / "res"),
            "--scheduler",
            address,
            "--baseline",
            "EG-8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "dask dashboard:" in result.output and "| EG-32 |" in result.output
    comp = pd.read_csv(tmp_path / "res" / "comparison.csv")
    assert set(comp["baseline"]) == {"EG-8"} and "EP" in set(comp["experiment"])

    bad = CliRunner().invoke(
        app,
        [
            "collect",
            str(runs),
            "--out",
            str(tmp_path / "res"),
            "--scheduler",
            address,
            "--baseline",
            "EX-9",
        ],
    )
    assert bad.exit_code == 2
    lines = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert (
        lines[-1].startswith("error: --baseline EX-9: no such experiment")
        and "EP, EG-8, EG-32" in lines[-1]
    )
    assert "Traceback" not in bad.output
