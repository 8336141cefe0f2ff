"""Helpers of the test_c_* hostile tests (issue 19, items 6-13): the real CLI under a memory
limit and a timeout, its output read only up to a bound, and the check that a refusal is one
short line. A regression (an alias bomb expanded, a recursive SQLite view run, a 1e9 hidden size
allocated) then fails the test instead of eating the shared machine."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.training.trainhelp import cli_env

#: address space of one CLI run: torch and the store fit easily, a runaway does not
MEMORY_LIMIT = 3 << 30
#: the longest refusal line accepted ("a few hundred bytes")
MAX_LINE = 400
#: output read back from a run (more is a flood and fails the check)
MAX_OUTPUT = 64 * 1024


@dataclass
class Run:
    """What a bounded run left: exit status and at most MAX_OUTPUT bytes of each stream, with
    their full sizes."""

    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def bounded(*args: object, cwd: Path | None = None, timeout: float = 180) -> Run:
    """``python -m rvhpc ARGS`` with MEMORY_LIMIT of address space and ``timeout`` seconds; the
    streams go to files, so a flood of output cannot fill this process's memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(
            [sys.executable, "-m", "rvhpc", *map(str, args)],
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=cli_env(),
            timeout=timeout,
            preexec_fn=_limits,
        )
        texts, sizes = [], []
        for handle in (out, err):
            sizes.append(handle.seek(0, 2))
            handle.seek(0)
            texts.append(handle.read(MAX_OUTPUT).decode("utf-8", "replace"))
    return Run(proc.returncode, texts[0], texts[1], sizes[0], sizes[1])


def refused(run: Run, *needles: str, code: int = 2) -> str:
    """Assert exit ``code``, no traceback, exactly one ``error:`` line of at most MAX_LINE
    characters holding every needle, and little else on stderr; returns the line."""
    shown = f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-3000:]}"
    assert run.returncode == code, shown
    assert "Traceback" not in run.stderr + run.stdout, shown
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, shown
    assert len(errors[0]) <= MAX_LINE, f"{len(errors[0])} characters: {errors[0][:600]}"
    assert run.stderr_bytes <= 4 * MAX_LINE and run.stdout_bytes <= MAX_OUTPUT, shown
    for needle in needles:
        assert needle in errors[0], shown
    return errors[0]
