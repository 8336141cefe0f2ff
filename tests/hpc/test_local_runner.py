"""The local runner (`rvhpc run`) and submit errors that need no cluster."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from rvhpc.resources import profiles_dir
from tests.hpc._gridtools import PYTHON, rvhpc, write_grid

ONE_CELL = [{"arch": "ea", "static": "physics", "seeds": [0]}]


def recorded_threads(folder: Path) -> set[int]:
    """The thread counts in the provenance of every cell under ``folder``."""
    return {
        rank["threads"]
        for path in folder.rglob("provenance.json")
        for session in json.loads(path.read_text())["sessions"]
        for rank in session["ranks"]
    }


def test_run_smoke_locally_completes_every_cell(tmp_path: Path) -> None:
    # the built-in name resolves relative paths against the current directory
    proc = rvhpc("run", "smoke", "--jobs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "6 cells run, 0 already done, 0 failed" in proc.stdout
    status = json.loads(rvhpc("status", "smoke", "--json", cwd=tmp_path).stdout)
    assert status["counts"]["done"] == 6
    done = list((tmp_path / "runs" / "smoke").rglob("DONE"))
    assert len(done) == 6 and all((d.parent / "metrics.csv").is_file() for d in done)
    # every cell ran through the array-task entry point and logged its attempt
    attempts = list((tmp_path / "runs" / "smoke" / ".rvhpc" / "attempts").glob("*.jsonl"))
    assert len(attempts) == 6
    again = rvhpc("run", "smoke", cwd=tmp_path)
    assert again.returncode == 0 and "0 cells run, 6 already done" in again.stdout


def test_cells_share_the_cpus_this_run_may_use_not_the_hosts(tmp_path: Path) -> None:
    # a run held to one CPU (a Slurm allocation, a container's share) on a machine with more:
    # its cell trains on one thread, not on as many as the host has, and the run says so
    assert (os.cpu_count() or 1) > 1, "this check needs a machine with 2 CPUs or more"
    cpu = min(os.sched_getaffinity(0))
    grid = write_grid(tmp_path, name="held", experiments=ONE_CELL)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run(
        [PYTHON, "-m", "rvhpc", "run", str(grid)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "1 cell(s) train on 1 thread(s) each, from this machine's CPUs" in proc.stderr
    assert "set train: {threads: N} in the grid" in proc.stderr
    assert recorded_threads(tmp_path) == {1}


def test_threads_the_grid_sets_hold_whatever_the_machine(tmp_path: Path) -> None:
    # two cells at a time would leave each one CPU of this 2-CPU machine; the grid's 2 win
    grid = write_grid(tmp_path, name="fixed", experiments=ONE_CELL, threads=2)
    proc = rvhpc("run", grid, "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "thread(s) each" not in proc.stderr
    assert recorded_threads(tmp_path) == {2}


def test_failing_cell_fails_the_run(tmp_path: Path) -> None:
    grid = write_grid(
        tmp_path,
        name="bad",
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0]}],
        seq_length=3000,
    )  # within the bounds, longer than the 4-year synthetic record: the cell refuses it
    proc = rvhpc("run", grid)
    assert proc.returncode == 1 and "1 cell(s) failed" in proc.stderr, proc.stdout + proc.stderr
    status = json.loads(rvhpc("status", grid, "--json").stdout)
    assert status["cells"][0]["state"] == "failed" and status["cells"][0]["log_tail"]


def test_cell_without_index_outside_slurm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_ARRAY_TASK_ID"}
    proc = rvhpc("cell", tmp_path / "nope.json", env=env)
    assert proc.returncode == 2 and "manifest not found" in proc.stderr


def test_sbatch_missing_suggests_dry_run(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    proc = rvhpc("--quiet", "submit", grid, "--profile", "local", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "sbatch not found" in proc.stderr and "--dry-run" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_dry_run_submits_nothing_and_prints_scripts(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    proc = rvhpc(
        "submit",
        grid,
        "--profile",
        profiles_dir() / "local.yaml",
        "--dry-run",
        "--max-parallel",
        "3",
        "--collect",
    )
    assert proc.returncode == 0, proc.stderr
    # one script per array (split by MaxArraySize when the cluster is up) plus the collect job
    assert (
        proc.stdout.count("#!/bin/bash") == proc.stdout.count("#SBATCH --array=") + 1
        and "# would run: sbatch --parsable" in proc.stdout
    )
    assert "--dependency=afterany:" in proc.stdout and "%3" in proc.stdout
    assert not (tmp_path / "runs" / "smoke" / ".rvhpc" / "submissions.json").exists()
