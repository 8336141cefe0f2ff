"""Bad input: one clear line each, via the CLI, no traceback."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.collect import collect
from rvhpc.errors import CollectError
from rvhpc.runrecords import write_done
from tests.collect.conftest import basin_ids, cell, noisy, observed


def _run(client, *args):
    result = CliRunner().invoke(
        app, ["collect", *map(str, args), "--scheduler", client.scheduler.address]
    )
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in result.output
    return result, lines


def test_no_finished_cells(tmp_path, client):
    qobs = observed(2)
    cell(tmp_path / "runs", "ea", "physics", None, 1, qobs, qobs, done=False)
    result, lines = _run(client, tmp_path / "runs", "--out", tmp_path / "res")
    assert result.exit_code == 2 and len(lines) == 1
    assert "no finished cells" in lines[0] and "1 unfinished" in lines[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    result, lines = _run(client, empty, "--out", tmp_path / "res")
    assert result.exit_code == 2 and "no finished cells" in lines[0]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "column"])
def test_corrupt_predictions_skipped_and_reported(tmp_path, client, damage):
    qobs = observed(3)
    runs = tmp_path / "runs"
    for seed in (1, 2, 3):
        d = cell(runs, "ea", "physics", None, seed, qobs, noisy(qobs, seed))
    pred = d / "predictions.parquet"
    if damage == "truncate":
        pred.write_bytes(pred.read_bytes()[: pred.stat().st_size // 2])
    elif damage == "garbage":
        pred.write_bytes(b"not a parquet file")
    else:
        pd.read_parquet(pred).drop(columns="qsim").to_parquet(pred)
    result, lines = _run(client, runs, "--out", tmp_path / "res")
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert (
        "cell t/ea/physics/seed3: predictions.parquet" in lines[0] and "--allow-partial" in lines[0]
    )
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")  # the good cells are still collected
    assert set(m["member"]) == {"1", "2", "ensemble"}
    result, lines = _run(client, runs, "--out", tmp_path / "res2", "--allow-partial")
    assert result.exit_code == 0 and lines == []
    assert "1 problem(s)" in result.output


def test_mismatched_basin_sets_refused(tmp_path, client):
    qobs = observed(4)
    runs = tmp_path / "runs"
    cell(runs, "ea", "physics", None, 1, qobs, noisy(qobs, 1))
    cell(runs, "ea", "physics", None, 2, qobs[:3], noisy(qobs[:3], 2), basins=basin_ids(4)[:3])
    cell(runs, "ea", "one_hot", None, 1, qobs, noisy(qobs, 3))
    with pytest.raises(CollectError) as err:
        collect(runs, tmp_path / "res", client)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("experiment EP: seeds have different basin sets")
    assert (
        "t/ea/physics/seed1 (4 basins)" in msg and "t/ea/physics/seed2 (3 basins, 1 differ)" in msg
    )
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    assert not ((m["experiment"] == "EP") & (m["member"] == "ensemble")).any()
    assert ((m["experiment"] == "EO") & (m["member"] == "ensemble")).any()


def test_days_differ_refused(tmp_path, client):
    qobs = observed(2)
    runs = tmp_path / "runs"
    cell(runs, "ea", "physics", None, 1, qobs, noisy(qobs, 1))
    d = cell(runs, "ea", "physics", None, 2, qobs, noisy(qobs, 2))
    df = pd.read_parquet(d / "predictions.parquet")
    df.iloc[5:].to_parquet(d / "predictions.parquet", index=False)
    write_done(d)  # a finished run whose evaluation covered other days
    rep = collect(runs, tmp_path / "res", client, allow_partial=True)
    assert len(rep.problems) == 1
    assert rep.problems[0].startswith(
        "experiment EP: cells t/ea/physics/seed1 and t/ea/physics/seed2 differ in days"
    )
