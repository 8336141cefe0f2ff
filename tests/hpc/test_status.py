"""Status: parsers on captured Slurm output, and cell states from run dirs, attempts and squeue."""

from __future__ import annotations

import json
from pathlib import Path

from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import write_manifest
from rvhpc.hpc import slurm
from rvhpc.hpc.array_task import append_attempt, attempts_file
from rvhpc.hpc.queue import parse_jobcomp, parse_sacct, parse_squeue
from rvhpc.hpc.status import grid_status
from tests.hpc._gridtools import rvhpc, write_grid
from tests.support.fake_runs import mark_done

DATA = Path(__file__).parent / "data"


def test_parse_squeue_capture() -> None:
    parsed = parse_squeue((DATA / "squeue_r.txt").read_text())
    assert parsed["17_1"] == ("RUNNING", "None")
    assert parsed["17_2"] == ("PENDING", "JobArrayTaskLimit")
    assert set(parsed) == {"17_1", "17_2", "17_3"}


def test_parse_jobcomp_capture_last_line_wins() -> None:
    parsed = parse_jobcomp((DATA / "sacct_jobcomp.txt").read_text())
    assert parsed["11"][0] == "COMPLETED"  # requeued once: PENDING first, then COMPLETED
    assert parsed["16"] == ("FAILED", "3:0", "00:00:01")
    assert parsed["17"][0] == "CANCELLED"


def test_parse_sacct_accounting() -> None:
    parsed = parse_sacct((DATA / "sacct_accounting.txt").read_text())
    assert parsed == {
        "4_0": ("COMPLETED", "0:0", "00:00:02"),
        "4_1": ("CANCELLED", "0:0", "00:00:05"),
        "4_3": ("FAILED", "7:0", "00:00:01"),
    }


def test_disabled_accounting_message_is_recognised() -> None:
    assert "accounting storage is disabled" in (DATA / "sacct_disabled.txt").read_text().lower()


def test_run_directories_only(tmp_path: Path) -> None:
    grid = load_grid(write_grid(tmp_path))
    write_manifest(grid)
    grid.cells[1].run_dir.mkdir(parents=True)
    mark_done(grid.cells[1].run_dir)
    append_attempt(
        attempts_file(grid.manifest_path(), grid.cells[0]),
        {"event": "end", "code": 2, "reason": "store missing"},
    )
    st = grid_status(grid)
    assert st.source.startswith("run directories")
    assert [c.state for c in st.cells[:3]] == ["failed", "done", "missing"]
    assert "store missing" in st.cells[0].reason


def test_submitted_cells_from_squeue_jobcomp_and_attempts(tmp_path: Path, slurm_cluster) -> None:
    grid = load_grid(write_grid(tmp_path))
    write_manifest(grid)
    # array job 999999 never existed here: its tasks are neither queued nor done -> failed
    slurm.record(grid, {"job_id": "999999", "offset": 0, "task_ids": [0, 1, 2], "script": "x"})
    log = attempts_file(grid.manifest_path(), grid.cells[0])
    append_attempt(
        log, {"event": "start", "job_id": "999998", "array_job_id": "999999", "task_id": "0"}
    )
    append_attempt(log, {"event": "end", "code": 1, "reason": "RuntimeError: boom"})
    grid.log_dir.mkdir(parents=True)
    (grid.log_dir / f"{grid.name}_999999_0.log").write_text(
        "line 1\nTraceback\nRuntimeError: boom\n"
    )
    grid.cells[2].run_dir.mkdir(parents=True)
    mark_done(grid.cells[2].run_dir)
    st = grid_status(grid)
    assert "squeue" in st.source
    states = [c.state for c in st.cells]
    assert states[:3] == ["failed", "failed", "done"] and set(states[3:]) == {"missing"}
    assert "no longer queued" in st.cells[0].reason and "boom" in st.cells[0].reason
    assert st.cells[0].log_tail[-1] == "RuntimeError: boom" and st.cells[0].job == "999999_0"
    assert st.indices("failed", "missing") == [i for i in range(len(grid.cells)) if i != 2]

    proc = rvhpc("status", grid.path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["counts"]["failed"] == 2 and data["counts"]["done"] == 1
    table = rvhpc("status", grid.path)
    assert "RuntimeError: boom" in table.stdout and "source:" in table.stdout
    # --only-missing picks exactly the failed and missing cells (never done ones)
    dry = rvhpc("submit", grid.path, "--profile", "local", "--only-missing", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    arrays = [line for line in dry.stdout.splitlines() if line.startswith("#SBATCH --array=")]
    assert arrays == ["#SBATCH --array=0-1,3-4", "#SBATCH --array=0"]
    assert "--offset 5" in dry.stdout
