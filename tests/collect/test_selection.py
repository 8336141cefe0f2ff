"""Selection of sweep points and search trials on the validation period, through ``rvhpc
collect``: a case built so that the point best on validation is not the one best on test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.experiments import run_subdir
from rvhpc.runfiles import CONFIG_JSON, VAL_PREDICTIONS
from rvhpc.runrecords import run_is_done, write_done
from tests.collect.conftest import DATES, basin_ids, observed
from tests.support.fake_runs import simulate, write_cell

VAL_DATES = pd.date_range("2001-03-01", periods=200, freq="D")
#: the skill of each point's seeds on (validation, test): hidden=64 wins on validation only
SKILL = {64: (4.0, 0.6), 128: (0.6, 4.0), 256: (1.0, 1.0)}


def _predictions(path: Path, basins: list[str], dates, qobs, qsim) -> None:
    n_basins, n_days = qobs.shape
    pq.write_table(
        pa.table(
            {
                "basin": np.repeat(np.asarray(basins, dtype=object), n_days),
                "date": np.tile(dates.to_numpy().astype("datetime64[ns]"), n_basins),
                "qobs": qobs.ravel(),
                "qsim": qsim.ravel(),
            }
        ),
        path,
    )


def sweep_runs(root: Path, validation: bool = True) -> Path:
    """EP swept over hidden (3 points x 2 seeds), plus a plain EO, in the training format."""
    basins = basin_ids(5)
    qobs, qval = observed(5, seed=1), observed(5, seed=2)[:, : len(VAL_DATES)]
    for hidden, (val_skill, test_skill) in SKILL.items():
        for seed in (0, 1):
            point = f"hidden={hidden}"
            run_dir = root / run_subdir("t", "ea", "physics", None, None, seed, point)
            rng = np.random.default_rng([hidden, seed])
            write_cell(
                run_dir, "ea", "physics", None, None, seed, basins, DATES, qobs,
                simulate(rng, qobs, test_skill),
            )  # fmt: skip
            config = json.loads((run_dir / CONFIG_JSON).read_text())
            config["point"] = {"name": point, "values": {"hidden": hidden}}
            config["hidden"] = hidden
            (run_dir / CONFIG_JSON).write_text(json.dumps(config))
            if validation:
                qsim = simulate(rng, qval, val_skill)
                _predictions(run_dir / VAL_PREDICTIONS, basins, VAL_DATES, qval, qsim)
                write_done(run_dir)  # DONE vouches for both files
            assert run_is_done(run_dir)
    for seed in (0, 1):
        run_dir = root / run_subdir("t", "ea", "one_hot", None, None, seed)
        rng = np.random.default_rng([7, seed])
        write_cell(
            run_dir, "ea", "one_hot", None, None, seed, basins, DATES, qobs,
            simulate(rng, qobs, 1.0),
        )  # fmt: skip
    return root


def _collect(client, *args):
    result = CliRunner().invoke(
        app, ["collect", *map(str, args), "--scheduler", client.scheduler.address]
    )
    assert "Traceback" not in result.output
    return result


def test_selection_picks_the_best_on_validation_not_on_test(tmp_path, client):
    runs = sweep_runs(tmp_path / "runs")
    out = tmp_path / "res"
    result = _collect(client, runs, "--out", out)
    assert result.exit_code == 0, result.output
    points = pd.read_csv(out / "points.csv")
    assert sorted(points["point"]) == ["hidden=128", "hidden=256", "hidden=64"]
    best_val = points.loc[points["val_ensemble_median_nse"].idxmax(), "point"]
    best_test = points.loc[points["test_ensemble_median_nse"].idxmax(), "point"]
    assert (best_val, best_test) == ("hidden=64", "hidden=128")  # the case differs, as built
    selection = pd.read_csv(out / "selection.csv")
    assert len(selection) == 1
    row = selection.iloc[0]
    assert row["family"] == "EP" and row["chosen"] == "EP/hidden=64"
    ranked = points["val_ensemble_median_nse"].sort_values(ascending=False).to_numpy()
    assert row["margin"] > 0 and abs(row["margin"] - (ranked[0] - ranked[1])) < 1e-5
    chosen = points[points["chosen"]]
    assert list(chosen["point"]) == ["hidden=64"]
    # the paper table reports the chosen point's TEST score, and the plain EO as before
    paper = pd.read_csv(out / "paper_table.csv", index_col=0)
    assert paper.loc["EA-LSTM", "physics"] == chosen["test_ensemble_median_nse"].iloc[0]
    assert np.isfinite(paper.loc["EA-LSTM", "one_hot"])
    summary = pd.read_csv(out / "summary.csv")
    assert {"EP/hidden=64", "EP/hidden=128", "EP/hidden=256", "EO"} == set(summary["experiment"])
    val = pd.read_parquet(out / "val_metrics.parquet")
    assert set(val["experiment"]) == {"EP/hidden=64", "EP/hidden=128", "EP/hidden=256"}
    assert (out / "val_nse_vs_setting.png").stat().st_size > 1000


def test_no_validation_period_refuses_to_select(tmp_path, client):
    runs = sweep_runs(tmp_path / "runs", validation=False)
    result = _collect(client, runs, "--out", tmp_path / "res")
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "experiment family EP" in lines[0] and "refuses to choose on test" in lines[0]
    assert not (tmp_path / "res" / "selection.csv").exists()
