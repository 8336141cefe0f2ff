"""Grid files: expansion, ids, run directories, the paper grid, manifests and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rvhpc.data.ensure import ensure_data
from rvhpc.errors import ConfigError, DataError, RunDirError
from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import data_plan, read_manifest, write_manifest
from tests.hpc._gridtools import REPO, rvhpc, write_grid

PAPER_NAMES = {"EP", "EO", "CP", "CO", "PEA", "REA", "FP", "FO", "LSTM"}


def test_smoke_grid_expands_with_stable_ids(tmp_path: Path) -> None:
    path = write_grid(tmp_path)
    grid = load_grid(path)
    assert 4 <= len(grid.cells) <= 6
    assert [c.index for c in grid.cells] == list(range(len(grid.cells)))
    assert len({c.id for c in grid.cells}) == len(grid.cells)
    assert all(len(c.id) == 12 and int(c.id, 16) >= 0 for c in grid.cells)
    again = load_grid(path)
    assert [c.id for c in again.cells] == [c.id for c in grid.cells]
    # relative paths resolve against the grid file's folder
    assert grid.runs_dir == (tmp_path / "runs" / "smoke").resolve()
    assert grid.store == (tmp_path / "runs" / "smoke" / "data" / "store.h5").resolve()
    eg = next(c for c in grid.cells if c.static == "gaussian")
    assert eg.experiment == "EG-8"
    assert (
        eg.run_dir
        == grid.runs_dir / "synthetic" / "ea" / "num_of_sf" / "8" / "0" / f"seed{eg.seed}"
    )
    lstm = next(c for c in grid.cells if c.arch == "lstm")
    assert lstm.run_dir.relative_to(grid.runs_dir).as_posix() == "synthetic/no_static/seed0"
    assert eg.config["hidden"] == 8 and eg.config["seq_length"] == 30


def test_cell_id_follows_the_training_config(tmp_path: Path) -> None:
    a = load_grid(write_grid(tmp_path / "a"))
    b = load_grid(write_grid(tmp_path / "a", hidden=12))
    assert {c.id for c in a.cells}.isdisjoint({c.id for c in b.cells})


def test_samples_per_epoch_from_the_grid_file(tmp_path: Path) -> None:
    from rvhpc.grid.estimate import estimate

    every = load_grid(write_grid(tmp_path / "a"))
    drawn = load_grid(write_grid(tmp_path / "b", samples_per_epoch=1000))
    capped = load_grid(write_grid(tmp_path / "c", samples_per_epoch=10**6))
    assert all(c.config.get("samples_per_epoch") is None for c in every.cells)
    assert {c.config["samples_per_epoch"] for c in drawn.cells} == {1000}
    assert {c.id for c in every.cells}.isdisjoint({c.id for c in drawn.cells})
    windows = 5 * 730  # the smoke grid's basins x training days
    epochs = sum(c.config["epochs"] for c in every.cells)
    assert estimate(every)["sample_epochs"] == windows * epochs
    assert estimate(drawn)["sample_epochs"] == 1000 * epochs
    assert estimate(capped)["sample_epochs"] == windows * epochs
    with pytest.raises(ConfigError, match="samples_per_epoch"):
        load_grid(write_grid(tmp_path / "d", samples_per_epoch=0))


def test_numerics_is_a_runtime_setting_of_the_grid(tmp_path: Path) -> None:
    """train: {numerics: ...} reaches every cell and its manifest entry, but not the cell ids:
    the paper grid's ids and run directories stay what they were (numerics is recorded in each
    run's provenance.json instead)."""
    plain = load_grid(write_grid(tmp_path / "plain"))
    fast = load_grid(write_grid(tmp_path / "fast", numerics="fast"))
    assert [c.id for c in fast.cells] == [c.id for c in plain.cells]
    assert {c.config["numerics"] for c in plain.cells} == {"portable"}  # the default
    assert {c.config["numerics"] for c in fast.cells} == {"fast"}
    _, cells = read_manifest(write_manifest(fast))
    assert {c.config["numerics"] for c in cells} == {"fast"}
    # the same cells, now portable: the manifest (same name) follows the grid
    again = load_grid(write_grid(tmp_path / "fast", numerics="portable"))
    assert write_manifest(again) == write_manifest(fast)
    _, cells = read_manifest(write_manifest(again))
    assert {c.config["numerics"] for c in cells} == {"portable"}
    path = write_grid(tmp_path / "bad", numerics="exact")
    with pytest.raises(ConfigError, match=r"numerics: Input should be 'portable' or 'fast'"):
        load_grid(path)


