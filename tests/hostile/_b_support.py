"""Helpers of the test_b_* hostile tests: the real CLI, the one-line check, and folders that are
read-only or full (small tmpfs mounts made here, as root; chmod when not root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.training.trainhelp import cli_env

#: a training run as small as the CLI allows (seconds on one core)
TINY = ["--hidden", "4", "--seq-length", "30", "--batch-size", "64", "--device", "cpu"]
TINY += ["--threads", "1"]


def prepare_args(camels, out: object, *extra: object) -> list[object]:
    """``data prepare`` of the tiny CAMELS tree ``camels`` into ``out``, then ``extra``."""
    root, basins = camels.root, camels.basin_file
    return ["data", "prepare", "--camels-root", root, "--basins", basins, "--out", out, *extra]


def rvhpc(
    *args: object, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python -m rvhpc ARGS`` in a subprocess, both streams captured."""
    return subprocess.run(
        [sys.executable, "-m", "rvhpc", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(),
        timeout=timeout,
    )


def one_line(proc: subprocess.CompletedProcess, *needles: str, code: int | None = None) -> str:
    """Assert a non-zero exit with exactly one ``error:`` line holding every needle, and no
    traceback; returns the line."""
    shown = f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}"
    assert proc.returncode != 0, shown
    if code is not None:
        assert proc.returncode == code, shown
    assert "Traceback" not in proc.stderr + proc.stdout, shown
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, shown
    for needle in needles:
        assert needle in errors[0], shown
    return errors[0]


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    if shutil.which("mount") is None:
        return "no mount command"
    return None


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted on ``folder`` with ``options`` (e.g. ``size=64k`` or ``ro,size=64k``)."""
    folder.mkdir(parents=True, exist_ok=True)
    reason = _can_mount()
    if reason is None:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        reason = None if proc.returncode == 0 else f"mount failed: {proc.stderr.strip()}"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to mount a tmpfs for this test: {reason}")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """A folder nobody can write into: a read-only tmpfs as root, mode 0555 otherwise."""
    if os.geteuid() != 0:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    with tmpfs(folder, "ro,size=64k") as mounted:
        yield mounted


@contextmanager
def full_disk(folder: Path) -> Iterator[Path]:
    """A one-page (4 KiB) tmpfs: the first result of any size that rvhpc writes there fails."""
    with tmpfs(folder, "size=4k") as mounted:
        yield mounted
