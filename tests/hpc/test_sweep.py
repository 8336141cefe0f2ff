"""Sweeps in grid files through the real CLI (no training): expansion, names and folders, the
paper grid unchanged, packing, a 1,200-point dry run, and one line per problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rvhpc.resources import profiles_dir
from tests.hpc._gridtools import SMOKE, rvhpc

HERE = Path(__file__).parent
VAL = ["2001-12-01", "2001-12-31"]


def sweep_grid(folder: Path, name: str = "sw", **changes) -> Path:
    """The smoke grid with a validation period, a two-axis grid sweep and an experiment sweep."""
    data = yaml.safe_load(SMOKE.read_text())
    data["name"], data["runs_dir"] = name, f"runs/{name}"
    data["data"]["store"] = f"runs/{name}/data/store.h5"
    data["data"]["eval_period"] = ["2000-03-01", "2001-11-30"]
    data["data"]["validation_period"] = VAL
    data["sweep"] = {"hidden": [4, 8], "dropout": [0.0, 0.4]}
    data["experiments"] = [
        {"arch": "ea", "static": "physics", "seeds": [0, 1]},
        {
            "arch": "ea",
            "static": "gaussian",
            "dims": [8],
            "seeds": [0],
            "sweep": {"lr": [0.001, 0.01, 0.1]},
            "train": {"epochs": 1},
        },
    ]
    data.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def show(grid: Path | str, cwd: Path | None = None) -> dict:
    proc = rvhpc("grid", "show", grid, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_grid_and_experiment_sweeps_expand_to_the_product(tmp_path: Path) -> None:
    grid = sweep_grid(tmp_path)
    cells = show(grid)["cells"]
    # EP: 2 x 2 points x 2 seeds; EG-8: 2 x 2 x 3 points x 1 seed
    assert len(cells) == 4 * 2 + 12
    names = [c["experiment"] for c in cells]
    assert names[:2] == ["EP/hidden=4,dropout=0.0"] * 2
    assert "EG-8/hidden=8,dropout=0.4,lr=0.1" in names
    assert len(set(names)) == 4 + 12
    dirs = [Path(c["run_dir"]) for c in cells]
    assert len(set(dirs)) == len(dirs) and len({c["id"] for c in cells}) == len(cells)
    first = dirs[0].relative_to(tmp_path / "runs" / "sw")
    assert str(first) == "synthetic/ea/physics/hidden=4,dropout=0.0/seed0"
    assert str(dirs[-1]).endswith("ea/num_of_sf/8/0/hidden=8,dropout=0.4,lr=0.1/seed0")
    # each point trains its own settings, over the experiment's own train and the grid's
    last = cells[-1]["config"]
    assert (last["hidden"], last["dropout"], last["lr"], last["epochs"]) == (8, 0.4, 0.1, 1)
    assert cells[0]["config"]["epochs"] == 2 and cells[0]["config"]["val_period"] == VAL
    assert last["point"] == {
        "name": "hidden=8,dropout=0.4,lr=0.1",
        "values": {"hidden": 8, "dropout": 0.4, "lr": 0.1},
    }
    # the work estimate counts every point: 5 basins x 730 days x (8 cells x 2 + 12 x 1 epochs)
    assert show(grid)["estimate"]["sample_epochs"] == 5 * 730 * (8 * 2 + 12 * 1)
    # stable: the same file gives the same ids, names and folders
    assert show(grid)["cells"] == cells
    text = rvhpc("grid", "show", grid).stdout
    assert "EP: 4 points (hidden: 2 values, dropout: 2 values), 2 seeds each" in text
    assert "EG-8: 12 points (hidden: 2 values, dropout: 2 values, lr: 3 values)" in text


def test_paper_grid_cells_and_folders_unchanged(tmp_path: Path) -> None:
    data = show("paper", cwd=tmp_path)
    got = [
        [c["id"], str(Path(c["run_dir"]).relative_to(tmp_path / "runs" / "paper")), c["experiment"]]
        for c in data["cells"]
    ]
    assert got == json.loads((HERE / "data" / "paper_cells.json").read_text())


def test_packs_never_join_sweep_points(tmp_path: Path) -> None:
    grid = sweep_grid(tmp_path)
    proc = rvhpc(
        "submit", grid, "--profile", profiles_dir() / "local.yaml", "--dry-run", "--pack", "seeds"
    )
    assert proc.returncode == 0, proc.stderr
    # 16 points: EP's 4 pack their 2 seeds each, EG-8's 12 points stay apart
    assert "20 cells in 16 task(s)" in proc.stderr


def test_1200_point_sweep_submits_into_two_arrays(tmp_path: Path) -> None:
    grid = sweep_grid(
        tmp_path,
        name="big",
        sweep={"hidden": list(range(4, 44)), "dropout": [round(0.01 * i, 2) for i in range(30)]},
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0]}],
    )
    profile = tmp_path / "site.yaml"
    profile.write_text((profiles_dir() / "local.yaml").read_text() + "max_array_size: 1001\n")
    proc = rvhpc("submit", grid, "--profile", profile, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "1200 cells in 1200 task(s) of 2 array(s)" in proc.stderr
    arrays = [ln for ln in proc.stdout.splitlines() if ln.startswith("#SBATCH --array=")]
    assert arrays == ["#SBATCH --array=0-1000", "#SBATCH --array=0-198"]
    assert "--offset 1001" in proc.stdout
    manifest = next((tmp_path / "runs" / "big" / ".rvhpc" / "manifests").glob("big-*.json"))
    cells = json.loads(manifest.read_text())["cells"]
    assert len(cells) == 1200 and cells[1001]["experiment"] == "EP/hidden=37,dropout=0.11"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sweep": {"seed": [0, 1]}}, "sweep: seed is set per experiment or by data"),
        ({"sweep": {"device": ["cpu"]}}, "device changes how a run executes"),
        ({"sweep": {"hiden": [4]}}, "hiden is not a training setting"),
        ({"sweep": {"hidden": []}}, "sweep.hidden: give a list of at least one value"),
        ({"sweep": {"hidden": [4, 4]}}, "a value is listed twice"),
        ({"sweep": {"precision": ["a/b"]}}, "cannot name a folder"),
        ({"sweep": {"dropout": [1.5]}}, "training option dropout"),
        ({"train": {"early_stopping": {"patience": 0}}}, "early_stopping.patience"),
    ],
)
def test_bad_sweeps_are_one_line(tmp_path: Path, change: dict, expected: str) -> None:
    grid = sweep_grid(tmp_path, **change)
    proc = rvhpc("grid", "show", grid)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_experiment_train_refuses_cell_keys_and_shared_folders(tmp_path: Path) -> None:
    exp = {"arch": "ea", "static": "physics", "seeds": [0], "train": {"seed": 3}}
    proc = rvhpc("grid", "show", sweep_grid(tmp_path, sweep=None, experiments=[exp]))
    assert proc.returncode == 2 and "seed are set per experiment" in proc.stderr, proc.stderr
    a = {"arch": "ea", "static": "physics", "seeds": [0], "train": {"epochs": 1}}
    b = {**a, "train": {"epochs": 2}}
    proc = rvhpc("grid", "show", sweep_grid(tmp_path, sweep=None, experiments=[a, b]))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "both write synthetic/ea/physics/seed0" in proc.stderr
    assert "sweep the differing setting" in proc.stderr


def test_validation_period_inside_a_period_is_refused(tmp_path: Path) -> None:
    data = {"validation_period": ["2001-11-01", "2001-12-31"]}
    base = yaml.safe_load(sweep_grid(tmp_path).read_text())["data"]
    proc = rvhpc("grid", "show", sweep_grid(tmp_path, data={**base, **data}))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "shares 30 days with the evaluation period" in proc.stderr
    grid = sweep_grid(tmp_path, train={"early_stopping": {"patience": 2}})
    plain = yaml.safe_load(grid.read_text())
    del plain["data"]["validation_period"]
    grid.write_text(yaml.safe_dump(plain, sort_keys=False))
    proc = rvhpc("grid", "show", grid)
    assert proc.returncode == 2 and "needs a validation period" in proc.stderr, proc.stderr


def search_experiment(**params) -> dict:
    search = {"method": "optuna", "trials": 3, "seed": 11, "params": params}
    return {"arch": "ea", "static": "physics", "seeds": [0, 1], "search": search}


def test_search_space_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    exp = search_experiment(
        hidden={"float": [4, 16]},
        dropout={"float": [0.5, 1.5]},
        seed={"int": [0, 1]},
        lr={"float": [0, 0.1], "log": True},
        hiden={"int": [1, 2]},
        seq_length={"int": [30, 10]},
    )
    grid = sweep_grid(tmp_path, sweep=None, experiments=[exp])
    proc = rvhpc("submit", grid, "--profile", profiles_dir() / "local.yaml", "--dry-run")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    expected = [
        "params.hidden: hidden takes whole numbers",
        "params.dropout: 1.5 is not a valid setting",
        "params.seed: seed is set per experiment or by data, not searched",
        "params.lr: log needs low > 0",
        "params.lr: 0.0 is not a valid setting",
        "params.hiden: hiden is not a training setting",
        "params.seq_length: int [30, 10]: low must be below high",
    ]
    assert len(lines) == len(expected), proc.stderr
    for line, part in zip(lines, expected, strict=True):
        assert "experiments[0] (ea/physics): search: " in line and part in line, line
    assert not (tmp_path / "runs").exists()
    # a sound space: one line per experiment in grid show, trial folders, no settings yet
    exp = search_experiment(hidden={"int": [2, 6]}, dropout={"float": [0.0, 0.5]})
    grid = sweep_grid(tmp_path, sweep=None, experiments=[exp])
    data = show(grid)
    assert [c["experiment"] for c in data["cells"]] == [f"EP/trial={k}" for k in (0, 0, 1, 1, 2, 2)]
    assert data["cells"][0]["search"]["study"].endswith("synthetic/ea/physics/optuna.journal")
    text = rvhpc("grid", "show", grid).stdout
    assert "EP: search of 3 trials (tpe, seed 11; hidden, dropout), 2 seeds each" in text
    # a search chooses on validation: without a validation period it is refused
    plain = yaml.safe_load(grid.read_text())
    del plain["data"]["validation_period"]
    grid.write_text(yaml.safe_dump(plain, sort_keys=False))
    proc = rvhpc("grid", "show", grid)
    assert proc.returncode == 2 and "set data.validation_period" in proc.stderr, proc.stderr
