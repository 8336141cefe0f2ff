"""The submit orchestration as a library call (rvhpc.hpc.submit), without the command line."""

from __future__ import annotations

from rvhpc.grid.expand import load_grid
from rvhpc.hpc.submit import dry_run_text, submit_grid
from rvhpc.resources import profiles_dir
from tests.support.fake_runs import mark_done

PROFILE = str(profiles_dir() / "local.yaml")


def test_dry_run_selects_the_cells_not_done_and_provisions_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the built-in grid resolves its paths here
    grid = load_grid("smoke")
    first = grid.cells[0]
    mark_done(first.run_dir)

    sub = submit_grid("smoke", PROFILE, dry_run=True, max_parallel=2, collect=True)
    assert sub.indices == [c.index for c in grid.cells[1:]]
    assert sub.plan is not None and sub.job_ids == []
    text = dry_run_text(sub.plan)
    assert text.count("#!/bin/bash") == len(sub.plan.arrays) + 1
    assert text.count("# would run: sbatch --parsable") == len(sub.plan.arrays) + 1
    assert not (grid.state_dir / "submissions.json").exists()
    assert not grid.store.exists()  # a dry run prepares no data

    for cell in grid.cells[1:]:
        mark_done(cell.run_dir)
    sub = submit_grid("smoke", PROFILE, dry_run=True)
    assert sub.plan is None and sub.indices == []
    assert sub.nothing == "grid smoke: every cell is done"
