"""The run-directory contract: the one home of its file names, log names and exit codes.

Training writes these files, and grid, status, collect and the array-task runner read them. Every
module imports the names from here, so a rename is a change of one line. torch-free, so that
``--help`` and collect stay light.

The exit status of a training process is decided here too, once (:func:`outcome_exit_code`):
``rvhpc train``, ``rvhpc cell`` (the array task) and the local runner all read it from
:data:`OUTCOME_EXIT`, so a new outcome cannot be mapped in one place and forgotten in another.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from rvhpc.atomic import temp_of, write_json

CONFIG_JSON = "config.json"
STATICS_NPZ = "statics.npz"
LOSSES_CSV = "losses.csv"
PREDICTIONS = "predictions.parquet"
METRICS_CSV = "metrics.csv"
DONE = "DONE"
#: written instead of DONE by a run whose loss or predictions became non-finite (JSON: the epoch,
#: what was non-finite); such a run is never counted done, and never resumed from its checkpoints
DIVERGED = "DIVERGED"
CHECKPOINT_DIR = "checkpoints"
#: the same two files over the validation period (a TrainConfig with ``val_period``)
VAL_PREDICTIONS = "val_predictions.parquet"
VAL_METRICS_CSV = "val_metrics.csv"
#: early stopping's record: validation score per epoch, the chosen epoch, where it stopped
EARLY_STOPPING_JSON = "early_stopping.json"
#: an Optuna study of a grid's ``search:`` experiment (JournalStorage, one file, NFS-safe)
STUDY_JOURNAL = "optuna.journal"
#: the basin list a synthetic CAMELS tree holds (``rvhpc data synth``)
BASIN_LIST = "basin_list.txt"
#: what ``rvhpc evaluate`` used (weights, statics, store), next to its predictions
EVALUATION_JSON = "evaluation.json"
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
    VAL_PREDICTIONS,
    VAL_METRICS_CSV,
    EARLY_STOPPING_JSON,
    DONE,
    DIVERGED,
    PROVENANCE_JSON,
)

#: rvhpc's own bookkeeping inside a grid's runs directory, and what it holds
STATE_DIR = ".rvhpc"
MANIFESTS_DIR = "manifests"
ATTEMPTS_DIR = "attempts"

# log files of a grid (in ``Grid.log_dir``): Slurm fills %A (array job), %a (task), %j (job)


def array_log_name(grid: str) -> str:
    """The ``--output`` pattern of an array task; Slurm makes it ``<grid>_<array job>_<task>.log``.

    Parameters
    ----------
    grid : str
        The grid's name.

    Returns
    -------
    str
    """
    return f"{grid}_%A_%a.log"


def task_log_name(grid: str, job: str) -> str:
    """The log of one array task (what :func:`array_log_name` becomes).

    Parameters
    ----------
    grid : str
        The grid's name.
    job : str
        ``<array job>_<task>``.

    Returns
    -------
    str
    """
    return f"{grid}_{job}.log"


def collect_log_name(grid: str) -> str:
    """The ``--output`` pattern of the collect job.

    Parameters
    ----------
    grid : str
        The grid's name.

    Returns
    -------
    str
    """
    return f"{grid}_collect_%j.log"


def local_log_name(grid: str, index: int) -> str:
    """The log of cell ``index`` run on this machine by ``rvhpc run``.

    Parameters
    ----------
    grid : str
        The grid's name.
    index : int
        The cell's index.

    Returns
    -------
    str
    """
    return f"{grid}_local_{index}.log"


def attempts_log_name(cell_id: str) -> str:
    """The attempt log of one cell in ``STATE_DIR/ATTEMPTS_DIR`` (JSON lines).

    Parameters
    ----------
    cell_id : str

    Returns
    -------
    str
    """
    return f"{cell_id}.jsonl"


#: exit status of a run that saved a checkpoint on a signal and wants to be requeued (EX_TEMPFAIL)
EXIT_REQUEUE = 75
#: exit status of a command stopped by Ctrl-C (SIGINT), after it saved what it could (128 + 2)
EXIT_INTERRUPTED = 130
#: exit status of a run whose training loss or predictions became non-finite (no DONE written).
#: Not 1 (an unexpected error) nor 2 (bad input): the input was valid and the run ended cleanly,
#: but its result is unusable; a Slurm task that exits with it is not requeued.
EXIT_DIVERGED = 3

#: exit status of each training outcome (rvhpc.training.finish.TrainOutcome.status); a preempted
#: run's depends on the signal (:func:`outcome_exit_code`)
OUTCOME_EXIT = {"done": 0, "skipped": 0, "diverged": EXIT_DIVERGED, "preempted": EXIT_REQUEUE}


def outcome_exit_code(status: str, signum: int | None = None) -> int:
    """The exit status of one training outcome: THE map, used by train, cell and the runners.

    Parameters
    ----------
    status : str
        ``done``, ``skipped``, ``diverged`` or ``preempted``.
    signum : int, optional
        The signal that stopped a preempted run: SIGINT (Ctrl-C) gives EXIT_INTERRUPTED, as for
        any interrupted command; Slurm's signals give EXIT_REQUEUE (requeue me).

    Returns
    -------
    int
        0, EXIT_DIVERGED, EXIT_REQUEUE or EXIT_INTERRUPTED.
    """
    if status == "preempted" and signum == signal.SIGINT:
        return EXIT_INTERRUPTED
    return OUTCOME_EXIT[status]


def pack_exit_code(codes: list[int]) -> int:
    """One exit status for the members of a pack: the most urgent (interrupted > requeue >
    diverged > done), so a requeued task resumes the preempted members and reports the diverged
    ones on its last start.

    Parameters
    ----------
    codes : list of int
        The members' :func:`outcome_exit_code`.

    Returns
    -------
    int
    """
    return max(codes, default=0)


def git_commit() -> str | None:
    """The commit of the rvhpc source tree, or None when it is not a git checkout.

    Returns
    -------
    str or None
    """
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
    """True for a file name training writes in CHECKPOINT_DIR (atomic-write temp files too).

    Parameters
    ----------
    name : str
        A file name in a run's checkpoints folder.

    Returns
    -------
    bool
    """
    base = temp_of(name) or name  # an atomic write's temporary counts as its file
    return base == PARTIAL_CHECKPOINT or EPOCH_CHECKPOINT.match(base) is not None


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex (read in chunks).

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
    """
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_done(run_dir: Path, **info: Any) -> None:
    """Mark a run complete: ``DONE`` (JSON) with the size and sha256 of its predictions (and
    of its validation predictions when there are any), written after them, so DONE never stands
    for predictions that are missing or not these.

    Parameters
    ----------
    run_dir : Path
    **info
        More of the record (the median NSE).
    """
    pred = Path(run_dir) / PREDICTIONS
    record = {"predictions_bytes": pred.stat().st_size, "predictions_sha256": file_sha256(pred)}
    val = Path(run_dir) / VAL_PREDICTIONS
    if val.is_file():
        record |= {
            "val_predictions_bytes": val.stat().st_size,
            "val_predictions_sha256": file_sha256(val),
        }
    write_json(Path(run_dir) / DONE, {**record, **info})


