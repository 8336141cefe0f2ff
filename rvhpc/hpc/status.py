"""Per-cell state of a grid from the run directories and Slurm.

done: the run directory holds this cell's DONE. stale: it holds another run than the grid now asks
for (a train key, a basin list or a period edited since; :mod:`rvhpc.grid.state`), named in the
reason (``stale: hidden 4 -> 8``). diverged: its loss or predictions became non-finite (``diverged
at epoch 3``). pending/running: the cell's latest array task is in ``squeue``.
failed: it was submitted (or run locally) and ended without DONE; the reason comes from ``sacct``
(accounting), else from the jobcomp log through ``sacct -c`` (raw job ids, tied to cells by the
attempt log ``rvhpc cell`` keeps), else from the attempt log alone. missing: never run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rvhpc.grid.cells import Cell, Grid
from rvhpc.grid.state import RunState, grid_states
from rvhpc.hpc import slurm
from rvhpc.hpc.array_task import attempts_file, read_attempts
from rvhpc.hpc.commands import CommandError, have
from rvhpc.hpc.queue import jobcomp, sacct, squeue
from rvhpc.runfiles import local_log_name, task_log_name

STATES = ("done", "stale", "diverged", "running", "pending", "failed", "missing")
_LIVE = {
    "PENDING": "pending",
    "REQUEUED": "pending",
    "REQUEUE_HOLD": "pending",
    "REQUEUE_FED": "pending",
    "RESV_DEL_HOLD": "pending",
    "SUSPENDED": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "RESIZING": "running",
    "SIGNALING": "running",
    "STAGE_OUT": "running",
}


@dataclass
class CellStatus:
    index: int
    id: str
    experiment: str
    seed: int
    state: str
    run_dir: str
    job: str | None = None  # "<array job id>_<task id>" of the latest submission
    slurm_state: str | None = None
    reason: str = ""
    log: str | None = None
    log_tail: list[str] = field(default_factory=list)


@dataclass
class GridStatus:
    """Every cell's state, where the states came from, and an ETA when cells are still to run."""

    grid: str
    source: str
    cells: list[CellStatus]
    warnings: list[str] = field(default_factory=list)
    eta_seconds: float | None = None  # from the finished attempts' pace (see :func:`eta`)

    def counts(self) -> dict[str, int]:
        """Cells per state, in STATES order.

        Returns
        -------
        dict[str, int]
        """
        return {s: sum(c.state == s for c in self.cells) for s in STATES}

    def indices(self, *states: str) -> list[int]:
        """Indices of the cells in any of ``states``.

        Parameters
        ----------
        *states : str

        Returns
        -------
        list of int
        """
        return [c.index for c in self.cells if c.state in states]

    def to_json(self) -> dict[str, Any]:
        """What ``rvhpc status --json`` prints.

        Returns
        -------
        dict
        """
        return {
            "grid": self.grid,
            "source": self.source,
            "counts": self.counts(),
            "eta_seconds": self.eta_seconds,
            "warnings": self.warnings,
            "cells": [asdict(c) for c in self.cells],
        }


