"""Run a grid on this machine: every cell that is not done, N at a time, each as a subprocess of
exactly the entry point an array task runs (``python -m rvhpc cell MANIFEST --index I``).

SIGTERM, SIGINT and SIGHUP stop the run cleanly: no new cell starts, the running cells get SIGTERM
(they checkpoint and exit 75), and :func:`run_local` returns only once every one has exited, so a
rerun never finds a second set of processes training on the same cells. The cells run in their own
session, so a Ctrl-C on the terminal reaches them only through this forwarding.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvhpc import numerics as kernel_path
from rvhpc import progress
from rvhpc.data.ensure import ensure_data
from rvhpc.data.pool import usable_cpus
from rvhpc.errors import ConfigError
from rvhpc.exitcodes import EXIT_DIVERGED, EXIT_REQUEUE
from rvhpc.grid.basins import check_basins
from rvhpc.grid.cells import Grid
from rvhpc.grid.manifest import data_plan, write_manifest
from rvhpc.grid.packing import check_pack_mode, task_groups
from rvhpc.grid.state import grid_states
from rvhpc.hpc.array_task import TO_TRAIN
from rvhpc.runfiles import local_log_name


@dataclass
class LocalResult:
    """Exit status per cell index; the cells skipped because they were already done, stale (their
    folder holds another run; not rerun without ``rerun_stale``) or diverged before."""

    codes: dict[int, int] = field(default_factory=dict)
    already_done: list[int] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)
    seconds: float = 0.0
    stop_signal: int | None = None  # the signal that stopped the run; None: it ran to the end
    stopped: list[int] = field(default_factory=list)  # cells sent SIGTERM on that signal
    stale: list[int] = field(default_factory=list)  # stale cells left as they are
    stale_line: str = ""  # what makes them stale, and what to do (grid.state.stale_line)
    diverged_before: list[int] = field(default_factory=list)

    @property
    def failed(self) -> list[int]:
        # a cell stopped before its handler was installed dies of SIGTERM: stopped, not failed
        return [
            i
            for i, c in self.codes.items()
            if c not in (0, EXIT_REQUEUE, EXIT_DIVERGED)
            and not (i in self.stopped and c == -signal.SIGTERM)
        ]

    @property
    def preempted(self) -> list[int]:
        return [i for i, c in self.codes.items() if c == EXIT_REQUEUE]

    @property
    def diverged(self) -> list[int]:
        """Cells that diverged in this run or before (DIVERGED, no DONE)."""
        return sorted(
            {i for i, c in self.codes.items() if c == EXIT_DIVERGED} | set(self.diverged_before)
        )


def run_local(
    grid: Grid,
    jobs: int = 1,
    python: str | None = None,
    pack: str | None = None,
    rerun_stale: bool = False,
    numerics: str | None = None,
) -> LocalResult:
    """Prepare the data once, then run the cells with work to do, ``jobs`` at a time.

    Every scenario's basins are checked against the store first, so a list naming a basin the
    store lacks fails now, not after a fold trained. Done cells are skipped; so are stale cells
    (their folder holds another config) unless ``rerun_stale``, and diverged ones.

    Parameters
    ----------
    grid : Grid
    jobs : int
        Cells (processes) at a time.
    python : str, optional
        The interpreter of the cell processes (default: this one).
    pack : str, optional
        ``seeds``: one process per pack group (named by its lead cell) with work to do. A
        search trial's cells are always one process (a local worker of the study).
    rerun_stale : bool
        Retrain stale cells, replacing their results.
    numerics : str, optional
        Overrides the cells' own mode: each cell's process starts with its mode's environment,
        so it loads torch, MKL and numpy on that path from the start.

    Returns
    -------
    LocalResult

    Raises
    ------
    RvhpcError
        Bad options, basins missing from the store, data that cannot be prepared.
    """
    if numerics is not None:
        kernel_path.check_mode(numerics)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    start = time.monotonic()
    check_basins(grid)
    manifest = write_manifest(grid)
    ensure_data(data_plan(grid))
    states = grid_states(grid)
    wanted = set(TO_TRAIN) | ({"stale"} if rerun_stale else set())
    result = LocalResult(
        already_done=[i for i, s in states.items() if s.state == "done"],
        stale=[] if rerun_stale else [i for i, s in states.items() if s.state == "stale"],
        diverged_before=[i for i, s in states.items() if s.state == "diverged"],
    )
    if result.stale:
        from rvhpc.grid.state import stale_line

        result.stale_line = stale_line(grid, states)
        progress.log(result.stale_line)
    todo = [c for c in grid.cells if states[c.index].state in wanted]
    pack = check_pack_mode(pack)
    # one process per group (a pack, a search trial, else a cell), named by its lead cell
    groups = [g for g in task_groups(grid.cells, pack) if any(c in todo for c in g)]
    members = {g[0].index: [c.index for c in g if c in todo] for g in groups}
    todo = [g[0] for g in groups]
    grid.log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    source = "OMP_NUM_THREADS" if "OMP_NUM_THREADS" in env else "this machine's CPUs and --jobs"
    env.setdefault("OMP_NUM_THREADS", str(cell_threads(jobs)))
    note = threads_note(todo, env["OMP_NUM_THREADS"], source)
    if note:
        progress.log(note)
    env.pop("SLURM_ARRAY_TASK_ID", None)
    running: dict[int, tuple[subprocess.Popen, Any]] = {}
    labels = {c.index: _label(grid, members[c.index]) for c in todo}
    extra = (["--rerun-stale"] if rerun_stale else []) + (
        ["--numerics", numerics] if numerics else []
    )
    with _forwarding(running) as stop:
        try:
            _loop(
                grid, manifest, todo, running, result, jobs, python, env, stop, pack, labels, extra,
                numerics,
            )  # fmt: skip
        finally:
            result.stopped = sorted(running)
            _stop_all(running, stop, result)
    result.stop_signal = stop.signum
    # a packed process reports for each member it trained
    result.codes = {m: code for i, code in result.codes.items() for m in members[i]}
    result.logs = {m: log for i, log in result.logs.items() for m in members[i]}
    result.seconds = time.monotonic() - start
    return result


def cell_threads(jobs: int) -> int:
    """Threads of a cell whose grid sets none: the CPUs this process may use (its affinity mask:
    a Slurm allocation or a container's share, not the host's count) shared by ``jobs`` cells."""
    return max(1, usable_cpus() // jobs)


def threads_note(cells: list, threads: str, source: str) -> str | None:
    """A line for cells that take their thread count from this machine (their grid sets no
    ``train: {threads: N}``): a run's bits follow its thread count (docs/numerics.md), so the
    same grid on a machine with another number of CPUs trains other models."""
    free = [c for c in cells if c.config.get("threads") is None]
    if not free:
        return None
    return (
        f"{len(free)} cell(s) train on {threads} thread(s) each, from {source}; set "
        "train: {threads: N} in the grid for the same bits on any machine"
    )


#: signals that stop ``rvhpc run``: Slurm's scancel, Ctrl-C, a closed terminal
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _Stop:
    """The first forwarded signal. Each cell gets SIGTERM once: a second one could arrive after
    the cell's checkpoint handler is gone and kill it mid-exit, so later signals are ignored."""

    def __init__(self, running: dict) -> None:
        self.signum: int | None = None
        self.running = running
        self.signalled: set[int] = set()

    def handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            self.terminate()

    def terminate(self) -> None:
        for proc, _ in list(self.running.values()):
            if proc.pid in self.signalled or proc.poll() is not None:
                continue
            self.signalled.add(proc.pid)
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass


