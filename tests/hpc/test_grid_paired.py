"""``attr_seeds: paired``: every init seed its own random draw, as the paper ran its study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rvhpc.errors import ConfigError
from rvhpc.grid.expand import load_grid
from tests.hpc._gridtools import rvhpc, write_grid

RANDOM_KINDS = ("gaussian", "mixed")


def test_paper_grid_random_vector_experiments_have_five_distinct_draws(tmp_path: Path) -> None:
    proc = rvhpc("grid", "show", "paper", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cells = json.loads(proc.stdout)["cells"]
    groups: dict[str, list[dict]] = {}
    for c in cells:
        if c["static"] in RANDOM_KINDS:
            groups.setdefault(c["experiment"], []).append(c)
    # every random-vector experiment of the paper's table: EG/CG/FG-d, EM-d, REA
    assert {"EG-64", "CG-8", "FG-512", "EM-32", "REA"} <= set(groups)
    for name, members in groups.items():
        draws = [c["attr_seed"] for c in members]
        assert len(members) == 5 and len(set(draws)) == 5, name
        assert all(c["attr_seed"] == c["seed"] for c in members), name
        assert all(c["config"]["paired_draw"] for c in members), name
        for c in members:  # the original layout: <list>/<arch>/num_of_sf/<d>/<attr_seed>/seed<k>
            static_dir = "num_of_sf" if c["static"] == "gaussian" else "mixed"
            tail = f"{c['arch']}/{static_dir}/{c['dim']}/{c['seed']}/seed{c['seed']}"
            assert c["run_dir"].endswith(tail), c["run_dir"]
    table = rvhpc("grid", "show", "paper", cwd=tmp_path, env=None)
    assert "EG-64 5 (5 draws, paired)" in " ".join(table.stdout.split())


def test_paired_and_fixed_draws_expand_as_asked(tmp_path: Path) -> None:
    path = write_grid(
        tmp_path,
        experiments=[
            {
                "arch": "ea",
                "static": "gaussian",
                "dims": [4, 8],
                "attr_seeds": "paired",
                "seeds": [1, 2, 3],
            },
            {"arch": "ea", "static": "mixed", "dims": [30], "attr_seeds": [7], "seeds": [1, 2]},
        ],
    )
    grid = load_grid(path)
    paired = [(c.dim, c.attr_seed, c.seed) for c in grid.cells if c.static == "gaussian"]
    assert paired == [(4, 1, 1), (4, 2, 2), (4, 3, 3), (8, 1, 1), (8, 2, 2), (8, 3, 3)]
    assert all(c.paired for c in grid.cells if c.static == "gaussian")
    fixed = [(c.attr_seed, c.seed, c.paired) for c in grid.cells if c.static == "mixed"]
    assert fixed == [(7, 1, False), (7, 2, False)]
    proc = rvhpc("grid", "show", str(path))
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "EG-4 3 (3 draws, paired)" in text and "EM-30 2 (1 draw)" in text


def test_paired_label_does_not_change_the_cell_id(tmp_path: Path) -> None:
    """(attr_seed k, seed k) is one run whether the grid calls it paired or lists the draw."""
    exp = {"arch": "ea", "static": "gaussian", "dims": [4], "seeds": [2]}
    a = load_grid(write_grid(tmp_path / "a", experiments=[{**exp, "attr_seeds": "paired"}]))
    b = load_grid(write_grid(tmp_path / "b", experiments=[{**exp, "attr_seeds": [2]}]))
    assert a.cells[0].id == b.cells[0].id
    assert a.cells[0].run_dir.relative_to(a.runs_dir) == b.cells[0].run_dir.relative_to(b.runs_dir)


@pytest.mark.parametrize(
    "exp, message",
    [
        ({"arch": "ea", "static": "physics", "attr_seeds": "paired"}, "attr_seeds apply only"),
        ({"arch": "ea", "static": "gaussian", "dims": [4], "attr_seeds": "pairs"}, "attr_seeds"),
        (
            {
                "arch": "ea",
                "static": "gaussian",
                "dims": [4],
                "seeds": [-1],
                "attr_seeds": "paired",
            },
            r"seeds\.0: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_paired_grids_give_one_line(tmp_path: Path, exp: dict, message: str) -> None:
    path = write_grid(tmp_path, experiments=[exp])
    with pytest.raises(ConfigError, match=message):
        load_grid(path)
    proc = rvhpc("grid", "show", str(path))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_paired_draw_is_not_a_train_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="paired_draw"):
        load_grid(write_grid(tmp_path, paired_draw=True))


def test_train_paired_draw_needs_the_draw_of_its_seed(tmp_path: Path) -> None:
    proc = rvhpc(
        "train", "--store", tmp_path / "s.h5", "--out", tmp_path / "run", "--static", "gaussian",
        "--dim", "4", "--attr-seed", "1", "--seed", "2", "--paired-draw",
    )  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "attr_seed (1) must equal the init seed (2)" in proc.stderr
    assert not (tmp_path / "run").exists()
