"""The records a run directory holds: ``DONE`` (written last, and THE test of "this run is
finished"), ``DIVERGED`` (a run whose loss or predictions became non-finite), the sessions of
``provenance.json``, and the git commit config.json records.

Training writes them, and grid, status, collect and the runners read them, all through these
functions; the file names are :mod:`rvhpc.runfiles`'. torch-free, so that ``--help`` and collect
stay light.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from rvhpc.atomic import write_json
from rvhpc.runfiles import DIVERGED, DONE, PREDICTIONS, PROVENANCE_JSON, VAL_PREDICTIONS


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
    rank's record), or None where the file is missing or unreadable (runs of an older rvhpc).

    Parameters
    ----------
    run_dir : Path

    Returns
    -------
    list of dict, or None
    """
    try:
        data = json.loads((Path(run_dir) / PROVENANCE_JSON).read_text())
        sessions = data["sessions"]
        return sessions if isinstance(sessions, list) else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


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
