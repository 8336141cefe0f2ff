"""A grid edited after its cells finished (issue 19, item 1): a train key, a basin list and a
period. Its cells are reported *stale* with the field that differs, are not rerun by default,
are rerun with --rerun-stale, and are never collected as current; a store finished runs depend on
is not rebuilt under them. And a cell that diverged is shown as such and is not rerun (item 2).

Everything runs through the real CLI (run, status, submit --dry-run, collect) on a tiny synthetic
grid: two cells, one epoch each."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from rvhpc.exitcodes import EXIT_DIVERGED
from rvhpc.grid.basinlists import synthetic_ids
from rvhpc.resources import profiles_dir
from rvhpc.runfiles import DIVERGED, DONE
from tests.hpc._gridtools import rvhpc, write_grid

LOCAL = profiles_dir() / "local.yaml"
IDS = synthetic_ids(5, 3)


def _grid(folder: Path) -> Path:
    lists = folder / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "all.txt").write_text("".join(f"{b}\n" for b in IDS))
    (lists / "half.txt").write_text("".join(f"{b}\n" for b in IDS[::2]))
    spec = {
        "name": "edited",
        "data": {
            "synthetic": {"basins": 5, "start": "2000-01-01", "end": "2003-12-31", "seed": 3},
            "basins": {"all": "lists/all.txt", "half": "lists/half.txt"},
            "store": "runs/data/store.h5",
            "train_period": ["2002-01-01", "2003-12-31"],
            "eval_period": ["2000-03-01", "2001-12-31"],
        },
        "runs_dir": "runs",
        "train": {"hidden": 4, "seq_length": 20, "batch_size": 256, "epochs": 1, "device": "cpu"},
        "experiments": [
            {"name": "Half", "arch": "ea", "static": "physics", "basin_lists": ["half"]},
            {
                "arch": "ea",
                "static": "one_hot",
                "basin_lists": ["all"],
                "train_periods": [{"last_years": 1}],
            },
        ],
    }
    path = folder / "edited.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _edit(path: Path, change) -> None:
    spec = yaml.safe_load(path.read_text())
    change(spec)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def _status(path: Path) -> list[dict]:
    proc = rvhpc("status", path, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["cells"]


def _error(proc) -> str:
    """The one error line of a failed command (and no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def _times(runs: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in runs.rglob(DONE)}


def test_edited_grid_cells_are_stale_not_rerun_and_never_collected(tmp_path: Path) -> None:
    path, runs, res = _grid(tmp_path), tmp_path / "runs", tmp_path / "res"
    first = rvhpc("run", path)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "2 cells run" in first.stdout
    # a line per finished cell, naming its experiment and seed, with an ETA while cells are left
    assert (
        "cell 0 Half seed 0 done; ETA" in first.stderr and "cell 1 EO seed 0 done" in first.stderr
    )
    config = json.loads((runs / "half/ea/physics/seed0/config.json").read_text())
    assert config["name"] == "Half" and config["experiment"] == "Half"  # the name, end to end
    trained = _times(runs)

    # 1. a train key: every cell is stale, folders kept, nothing rerun or collected
    _edit(path, lambda g: g["train"].update(hidden=8))
    cells = _status(path)
    assert [c["state"] for c in cells] == ["stale", "stale"]
    assert all("hidden 4 -> 8" in c["reason"] for c in cells), cells
    again = rvhpc("run", path)
    assert again.returncode == 1 and "0 cells run" in again.stdout and "2 stale" in again.stdout
    line = _error(again)
    assert "hidden 4 -> 8" in line and "--rerun-stale" in line
    assert _times(runs) == trained  # not rerun
    sub = rvhpc("submit", path, "--only-missing", "--dry-run", "--profile", LOCAL)
    assert sub.returncode == 1 and "#SBATCH" not in sub.stdout
    assert "hidden 4 -> 8" in _error(sub)
    col = rvhpc("collect", path, "--out", res, "--workers", "1")
    assert col.returncode == 2 and "stale (hidden 4 -> 8)" in _error(col)
    assert not (res / "metrics.parquet").exists()
    _edit(path, lambda g: g["train"].update(hidden=4))  # undone: the runs are current again
    assert [c["state"] for c in _status(path)] == ["done", "done"]

    # 2. a basin list shrinks: its cell is stale, and only it is rerun, with the flag
    (tmp_path / "lists" / "half.txt").write_text("".join(f"{b}\n" for b in IDS[::2][:2]))
    cells = _status(path)
    assert [c["state"] for c in cells] == ["stale", "done"]
    assert "basins 3 -> 2 basins (-1)" in cells[0]["reason"]
    col = rvhpc("collect", path, "--out", res, "--workers", "1")
    assert col.returncode == 2 and "half/ea/physics/seed0: stale (basins 3 -> 2" in _error(col)
    summary = pd.read_csv(res / "summary.csv")
    assert list(summary["experiment"]) == ["EO@all/last1y"]  # the stale cell is not in it
    rerun = rvhpc("run", path, "--rerun-stale")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "1 cells run, 1 already done" in rerun.stdout
    pred = pd.read_parquet(runs / "half/ea/physics/seed0/predictions.parquet")
    assert sorted(set(pred["basin"])) == sorted(IDS[::2][:2])

    # 3. a period: the store would be rebuilt under finished runs, so run refuses
    store = runs / "data" / "store.h5"
    built = store.stat().st_mtime_ns
    _edit(path, lambda g: g["data"].update(train_period=["2002-01-01", "2003-06-30"]))
    refused = rvhpc("run", path)
    line = _error(refused)
    assert refused.returncode == 2 and "2 finished run(s)" in line and "data.store" in line
    assert "train_period 2002-01-01..2003-12-31 -> 2002-01-01..2003-06-30" in line
    assert store.stat().st_mtime_ns == built
    # a new store beside the old one: the cells trained on the old one are stale
    _edit(path, lambda g: g["data"].update(store="runs/data/store-2.h5"))
    cells = _status(path)
    assert cells[1]["state"] == "stale"
    assert "train_period 2003-01-01..2003-12-31 -> 2002-07-01..2003-06-30" in cells[1]["reason"]
    beside = rvhpc("run", path)
    assert beside.returncode == 1 and "2 stale" in beside.stdout, beside.stderr[-3000:]
    assert "store rebuilt" in _error(beside)
    assert store.stat().st_mtime_ns == built and (runs / "data" / "store-2.h5").is_file()
    final = rvhpc("run", path, "--rerun-stale")
    assert final.returncode == 0 and "2 cells run" in final.stdout, final.stderr[-3000:]
    assert [c["state"] for c in _status(path)] == ["done", "done"]
    col = rvhpc("collect", path, "--out", res, "--workers", "1")
    assert col.returncode == 0, col.stderr[-2000:]
    assert set(pd.read_csv(res / "summary.csv")["experiment"]) == {"Half@half", "EO@all/last1y"}


def test_diverged_cell_is_shown_not_rerun_then_rerun_with_other_settings(tmp_path: Path) -> None:
    path = write_grid(
        tmp_path, name="nan", experiments=[{"arch": "ea", "static": "physics"}], lr=1e30, epochs=1
    )
    run = rvhpc("run", path)
    assert run.returncode == EXIT_DIVERGED and "1 diverged" in run.stdout, run.stderr[-3000:]
    assert "diverged" in _error(run)
    (cell,) = _status(path)
    assert cell["state"] == "diverged" and "diverged at epoch 1" in cell["reason"]
    folder = Path(cell["run_dir"])
    assert (folder / DIVERGED).is_file() and not (folder / DONE).exists()
    again = rvhpc("run", path)  # the same settings diverge again: not rerun
    assert again.returncode == EXIT_DIVERGED and "0 cells run" in again.stdout
    _edit(path, lambda g: g["train"].update(lr=1e-3))
    (cell,) = _status(path)
    assert cell["state"] == "stale" and "lr 1e+30 -> 0.001" in cell["reason"]
    fixed = rvhpc("run", path, "--rerun-stale")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert (folder / DONE).is_file() and not (folder / DIVERGED).exists()
