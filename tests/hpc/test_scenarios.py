"""Grid scenarios: several basin lists, training periods and k-fold PUB folds expand to the right
cells and run directories; a real tiny PUB grid predicts every basin once, by a model that never
trained on it; bad scenario input gets one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rvhpc import progress
from rvhpc.data.ensure import ensure_data
from rvhpc.errors import ConfigError
from rvhpc.grid.basinlists import synthetic_ids
from rvhpc.grid.estimate import estimate
from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import data_plan
from rvhpc.grid.scenarios import folds_of
from tests.conftest import TINY_EVAL, TINY_TRAIN
from tests.hpc._gridtools import rvhpc

TRAIN = {"hidden": 4, "seq_length": 20, "batch_size": 64, "epochs": 1, "device": "cpu"}


def _lists(folder: Path, lists: dict[str, list[str]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, ids in lists.items():
        (folder / f"{name}.txt").write_text("".join(f"{b}\n" for b in ids))
    return {name: f"lists/{name}.txt" for name in lists}


def _grid(folder: Path, experiments: list, lists: dict | None = None, **data) -> Path:
    ids = synthetic_ids(9, 3)
    spec = {
        "name": "scen",
        "data": {
            "synthetic": {"basins": 9, "start": "2000-01-01", "end": "2003-12-31", "seed": 3},
            "basins": _lists(folder / "lists", lists or {"all": ids, "half": ids[::2]}),
            "store": "runs/data/store.h5",
            "train_period": ["2002-01-01", "2003-12-31"],
            "eval_period": ["2000-03-01", "2001-12-31"],
            **data,
        },
        "runs_dir": "runs",
        "train": TRAIN,
        "experiments": experiments,
    }
    path = folder / "scen.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _rel(grid, cell) -> str:
    return cell.run_dir.relative_to(grid.runs_dir).as_posix()


def test_two_list_grid_expands_per_list(tmp_path: Path) -> None:
    ids = synthetic_ids(9, 3)
    grid = load_grid(
        _grid(
            tmp_path,
            [
                {"arch": "ea", "static": "physics", "seeds": [0, 1]},
                {"arch": "ea", "static": "gaussian", "dims": [8], "basin_lists": ["half"]},
            ],
        )
    )
    assert [_rel(grid, c) for c in grid.cells] == [
        "all/ea/physics/seed0",
        "all/ea/physics/seed1",
        "half/ea/physics/seed0",
        "half/ea/physics/seed1",
        "half/ea/num_of_sf/8/0/seed0",
    ]
    for cell in grid.cells:
        name = _rel(grid, cell).split("/")[0]
        assert cell.config["basins"] == (ids if name == "all" else ids[::2])
        assert cell.config["eval_basins"] is None and cell.config["train_period"] is None
        assert cell.scenario["basin_list"] == name and cell.scenario["evaluation"] == "temporal"
    assert len({c.id for c in grid.cells}) == len(grid.cells)
    # one store serves both lists: it is prepared from their union
    plan = data_plan(grid)
    assert plan["union"] == ids and plan["basins"].endswith("store_union.txt")
    # the work estimate counts each cell's own basins
    assert estimate(grid)["sample_epochs"] == (2 * 9 + 3 * 5) * 730 * TRAIN["epochs"]


def test_single_list_form_keeps_plain_cells(tmp_path: Path) -> None:
    ids = synthetic_ids(9, 3)
    (tmp_path / "one.txt").write_text("".join(f"{b}\n" for b in ids))
    spec = yaml.safe_load(_grid(tmp_path, [{"arch": "ea", "static": "physics"}]).read_text())
    spec["data"].pop("synthetic")
    spec["data"].update(camels_root="camels", basins="one.txt")
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(spec))
    grid = load_grid(tmp_path / "plain.yaml")
    (cell,) = grid.cells
    assert _rel(grid, cell) == "one/ea/physics/seed0" and cell.scenario is None
    assert cell.config["basins"] is None and "basins" not in data_plan(grid).get("union", [])


def test_training_periods_expand_like_an_axis(tmp_path: Path) -> None:
    grid = load_grid(
        _grid(
            tmp_path,
            [
                {"arch": "ea", "static": "physics", "basin_lists": ["half"]},
                {
                    "arch": "ea",
                    "static": "one_hot",
                    "basin_lists": ["all"],
                    "train_periods": [["2003-01-01", "2003-12-31"]],
                },
            ],
            train_periods=[{"last_years": 1}, {"last_years": 2}],
        )
    )
    assert [(_rel(grid, c), c.config["train_period"]) for c in grid.cells] == [
        ("half/last1y/ea/physics/seed0", ["2003-01-01", "2003-12-31"]),
        ("half/last2y/ea/physics/seed0", ["2002-01-01", "2003-12-31"]),
        ("all/20030101-20031231/ea/one_hot/seed0", ["2003-01-01", "2003-12-31"]),
    ]
    assert [c.scenario["train_years"] for c in grid.cells] == [1.0, 2.0, 1.0]


def test_kfold_grid_folds_partition_the_list(tmp_path: Path) -> None:
    ids = synthetic_ids(9, 3)
    grid = load_grid(
        _grid(
            tmp_path,
            [
                {
                    "arch": "ea",
                    "static": "physics",
                    "seeds": [0, 1],
                    "basin_lists": ["all"],
                    "evaluation": {"scheme": "kfold", "folds": 3, "seed": 5},
                }
            ],
        )
    )
    assert [_rel(grid, c) for c in grid.cells] == [
        f"all/kfold3-s5/fold{k}/ea/physics/seed{s}" for k in range(3) for s in (0, 1)
    ]
    held = [grid.cells[2 * k].config["eval_basins"] for k in range(3)]
    assert sorted(b for fold in held for b in fold) == sorted(ids)  # each basin held out once
    assert [len(f) for f in held] == [3, 3, 3]
    for cell in grid.cells:
        assert set(cell.config["basins"]).isdisjoint(cell.config["eval_basins"])
        assert set(cell.config["basins"]) | set(cell.config["eval_basins"]) == set(ids)
    # the same seed gives the same folds; another seed other folds
    assert folds_of(tuple(ids), 3, 5) == [tuple(f) for f in held]
    assert folds_of(tuple(ids), 3, 6) != [tuple(f) for f in held]
    # folds of one experiment, seed and scenario are neighbours, seeds within a fold adjacent
    assert [c.seed for c in grid.cells] == [0, 1] * 3


@pytest.mark.parametrize(
    ("experiment", "lists", "message"),
    [
        (
            {"arch": "ea", "static": "physics", "basin_lists": ["third"]},
            None,
            "basin list 'third' is not in data.basins (known: all, half)",
        ),
        (
            {"arch": "ea", "static": "physics", "evaluation": {"scheme": "kfold", "folds": 5}},
            {"small": ["01000000", "02000000", "03000000"]},
            "folds 5 > 3 basins of list 'small'; use at most 3 folds",
        ),
        (
            {"arch": "ea", "static": "physics", "evaluation": {"scheme": "kfold", "folds": 2}},
            {"one": ["01000000"]},
            "k-fold needs at least 2 basins; basin list 'one' holds 1",
        ),
    ],
)
def test_bad_scenarios_get_one_line(tmp_path: Path, experiment, lists, message) -> None:
    path = _grid(tmp_path, [experiment], lists)
    with pytest.raises(ConfigError, match="experiments\\[0\\]"):
        load_grid(path)
    proc = rvhpc("grid", "show", path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr, proc.stderr


def test_pub_predicts_every_basin_once_by_a_model_that_never_saw_it(
    tiny_camels, tmp_path: Path
) -> None:
    """A real 2-fold PUB grid on the tiny CAMELS tree, trained in-process."""
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_cell

    progress.set_quiet(True)
    ids = tiny_camels.basins
    assert synthetic_ids(4, 0) == list(ids)  # k-fold of a synthetic grid knows its ids up front
    spec = {
        "name": "pub",
        "data": {
            "camels_root": str(tiny_camels.root),
            "basins": {"four": str(tiny_camels.basin_file)},
            "store": "runs/data/store.h5",
            "train_period": list(TINY_TRAIN),
            "eval_period": list(TINY_EVAL),
        },
        "runs_dir": "runs",
        "train": TRAIN,
        "experiments": [
            {"arch": "ea", "static": s, "evaluation": {"scheme": "kfold", "folds": 2, "seed": 1}}
            for s in ("physics", "one_hot")
        ],
    }
    (tmp_path / "pub.yaml").write_text(yaml.safe_dump(spec))
    grid = load_grid(tmp_path / "pub.yaml")
    assert len(grid.cells) == 4
    ensure_data(data_plan(grid))
    for cell in grid.cells:
        train_cell(TrainConfig(**cell.config), cell.run_dir)
    for static in ("physics", "one_hot"):
        predicted: list[str] = []
        for cell in (c for c in grid.cells if c.static == static):
            config = json.loads((cell.run_dir / "config.json").read_text())
            pred = pd.read_parquet(cell.run_dir / "predictions.parquet")
            basins = list(dict.fromkeys(pred["basin"]))
            assert basins == config["eval_basins"]
            assert set(basins).isdisjoint(config["basins"])  # never trained on them
            assert pred["qsim"].notna().all()
            predicted += basins
        assert sorted(predicted) == sorted(ids)  # every basin exactly once


def _store_grid(folder: Path, store: Path, lists: dict[str, list[str]], evaluation=None) -> Path:
    """A grid over an existing store (it prepares nothing) with named basin lists."""
    spec = {
        "name": "over",
        "data": {"store": str(store), "basins": _lists(folder / "lists", lists)},
        "runs_dir": "runs",
        "train": TRAIN,
        "experiments": [
            {"arch": "ea", "static": "physics", "basin_lists": [name], "evaluation": evaluation}
            for name in lists
        ],
    }
    path = folder / "over.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_basin_missing_from_the_store_is_refused_before_training(
    tiny_camels, tiny_store, tmp_path: Path
) -> None:
    """Issue 19, item 4: a held-out basin the store lacks is found by grid show and run at once,
    not after a fold trained (grid over an existing store, and over synthetic data)."""
    ids = list(tiny_camels.basins)
    kfold = {"scheme": "kfold", "folds": 2, "seed": 0}
    path = _store_grid(tmp_path, tiny_store, {"odd": [*ids[:3], "09999999"]}, kfold)
    for command in (["grid", "show"], ["run"]):
        proc = rvhpc(*command, path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().count("\n") == 0, proc.stderr
        assert "basin list 'odd' names 1 basin(s) that are not in the store" in proc.stderr
        assert "09999999" in proc.stderr
    assert not (tmp_path / "runs" / "odd").exists()  # nothing trained, no run folder
    # synthetic data: checked against the ids the synthetic tree will hold
    synth = _grid(tmp_path / "s", [{"arch": "ea", "static": "physics"}], {"x": ["01013500"]})
    proc = rvhpc("grid", "show", synth)
    assert proc.returncode == 2 and "not in the 9 synthetic basins" in proc.stderr, proc.stderr


def test_train_refuses_held_out_basins_missing_from_the_store_up_front(
    tiny_camels, tiny_store, tmp_path: Path
) -> None:
    from rvhpc.errors import DataError
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_cell

    ids = list(tiny_camels.basins)
    config = TrainConfig(store=tiny_store, basins=ids[:3], eval_basins=["09999999"], **TRAIN)
    with pytest.raises(DataError, match="held-out .eval_basins. basin.s. are not in the store"):
        train_cell(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
