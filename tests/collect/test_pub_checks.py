"""collect checks the basins a cell predicts against its config (issue 19, item 3): rows added to
a PUB fold's predictions for one of its own training basins (DONE rewritten to match) are not
scored as held-out results, nor rows of a basin no config names; a temporal cell of a basin list
is held to its list, and a cell whose config trains on a basin it holds out is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rvhpc.collect import collect
from rvhpc.errors import CollectError
from rvhpc.runrecords import write_done
from tests.collect.conftest import DATES, basin_ids, noisy, observed
from tests.support.fake_runs import write_cell

IDS = basin_ids(4)
ROWS = ([0, 2], [1, 3])


def _pub(runs: Path, qobs: np.ndarray) -> dict[tuple[int, int], Path]:
    dirs = {}
    for fold, rows in enumerate(ROWS):
        held = [IDS[i] for i in rows]
        train = [b for b in IDS if b not in held]
        for seed in (1, 2):
            run_dir = runs / f"all/kfold2-s0/fold{fold}/ea/physics/seed{seed}"
            write_cell(
                run_dir, "ea", "physics", None, None, seed, held, DATES, qobs[rows],
                noisy(qobs[rows], 10 * fold + seed),
            )  # fmt: skip
            config = json.loads((run_dir / "config.json").read_text())
            scenario = {"basin_list": "all", "evaluation": "kfold", "folds": 2, "fold_seed": 0}
            config.update(basins=train, eval_basins=held, scenario=scenario | {"fold": fold})
            (run_dir / "config.json").write_text(json.dumps(config))
            dirs[(fold, seed)] = run_dir
    return dirs


def _add_rows(run_dir: Path, basin: str, qobs_row: np.ndarray) -> None:
    """Rows of ``basin`` appended to the predictions (a perfect simulation), DONE rewritten."""
    path = run_dir / "predictions.parquet"
    extra = pd.DataFrame(
        {"basin": basin, "date": DATES.astype("datetime64[ns]"), "qobs": qobs_row, "qsim": qobs_row}
    )
    table = pd.concat([pd.read_parquet(path), extra], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    write_done(run_dir)  # DONE vouches for the tampered file


@pytest.mark.parametrize(
    "basin",
    [IDS[1], "09999999"],  # a training basin of fold 0; a basin in no config
    ids=["training-basin", "basin-in-no-config"],
)
def test_fold_predicting_other_basins_is_refused_naming_the_file(tmp_path, client, basin) -> None:
    qobs = observed(4)
    runs, out = tmp_path / "runs", tmp_path / "res"
    dirs = _pub(runs, qobs)
    _add_rows(dirs[(0, 1)], basin, qobs[1])
    with pytest.raises(CollectError) as refused:
        collect(runs, out, client)
    line = str(refused.value)
    assert str(dirs[(0, 1)] / "predictions.parquet") in line and "\n" not in line
    assert f"not in config.json eval_basins (the held-out basins), e.g. {basin}" in line
    # accepted as partial, the tampered seed is left out: never scored as held out
    rep = collect(runs, out, client, allow_partial=True)
    m = pd.read_parquet(out / "metrics.parquet")
    assert "1" not in set(m.loc[m["basin"] == IDS[0], "member"])  # seed 1 of fold 0 is out
    assert basin not in set(m["basin"]) or basin == IDS[1]
    held_by_1 = m[(m["basin"] == IDS[1]) & (m["member"] == "1")]
    assert len(held_by_1) == 1  # scored once, by its own fold (fold 1), not NSE 1.0 of fold 0
    assert held_by_1["NSE"].iloc[0] < 1.0 and len(rep.problems) == 1


def test_fold_lacking_a_held_out_basin_is_refused(tmp_path, client) -> None:
    qobs = observed(4)
    dirs = _pub(tmp_path / "runs", qobs)
    run_dir = dirs[(1, 2)]
    frame = pd.read_parquet(run_dir / "predictions.parquet")
    frame[frame["basin"] != IDS[3]].to_parquet(run_dir / "predictions.parquet", index=False)
    write_done(run_dir)
    with pytest.raises(
        CollectError, match=f"lacks 1 basin.s. of config.json eval_basins .* {IDS[3]}"
    ):
        collect(tmp_path / "runs", tmp_path / "res", client)


def test_temporal_list_cell_is_held_to_its_list(tmp_path, client) -> None:
    qobs = observed(3)
    run_dir = tmp_path / "runs/half/ea/physics/seed1"
    write_cell(run_dir, "ea", "physics", None, None, 1, IDS[:3], DATES, qobs, noisy(qobs, 1))
    config = json.loads((run_dir / "config.json").read_text())
    config.update(basins=IDS[:2], scenario={"basin_list": "half", "evaluation": "temporal"})
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(CollectError, match=f"not in config.json basins, e.g. {IDS[2]}"):
        collect(tmp_path / "runs", tmp_path / "res", client)


def test_config_holding_out_a_training_basin_is_refused(tmp_path, client) -> None:
    qobs = observed(4)
    dirs = _pub(tmp_path / "runs", qobs)
    path = dirs[(0, 2)] / "config.json"
    config = json.loads(path.read_text())
    config["basins"] = [*config["basins"], config["eval_basins"][0]]
    path.write_text(json.dumps(config))
    with pytest.raises(CollectError, match="a held-out basin cannot also be a training basin"):
        collect(tmp_path / "runs", tmp_path / "res", client)