@contextmanager
def _forwarding(running: dict) -> Iterator[_Stop]:
    stop = _Stop(running)
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in FORWARDED:
            old[sig] = signal.signal(sig, stop.handle)
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _stop_all(running: dict, stop: _Stop, result: LocalResult) -> None:
    """SIGTERM every running cell (once) and wait for each (a checkpoint takes a moment)."""
    if running:
        progress.log(f"stopping {len(running)} running cell(s): they checkpoint and exit")
    stop.terminate()
    for index, (proc, handle) in list(running.items()):
        result.codes[index] = proc.wait()
        handle.close()
        del running[index]


def _label(grid: Grid, indices: list[int]) -> str:
    """``cell 3 EP seed 1`` (or ``cells 0,1 EP seeds 0,1`` for a pack)."""
    cells = [grid.cells[i] for i in indices]
    if len(cells) == 1:
        return f"cell {cells[0].index} {cells[0].experiment} seed {cells[0].seed}"
    return (
        f"cells {','.join(str(c.index) for c in cells)} {cells[0].experiment} "
        f"seeds {','.join(str(c.seed) for c in cells)}"
    )


def _outcome(code: int) -> str:
    return {0: "done", EXIT_REQUEUE: "checkpointed", EXIT_DIVERGED: "diverged"}.get(
        code, f"exit {code}"
    )


def _loop(
    grid: Grid,
    manifest: Path,
    todo: list,
    running: dict,
    result: LocalResult,
    jobs: int,
    python: str | None,
    env: dict,
    stop: _Stop,
    pack: str | None,
    labels: dict[int, str],
    extra: list[str],
    numerics: str | None = None,
) -> None:
    """Start cells while fewer than ``jobs`` run; a line per finished cell with an ETA (the
    time per finished cell so far, times the cells left: the concurrency is in that rate)."""
    total, start = len(todo), time.monotonic()
    with progress.task(f"grid {grid.name}", total=total, every=1) as bar:
        while (todo or running) and not stop.signum:
            while todo and len(running) < jobs and not stop.signum:
                cell = todo.pop(0)
                log_path = grid.log_dir / local_log_name(grid.name, cell.index)
                handle = open(log_path, "ab")
                argv = [
                    python or sys.executable,
                    "-m",
                    "rvhpc",
                    "cell",
                    str(manifest),
                    "--index",
                    str(cell.index),
                    *(["--pack", pack] if pack else []),
                    *extra,
                ]
                mode = numerics or cell.config.get("numerics", kernel_path.DEFAULT_MODE)
                proc = subprocess.Popen(
                    argv,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    env=kernel_path.child_environment(mode, env),
                    start_new_session=True,
                )
                running[cell.index] = (proc, handle)
                result.logs[cell.index] = log_path
            time.sleep(0.2)
            for index, (proc, handle) in list(running.items()):
                if proc.poll() is None:
                    continue
                handle.close()
                result.codes[index] = proc.returncode
                del running[index]
                finished = len(result.codes)
                left = total - finished
                eta = (time.monotonic() - start) / finished * left
                info = f"{labels[index]} {_outcome(proc.returncode)}"
                info += f"; ETA {progress.duration(eta)} for {left} more" if left else ""
                bar.advance(info=info, keep=True)
