"""The run-directory contract: the one home of its file names, log names and exit codes.

Training writes these files, and grid, status, collect and the array-task runner read them. Every
module imports the names from here, so a rename is a change of one line. torch-free, so that
``--help`` and collect stay light.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CONFIG_JSON = "config.json"
STATICS_NPZ = "statics.npz"
LOSSES_CSV = "losses.csv"
PREDICTIONS = "predictions.parquet"
METRICS_CSV = "metrics.csv"
DONE = "DONE"
CHECKPOINT_DIR = "checkpoints"

#: the files a training run owns (``--force`` removes these and nothing else)
RUN_FILES = (CONFIG_JSON, STATICS_NPZ, LOSSES_CSV, PREDICTIONS, METRICS_CSV, DONE)

# log files of a grid (in ``Grid.log_dir``): Slurm fills %A (array job), %a (task), %j (job)


def array_log_name(grid: str) -> str:
    """The ``--output`` pattern of an array task; Slurm makes it ``<grid>_<array job>_<task>.log``."""
    return f"{grid}_%A_%a.log"


def task_log_name(grid: str, job: str) -> str:
    """The log of one array task, ``job`` = ``<array job>_<task>`` (what array_log_name becomes)."""
    return f"{grid}_{job}.log"


def collect_log_name(grid: str) -> str:
    """The ``--output`` pattern of the collect job."""
    return f"{grid}_collect_%j.log"


def local_log_name(grid: str, index: int) -> str:
    """The log of cell ``index`` run on this machine by ``rvhpc run``."""
    return f"{grid}_local_{index}.log"


#: exit status of a run that saved a checkpoint on a signal and wants to be requeued (EX_TEMPFAIL)
EXIT_REQUEUE = 75


def git_commit() -> str | None:
    """The commit of the rvhpc source tree, or None when it is not a git checkout."""
    src = Path(__file__).resolve().parents[1]
    if not (src / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None
