"""The run-directory contract: the one home of its file names, log names and exit codes.

Training writes these files, and grid, status, collect and the array-task runner read them. Every
module imports the names from here, so a rename is a change of one line. torch-free, so that
``--help`` and collect stay light.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from rvhpc.atomic import write_json

CONFIG_JSON = "config.json"
STATICS_NPZ = "statics.npz"
LOSSES_CSV = "losses.csv"
PREDICTIONS = "predictions.parquet"
METRICS_CSV = "metrics.csv"
DONE = "DONE"
CHECKPOINT_DIR = "checkpoints"
#: what produced the run, one record per session (start or resume): versions, CPU, kernel path,
#: threads, numerics mode, denormals, device (rvhpc.kernels.record)
PROVENANCE_JSON = "provenance.json"

#: checkpoints in CHECKPOINT_DIR: one per complete epoch, and one of an epoch stopped midway
EPOCH_CHECKPOINT = re.compile(r"^epoch_(\d{3,})\.pt$")
PARTIAL_CHECKPOINT = "partial.pt"

#: the lock a trainer holds while it works in a run directory (rvhpc.training.runlock)
RUN_LOCK = "train.lock"

#: the files a training run owns (``--force`` removes these and nothing else)
RUN_FILES = (
    CONFIG_JSON,
    STATICS_NPZ,
    LOSSES_CSV,
    PREDICTIONS,
    METRICS_CSV,
    DONE,
    PROVENANCE_JSON,
)

# log files of a grid (in ``Grid.log_dir``): Slurm fills %A (array job), %a (task), %j (job)


def array_log_name(grid: str) -> str:
    """The ``--output`` pattern of an array task; Slurm makes it
    ``<grid>_<array job>_<task>.log``."""
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
#: exit status of a command stopped by Ctrl-C (SIGINT), after it saved what it could (128 + 2)
EXIT_INTERRUPTED = 130


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


def read_provenance(run_dir: Path) -> list[dict[str, Any]] | None:
    """The sessions of a run's provenance.json (each with ``from_epoch`` and ``ranks``: every
    rank's record), or None where the file is missing or unreadable (runs of an older rvhpc)."""
    try:
        data = json.loads((Path(run_dir) / PROVENANCE_JSON).read_text())
        sessions = data["sessions"]
        return sessions if isinstance(sessions, list) else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def own_checkpoint(name: str) -> bool:
    """True for a file name training writes in CHECKPOINT_DIR (atomic-write temp files too)."""
    tmp = re.fullmatch(r"\.(.+)\.[^.]+\.tmp", name)  # rvhpc.atomic: .{name}.{random}.tmp
    base = tmp.group(1) if tmp else name
    return base == PARTIAL_CHECKPOINT or EPOCH_CHECKPOINT.match(base) is not None


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_done(run_dir: Path, **info: Any) -> None:
    """Mark a run complete: ``DONE`` (JSON) with the size and sha256 of its predictions, written
    after them, so DONE never stands for predictions that are missing or not these."""
    pred = Path(run_dir) / PREDICTIONS
    record = {"predictions_bytes": pred.stat().st_size, "predictions_sha256": file_sha256(pred)}
    write_json(Path(run_dir) / DONE, {**record, **info})


def run_is_done(run_dir: Path, verify: bool = False) -> bool:
    """THE test of "this run is finished", used by train, grid, status, the local runner, collect.

    True when ``DONE`` is a record of :func:`write_done` and ``predictions.parquet`` has the size it
    names; with ``verify`` its sha256 must match too (reads the file: train and collect do).
    A DONE of an older rvhpc, or one without (these) predictions, is not done: the cell runs again
    (training resumes from its last checkpoint, so only the evaluation is redone).
    """
    run_dir = Path(run_dir)
    try:
        record = json.loads((run_dir / DONE).read_text())
        pred = run_dir / PREDICTIONS
        if pred.stat().st_size != record["predictions_bytes"]:
            return False
        return not verify or file_sha256(pred) == record["predictions_sha256"]
    except (OSError, ValueError, TypeError, KeyError):
        return False
