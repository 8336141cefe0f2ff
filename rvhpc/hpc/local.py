"""Run a grid on this machine: every cell that is not done, N at a time, each as a subprocess of
exactly the entry point an array task runs (``python -m rvhpc cell MANIFEST --index I``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rvhpc import progress
from rvhpc.errors import ConfigError
from rvhpc.grid import Grid, data_plan, ensure_data, write_manifest
from rvhpc.runfiles import EXIT_REQUEUE, local_log_name


@dataclass
class LocalResult:
    """Exit status per cell index, and the cells skipped because they were already done."""

    codes: dict[int, int] = field(default_factory=dict)
    already_done: list[int] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[int]:
        return [i for i, c in self.codes.items() if c not in (0, EXIT_REQUEUE)]

    @property
    def preempted(self) -> list[int]:
        return [i for i, c in self.codes.items() if c == EXIT_REQUEUE]


def run_local(grid: Grid, jobs: int = 1, python: str | None = None) -> LocalResult:
    """Prepare the data once, then run the cells that are not done, ``jobs`` at a time."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    start = time.monotonic()
    manifest = write_manifest(grid)
    ensure_data(data_plan(grid))
    result = LocalResult(already_done=[c.index for c in grid.cells if c.is_done()])
    todo = [c for c in grid.cells if not c.is_done()]
    grid.log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # share the cores between the concurrent cells instead of oversubscribing them
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    env.pop("SLURM_ARRAY_TASK_ID", None)
    running: dict[int, tuple[subprocess.Popen, object]] = {}
    try:
        _loop(grid, manifest, todo, running, result, jobs, python, env)
    finally:
        # interrupted: the cells checkpoint on SIGTERM; wait for them so nothing is left behind
        for proc, handle in running.values():
            proc.terminate()
        for proc, handle in running.values():
            proc.wait()
            handle.close()
    result.seconds = time.monotonic() - start
    return result


def _loop(
    grid: Grid,
    manifest: Path,
    todo: list,
    running: dict,
    result: LocalResult,
    jobs: int,
    python: str | None,
    env: dict,
) -> None:
    with progress.task(f"grid {grid.name}", total=len(todo), every=1) as bar:
        while todo or running:
            while todo and len(running) < jobs:
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
                ]
                running[cell.index] = (
                    subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env),
                    handle,
                )
                result.logs[cell.index] = log_path
            time.sleep(0.2)
            for index, (proc, handle) in list(running.items()):
                if proc.poll() is None:
                    continue
                handle.close()
                result.codes[index] = proc.returncode
                del running[index]
                state = "done" if proc.returncode == 0 else f"exit {proc.returncode}"
                bar.advance(info=f"cell {index} {state}")
