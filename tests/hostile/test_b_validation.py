"""Issue 10, defect 11: values that rendered broken scripts or gave silent nonsense are refused
with one line (negative sizes, an empty skip_sbatch entry, reversed periods, duplicate YAML keys,
booleans as numbers); overlapping train and eval periods are accepted with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_TRAIN
from tests.hostile._b_support import one_line, prepare_args, rvhpc
from tests.hpc._gridtools import write_grid


def _submit_with_profile(tmp_path: Path, text: str):
    grid = write_grid(tmp_path)
    profile = tmp_path / "site.yaml"
    profile.write_text(text)
    return rvhpc("submit", grid, "--profile", profile, "--dry-run")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("mem_gb: -5\n", "mem_gb"),
        ("gpus_per_node: -1\n", "gpus_per_node"),
        ("max_array_size: -2\n", "max_array_size"),
        ("max_array_size: 0\n", "max_array_size"),
        ('skip_sbatch: [""]\n', "skip_sbatch"),
        ("skip_sbatch: ['  ']\n", "skip_sbatch"),
        ("cpus_per_task: true\n", "cpus_per_task"),
        ("dask: {memory_gb: -1}\n", "dask.memory_gb"),
        ("mem_gb: 4\npartition: a\nmem_gb: 8\n", "duplicate key 'mem_gb'"),
    ],
)
def test_profile_values_refused(tmp_path: Path, text: str, field: str) -> None:
    proc = _submit_with_profile(tmp_path, text)
    one_line(proc, "site.yaml", field, code=2)
    assert not list(tmp_path.rglob("*.sbatch")), "a script was written for a refused profile"


def _grid(tmp_path: Path, edit) -> Path:
    grid = write_grid(tmp_path)
    data = yaml.safe_load(grid.read_text())
    edit(data)
    grid.write_text(yaml.safe_dump(data, sort_keys=False))
    return grid


def test_reversed_periods_refused(tmp_path: Path) -> None:
    grid = _grid(tmp_path, lambda d: d["data"].update(train_period=["2003-12-31", "2002-01-01"]))
    one_line(rvhpc("grid", "show", grid), "data.train_period", "starts after it ends", code=2)


def test_reversed_periods_refused_by_prepare(tmp_path: Path, tiny_camels) -> None:
    proc = rvhpc(
        *prepare_args(
            tiny_camels,
            tmp_path / "s.h5",
            "--train-start",
            TINY_TRAIN[1],
            "--train-end",
            TINY_TRAIN[0],
        )
    )
    one_line(proc, "train period", "starts after it ends", code=2)


def test_overlapping_periods_warn(tmp_path: Path, tiny_camels) -> None:
    grid = _grid(tmp_path, lambda d: d["data"].update(eval_period=["2001-01-01", "2002-01-10"]))
    proc = rvhpc("grid", "show", grid)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "share 10 days" in warnings[0], proc.stderr
    # rvhpc data prepare says the same
    periods = ["--train-start", "2000-10-01", "--train-end", "2002-09-30"]
    periods += ["--eval-start", "1999-01-01", "--eval-end", "2000-10-01"]
    proc = rvhpc(*prepare_args(tiny_camels, tmp_path / "s.h5", *periods))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning:" in proc.stderr and "share 1 days" in proc.stderr, proc.stderr


def test_disjoint_periods_do_not_warn(tmp_path: Path) -> None:
    proc = rvhpc("grid", "show", write_grid(tmp_path))
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["experiments"][0].update(seeds=[True]), "seeds.0"),
        (lambda d: d["experiments"][1].update(dims=[True]), "dims.0"),
        (lambda d: d["data"]["synthetic"].update(basins=True), "basins"),
        (lambda d: d["train"].update(epochs=True), "epochs"),
        (lambda d: d["train"].update(lr=float("nan")), "lr"),
    ],
)
def test_booleans_and_nan_are_not_numbers(tmp_path: Path, edit, field: str) -> None:
    one_line(rvhpc("grid", "show", _grid(tmp_path, edit)), field, code=2)


def test_duplicate_keys_in_a_grid(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    grid.write_text(grid.read_text().replace("  epochs: 2\n", "  epochs: 2\n  epochs: 20\n"))
    one_line(rvhpc("grid", "show", grid), "duplicate key 'epochs'", code=2)