def tail(path: Path, lines: int = 5) -> list[str]:
    """The last ``lines`` lines of a log (of its last 8 KiB).

    Parameters
    ----------
    path : Path
    lines : int

    Returns
    -------
    list of str
        [] when the log cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 8192))
            return handle.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def latest_tasks(grid: Grid) -> dict[int, tuple[str, Path]]:
    """Cell index -> ("<array job>_<task>", its log) of the latest submission that included it."""
    out = {}
    for entry in slurm.read_submissions(grid):
        packs = entry.get("packs", {})  # a packed task trains every member of its group
        for task in entry["task_ids"]:
            job = f"{entry['job_id']}_{task}"
            lead = entry["offset"] + task
            for index in packs.get(str(lead), [lead]):
                out[index] = (job, grid.log_dir / task_log_name(grid.name, job))
    return out


def grid_status(grid: Grid) -> GridStatus:
    """The state of every cell, which sources were used, and an ETA.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    GridStatus

    Raises
    ------
    CommandError
        squeue or sacct failed (other than accounting being disabled).
    """
    runs = grid_states(grid)
    tasks = latest_tasks(grid)
    attempts = {c.index: read_attempts(attempts_file(grid.manifest_path(), c)) for c in grid.cells}
    queue: dict[str, tuple[str, str]] = {}
    finished: dict[str, tuple[str, str, str]] = {}
    warnings: list[str] = []
    source = "run directories (nothing submitted to Slurm)"
    if tasks:
        queue = squeue()
        job_ids = sorted({t.split("_")[0] for t, _ in tasks.values()})
        acct = sacct(job_ids)
        if acct is not None:
            finished, source = acct, "sacct (Slurm accounting) + squeue + run directories"
        elif have("sacct"):
            try:
                raw = jobcomp()
                source = "squeue + jobcomp log (sacct -c; no accounting) + run directories"
                for index, (task, _) in tasks.items():
                    for a in attempts[index]:
                        if (
                            a.get("event") == "start"
                            and f"{a.get('array_job_id')}_{a.get('task_id')}" == task
                            and a.get("job_id") in raw
                        ):
                            finished[task] = raw[a["job_id"]]
            except CommandError as exc:
                warnings.append(f"sacct -c (jobcomp log) failed: {exc}")
                source = "squeue + run directories (no accounting)"
        else:
            source = "squeue + run directories (no accounting)"
    cells = [
        _cell_status(grid, c, runs[c.index], tasks.get(c.index), queue, finished, attempts[c.index])
        for c in grid.cells
    ]
    st = GridStatus(grid.name, source, cells, warnings)
    st.eta_seconds = eta(st, attempts)
    return st


def eta(st: GridStatus, attempts: dict[int, list[dict[str, Any]]]) -> float | None:
    """Seconds until the running and pending cells are done, at the pace the grid has had so far:
    the time from the first attempt's start to the last successful end, per successful end (so
    however many run at once is in the pace). None when nothing is queued, or no attempt has
    finished yet.

    Parameters
    ----------
    st : GridStatus
    attempts : dict
        Cell index -> its attempt log's events.

    Returns
    -------
    float or None
    """
    left = sum(c.state in ("running", "pending") for c in st.cells)
    starts = [
        a["time"] for events in attempts.values() for a in events if a.get("event") == "start"
    ]
    finished = [
        a["time"]
        for events in attempts.values()
        for a in events
        if a.get("event") == "end" and a.get("code") == 0
    ]
    if not left or not starts or not finished:
        return None
    try:
        pace = (max(finished) - min(starts)) / len(finished)
    except TypeError:  # a hand-edited log with a time that is not a number
        return None
    return max(0.0, pace * left)


def _cell_status(
    grid: Grid,
    cell: Cell,
    run: RunState,
    task: tuple[str, Path] | None,
    queue: dict,
    finished: dict,
    attempts: list[dict[str, Any]],
) -> CellStatus:
    st = CellStatus(cell.index, cell.id, cell.experiment, cell.seed, "missing", str(cell.run_dir))
    job, log = task if task else (None, grid.log_dir / local_log_name(grid.name, cell.index))
    st.job = job
    if run.state == "done":
        st.state = "done"
        return st
    if job is not None and job in queue:
        st.slurm_state, why = queue[job]
        st.state = _LIVE.get(st.slurm_state, "running")
        st.reason = "" if why in ("None", "") else why
        return st
    if run.state in ("stale", "diverged"):  # what the folder holds, whatever Slurm said
        st.state, st.reason = run.state, str(run)
        return st
    ends = [a for a in attempts if a.get("event") == "end"]
    last_end = ends[-1] if ends else None
    if job is not None:
        st.state = "failed"
        if job in finished:
            state, code, elapsed = finished[job]
            st.slurm_state = state
            st.reason = f"Slurm {state}, exit {code} after {elapsed}"
        else:
            st.reason = "no longer queued and no DONE"
        if last_end is not None and last_end.get("code") not in (0, None):
            st.reason += f"; cell: {last_end.get('reason', '')}"
    elif last_end is not None and last_end.get("code") != 0:
        st.state = "failed"
        st.reason = f"exit {last_end.get('code')}: {last_end.get('reason', '')}"
    if st.state == "failed":
        st.log = str(log)
        st.log_tail = tail(log)
    return st
