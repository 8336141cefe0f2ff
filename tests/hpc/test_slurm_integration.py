"""Grids through the real local Slurm cluster (slurm/cluster-up.sh): submit, split arrays, kill and
resubmit, time-limit signal -> checkpoint -> requeue -> resume, two grids at once, sbatch errors."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rvhpc.resources import profiles_dir
from tests.hpc._gridtools import rvhpc, write_grid

pytestmark = pytest.mark.slurm
WAIT = 600  # generous: the cluster is shared with other tests on 2 cores


def _sh(*argv: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


def _dump(grid: Path) -> str:
    runs = grid.parent / "runs"
    logs = "\n".join(
        f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted(runs.glob("*/logs/*/*.log"))
    )
    return (
        f"squeue:\n{_sh('squeue', '-r')}\nscontrol:\n{_sh('scontrol', 'show', 'job')[-4000:]}\n"
        f"status:\n{rvhpc('status', grid).stdout}\nlogs:\n{logs}"
    )


def _wait(what: str, grid: Path, check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}\n{_dump(grid)}")


def _status(grid: Path) -> dict:
    proc = rvhpc("status", grid, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _submit(grid: Path, *extra: str) -> list[str]:
    proc = rvhpc("submit", grid, "--profile", "local", *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


def _queued(job_ids: list[str]) -> bool:
    out = _sh("squeue", "-h", "-r", "-o", "%F")
    return any(line.strip() in job_ids for line in out.splitlines())


def _all_done(grid: Path) -> bool:
    counts = _status(grid)["counts"]
    return counts["done"] == sum(counts.values())


def _log_of(grid: Path, job: str) -> Path:
    return next((grid.parent / "runs").glob(f"*/logs/*/*_{job}.log"))


def _training(grid: Path, job: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return "epoch 2/" in _log_of(grid, job).read_text()
        except StopIteration:
            return False

    return check


def test_smoke_grid_on_slurm_splits_arrays_and_collects(tmp_path: Path, slurm_cluster) -> None:
    grid = write_grid(tmp_path)  # 6 cells > MaxArraySize 5
    start = time.monotonic()
    ids = _submit(grid, "--max-parallel", "2", "--collect")
    subs = json.loads((tmp_path / "runs" / "smoke" / ".rvhpc" / "submissions.json").read_text())[
        "arrays"
    ]
    assert [(a["offset"], a["task_ids"]) for a in subs] == [(0, [0, 1, 2, 3, 4]), (5, [0])]
    assert len(ids) == 3  # two arrays + the collect job
    depends = _sh("scontrol", "show", "job", ids[2])
    assert f"afterany:{ids[0]}_*" in depends and f"afterany:{ids[1]}_*" in depends, depends
    _wait("every smoke cell DONE", grid, lambda: _all_done(grid))
    print(f"smoke grid on Slurm: {time.monotonic() - start:.1f} s until every cell was DONE")
    _wait("the collect job", grid, lambda: not _queued([ids[2]]))
    results = tmp_path / "runs" / "smoke" / "results"
    assert results.is_dir() and any(results.iterdir()), _dump(grid)
    st = _status(grid)
    assert "jobcomp" in st["source"] or "sacct" in st["source"]


def test_killed_cell_fails_and_only_missing_reruns_it(tmp_path: Path, slurm_cluster) -> None:
    grid = write_grid(
        tmp_path,
        name="kill",
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0, 1]}],
        epochs=25,
    )
    (job,) = _submit(grid, "--max-parallel", "2")
    _wait("cell 0 training", grid, _training(grid, f"{job}_0"))
    subprocess.run(["scancel", f"{job}_0"], check=True, timeout=60)
    _wait("the array to leave the queue", grid, lambda: not _queued([job]))
    st = _status(grid)
    assert [c["state"] for c in st["cells"]] == ["failed", "done"], _dump(grid)
    assert "CANCELLED" in st["cells"][0]["reason"] and st["cells"][0]["log_tail"]
    (again,) = _submit(grid, "--only-missing")
    subs = json.loads((tmp_path / "runs" / "kill" / ".rvhpc" / "submissions.json").read_text())[
        "arrays"
    ]
    assert subs[-1]["job_id"] == again and subs[-1]["task_ids"] == [0]
    _wait("the rerun cell DONE", grid, lambda: _all_done(grid))
    assert "resuming" in _log_of(grid, f"{again}_0").read_text()


def test_time_limit_signal_checkpoints_requeues_and_resumes(tmp_path: Path, slurm_cluster) -> None:
    grid = write_grid(
        tmp_path,
        name="requeue",
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0]}],
        epochs=30,
    )
    (job,) = _submit(grid)
    _wait("the cell training", grid, _training(grid, f"{job}_0"))
    # what Slurm does at --signal=B:USR1@N, but now (the real one comes up to 60 s early/late)
    subprocess.run(["scancel", "--signal=USR1", "--batch", f"{job}_0"], check=True, timeout=60)
    _wait("the requeued cell DONE", grid, lambda: _all_done(grid))
    log = _log_of(grid, f"{job}_0").read_text()
    assert "got SIGUSR1, forwarding it" in log
    assert "checkpointed" in log and "requeueing job" in log
    assert "SLURM_RESTART_COUNT=0" in log and "SLURM_RESTART_COUNT=1" in log
    assert "resuming" in log.split("SLURM_RESTART_COUNT=1", 1)[1]


def test_two_grids_at_once_do_not_disturb_each_other(tmp_path: Path, slurm_cluster) -> None:
    a = write_grid(
        tmp_path / "grid a with 'quotes' and $dollar",
        name="ga",
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0]}],
    )
    b = write_grid(
        tmp_path / "b", name="gb", experiments=[{"arch": "lstm", "static": "none", "seeds": [0, 1]}]
    )
    (ja,) = _submit(a)
    (jb,) = _submit(b)
    _wait("grid a DONE", a, lambda: _all_done(a))
    _wait("grid b DONE", b, lambda: _all_done(b))
    sa, sb = _status(a), _status(b)
    assert {c["job"] for c in sa["cells"]} == {f"{ja}_0"}
    assert {c["job"] for c in sb["cells"]} == {f"{jb}_0", f"{jb}_1"}
    assert not list((b.parent / "runs").glob(f"*/logs/*/*_{ja}_*.log"))
    assert _log_of(a, f"{ja}_0").is_file()


def test_sbatch_rejection_shows_slurms_message(tmp_path: Path, slurm_cluster) -> None:
    grid = write_grid(tmp_path)
    profile = tmp_path / "bad.yaml"
    profile.write_text("partition: no_such_partition\ncpus_per_task: 1\nmem_gb: 1\n")
    proc = rvhpc("--quiet", "submit", grid, "--profile", profile)
    assert proc.returncode == 2
    assert "sbatch rejected" in proc.stderr and "partition" in proc.stderr.lower()
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_array_task_runs_inside_the_sandbox_container(tmp_path: Path, slurm_cluster) -> None:
    """An array task submitted through Slurm runs its cell inside bubblewrap (the Apptainer stand-in
    here): the rendered script wraps the cell, and only the bound runs/store/grid folders are
    visible, yet the cell reaches DONE on the host."""
    import shutil
    import sys

    import yaml

    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is missing: scripts/test.sh installs it")
    grid = write_grid(
        tmp_path,
        name="boxed",
        experiments=[{"arch": "lstm", "static": "none", "seeds": [0]}],
        epochs=1,
    )
    profile = tmp_path / "boxed-profile.yaml"
    site = yaml.safe_load((profiles_dir() / "local.yaml").read_text())
    site.update(
        name="boxed", python=sys.executable, container={"runtime": "bwrap", "image": "host"}
    )
    profile.write_text(yaml.safe_dump(site))
    proc = rvhpc("submit", grid, "--profile", profile)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    script = next((tmp_path / "runs" / "boxed" / ".rvhpc" / "scripts").glob("*.sbatch")).read_text()
    assert "-m rvhpc.hpc.container" in script and "--unshare-all" in script  # the bwrap launcher
    _wait("the sandboxed cell", grid, lambda: _all_done(grid))
    # DONE is written inside the sandbox before the batch script logs the cell's exit status
    log = next((tmp_path / "runs" / "boxed").glob("logs/*/*.log"))
    _wait("the task's exit line", grid, lambda: "the cell exited with status 0" in log.read_text())