def test_paper_grid_shows_without_data(tmp_path: Path) -> None:
    proc = rvhpc("grid", "show", "paper", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    names = [c["experiment"] for c in data["cells"]]
    assert PAPER_NAMES <= set(names)
    for prefix in ("EG-", "EM-", "CG-", "FG-"):
        dims = {int(n.split("-")[1]) for n in names if n.startswith(prefix)}
        assert dims and all(d & (d - 1) == 0 and d <= 512 for d in dims), prefix
    assert {int(n[3:]) for n in names if n.startswith("EG-")} == {8, 16, 32, 64, 128, 256, 512}
    assert all(names.count(n) == 5 for n in set(names))  # 5 seeds each
    assert data["estimate"]["basins"] == 531
    assert not (tmp_path / "runs").exists()  # showing writes nothing
    table = rvhpc("grid", "show", "paper", cwd=tmp_path)
    assert table.returncode == 0 and "REA" in table.stdout and "sample-epochs" in table.stdout


def test_paper_grid_without_data_says_what_to_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    grid = load_grid("paper")
    with pytest.raises(DataError, match=r"data\.camels_root .* edit data\.camels_root"):
        ensure_data(data_plan(grid))


def test_manifest_round_trip(tmp_path: Path) -> None:
    grid = load_grid(write_grid(tmp_path))
    path = write_manifest(grid)
    assert path.parent == grid.runs_dir / ".rvhpc" / "manifests" and grid.digest() in path.name
    plan, cells = read_manifest(path)
    assert cells == grid.cells
    assert plan["data"]["synthetic"]["basins"] == 5
    assert not list(path.parent.glob(".*tmp"))


def _bad(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(write_grid(tmp_path).read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(colour="red"), r"colour: unknown key"),
        (lambda d: d["train"].update(hiden=8), r"hiden"),
        (lambda d: d["experiments"][0].update(seeds="zero"), r"experiments\.0\.seeds"),
        (
            lambda d: d["data"].update(
                synthetic={"basins": "many", "start": "2000-01-01", "end": "2001-01-01"}
            ),
            r"data\.synthetic\.basins",
        ),
        (lambda d: d.update(experiments=[]), r"no cells"),
        (
            lambda d: d["experiments"].append({"arch": "ea", "static": "physics", "seeds": [1]}),
            r"duplicate cell",
        ),
        (
            lambda d: d.update(experiments=[{"arch": "ct", "static": "none"}]),
            r"does not support static kind 'none'",
        ),
        (
            lambda d: d.update(experiments=[{"arch": "lstm", "static": "physics"}]),
            r"does not support",
        ),
        (lambda d: d.update(experiments=[{"arch": "ea", "static": "gaussian"}]), r"needs dims"),
        (
            lambda d: d.update(experiments=[{"arch": "ea", "static": "physics", "dims": [8]}]),
            r"takes no dims",
        ),
        (lambda d: d["train"].update(seed=3), r"set per experiment"),
        (lambda d: d["data"].pop("train_period"), r"train_period and eval_period"),
    ],
)
def test_bad_grids_give_one_line(tmp_path: Path, edit, message: str) -> None:
    path = _bad(tmp_path, edit)
    with pytest.raises(ConfigError, match=message):
        load_grid(path)
    proc = rvhpc("grid", "show", path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_unknown_grid_name_lists_builtins(tmp_path: Path) -> None:
    proc = rvhpc("grid", "show", "nosuchgrid", cwd=tmp_path)
    assert proc.returncode == 2 and "paper" in proc.stderr and "smoke" in proc.stderr


def test_runs_dir_not_writable_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    path = _bad(tmp_path, lambda d: d.update(runs_dir=str(tmp_path / "afile" / "runs")))
    with pytest.raises(RunDirError, match="cannot be created"):
        write_manifest(load_grid(path))
    proc = rvhpc("submit", path, "--dry-run")
    assert (
        proc.returncode == 2 and "runs directory" in proc.stderr and "Traceback" not in proc.stderr
    )
    assert len(proc.stderr.strip().splitlines()) == 1


def test_builtin_smoke_is_in_the_repo() -> None:
    assert (REPO / "data" / "grids" / "smoke.yaml").is_file()
    assert "rvhpc ships none" in (REPO / "data" / "basins" / "README.md").read_text()