def run_is_done(run_dir: Path, verify: bool = False) -> bool:
    """THE test of "this run is finished", used by train, grid, status, the local runner, collect.

    True when ``DONE`` is a record of :func:`write_done` and ``predictions.parquet`` (and
    ``val_predictions.parquet`` when DONE names one) has the size it names; with ``verify`` its
    sha256 must match too (reads the file: train and collect do).
    A DONE of an older rvhpc, or one without (these) predictions, is not done: the cell runs again
    (training resumes from its last checkpoint, so only the evaluation is redone). Whether the run
    is the one a grid asks for is :func:`rvhpc.grid.state.cell_state`'s question.

    Parameters
    ----------
    run_dir : Path
    verify : bool
        Also compare the predictions' sha256.

    Returns
    -------
    bool
    """
    run_dir = Path(run_dir)
    try:
        record = json.loads((run_dir / DONE).read_text())
        files = [(run_dir / PREDICTIONS, "predictions")]
        if "val_predictions_bytes" in record:
            files.append((run_dir / VAL_PREDICTIONS, "val_predictions"))
        for path, key in files:
            if path.stat().st_size != record[f"{key}_bytes"]:
                return False
            if verify and file_sha256(path) != record[f"{key}_sha256"]:
                return False
        return True
    except (OSError, ValueError, TypeError, KeyError):
        return False


def diverged_record(run_dir: Path) -> dict[str, Any] | None:
    """The ``DIVERGED`` record of a run directory (epoch, reason), or None when it holds none.

    A record that is not readable JSON still marks the run diverged (its reason unknown): the file
    is only ever written by training, and a run that wrote it must not pass for a finished one.

    Parameters
    ----------
    run_dir : Path

    Returns
    -------
    dict or None
    """
    path = Path(run_dir) / DIVERGED
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"reason": f"{DIVERGED} unreadable"}
    return record if isinstance(record, dict) else {"reason": f"{DIVERGED} unreadable"}


def diverged_text(record: dict[str, Any]) -> str:
    """``diverged at epoch 3 (training loss nan)``: how status, run and train name a divergence.

    Parameters
    ----------
    record : dict
        A :func:`diverged_record`.

    Returns
    -------
    str
    """
    epoch = record.get("epoch")
    where = f" at epoch {epoch}" if epoch is not None else ""
    reason = record.get("reason")
    return f"diverged{where}" + (f" ({reason})" if reason else "")
