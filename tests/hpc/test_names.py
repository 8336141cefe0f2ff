"""Experiment names end to end (issue 19, item 5): a ``name:`` reaches each cell's config (so
config.json and collect carry it) without changing a cell id or run folder; a name given to two
experiments, or one that is another experiment's paper name, is refused in one line; the built-in
grids' cell ids and folders are those of before."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from rvhpc.errors import ConfigError
from rvhpc.grid.expand import load_grid
from tests.hpc._gridtools import rvhpc, write_grid

#: sha1 of [[cell id, run dir]] of the built-in grids, as they were before names were kept
BUILTIN = {
    "paper": "ac84a658479cb51dc69f37d6c5b4d00959c0d114",
    "smoke": "45f9fe3f973b4de1b035be739b304b0b1a263fed",
}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_grids_keep_their_cell_ids_and_folders(tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    grid = load_grid(name)
    text = json.dumps([[c.id, c.run_dir.relative_to(grid.runs_dir).as_posix()] for c in grid.cells])
    assert hashlib.sha1(text.encode()).hexdigest() == BUILTIN[name]


def test_a_name_labels_cells_without_changing_them(tmp_path: Path) -> None:
    plain = load_grid(write_grid(tmp_path / "a", experiments=[{"arch": "ea", "static": "physics"}]))
    named = load_grid(
        write_grid(
            tmp_path / "b",
            experiments=[
                {"name": "Mine", "arch": "ea", "static": "physics"},
                {"name": "Rand", "arch": "ea", "static": "gaussian", "dims": [8, 16]},
            ],
        )
    )
    (before,), after = plain.cells, named.cells[0]
    assert after.id == before.id and after.experiment == "Mine" and after.config["name"] == "Mine"
    assert after.run_dir.relative_to(named.runs_dir) == before.run_dir.relative_to(plain.runs_dir)
    assert [c.experiment for c in named.cells[1:]] == ["Rand-8", "Rand-16"]  # one name per dim
    proc = rvhpc("grid", "show", named.path)
    assert proc.returncode == 0 and "Mine" in proc.stdout and "Rand-16" in proc.stdout


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        (
            [
                {"name": "Mine", "arch": "ea", "static": "physics"},
                {"name": "Mine", "arch": "ea", "static": "one_hot"},
            ],
            "experiments[1] has the name 'Mine' of experiments[0]",
        ),
        (
            [
                {"arch": "ea", "static": "physics"},
                {"name": "EP", "arch": "ea", "static": "one_hot"},
            ],
            "experiments[1] has the name 'EP' of experiments[0]",
        ),
        (
            [{"name": "a@b", "arch": "ea", "static": "physics"}],
            "without '@'",
        ),
        (
            [{"name": "x" * 65, "arch": "ea", "static": "physics"}],
            "1 to 64 characters",
        ),
    ],
    ids=["twice", "a-paper-name", "at-sign", "too-long"],
)
def test_bad_names_are_one_line(tmp_path: Path, experiments, message) -> None:
    path = write_grid(tmp_path, experiments=experiments)
    with pytest.raises(ConfigError):
        load_grid(path)
    proc = rvhpc("grid", "show", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr, proc.stderr


def test_name_is_not_a_train_key(tmp_path: Path) -> None:
    path = write_grid(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["train"]["name"] = "x"
    path.write_text(yaml.safe_dump(spec))
    proc = rvhpc("grid", "show", path)
    assert proc.returncode == 2 and "name are set per experiment" in proc.stderr, proc.stderr
