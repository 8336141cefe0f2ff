"""The array-task entry point (``rvhpc cell MANIFEST``): find the cell, prepare data if needed,
train it, and keep a small attempt log that ``rvhpc status`` reads.

The attempt log (``runs_dir/.rvhpc/attempts/<cell id>.jsonl``) has a ``start`` line per attempt
(job id, array task, restart count) and an ``end`` line with the exit status when the process lives
to write it; it ties Slurm's raw job ids (all the jobcomp log knows) to cells.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from rvhpc import numerics as kernel_path
from rvhpc import progress
from rvhpc.data.ensure import ensure_data
from rvhpc.errors import ConfigError, RunDirError, RvhpcError
from rvhpc.exitcodes import outcome_exit_code, pack_exit_code
from rvhpc.grid.cells import Cell
from rvhpc.grid.manifest import read_manifest
from rvhpc.grid.state import RunState
from rvhpc.jobenv import JobEnv
from rvhpc.runfiles import ATTEMPTS_DIR, attempts_log_name

#: states of a cell that an array task trains (stale ones only with --rerun-stale)
TO_TRAIN = ("missing", "started")


def slurm_ids(env: JobEnv) -> dict[str, Any]:
    """The Slurm ids of this process, as the attempt log records them.

    Parameters
    ----------
    env : JobEnv

    Returns
    -------
    dict
        job_id, array_job_id, task_id (None outside Slurm) and restart.
    """
    return {
        "job_id": env.job_id or None,
        "array_job_id": env.array_job_id or None,
        "task_id": env.array_task_id or None,
        "restart": env.restart,
    }


def attempts_file(manifest: Path, cell: Cell) -> Path:
    """The attempt log of ``cell`` next to the manifests (``.rvhpc/attempts/<id>.jsonl``).

    Parameters
    ----------
    manifest : Path
    cell : Cell

    Returns
    -------
    Path
    """
    return manifest.resolve().parent.parent / ATTEMPTS_DIR / attempts_log_name(cell.id)


def append_attempt(path: Path, event: dict[str, Any]) -> None:
    """One JSON line, appended with a single write (lines of concurrent writers never interleave).

    Parameters
    ----------
    path : Path
        The attempt log (created with its folder).
    event : dict
        The event; its time is added.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": time.time(), **event}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_attempts(path: Path) -> list[dict[str, Any]]:
    """The events of an attempt log; lines cut by a kill, not UTF-8 or not JSON are skipped.

    Parameters
    ----------
    path : Path

    Returns
    -------
    list of dict
        [] when there is no log.
    """
    if not path.exists():
        return []
    out = []
    # bytes: a line cut by a kill, or other bytes written into the log, is skipped, not fatal
    for line in path.read_bytes().splitlines():
        try:
            event = json.loads(line.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError alike
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def run_cell(
    manifest: Path,
    index: int | None = None,
    offset: int = 0,
    force: bool = False,
    pack: str | None = None,
    rerun_stale: bool = False,
    numerics: str | None = None,
) -> int:
    """Train the manifest's cell ``index`` (with ``pack="seeds"``: the members of its pack group
    that have work to do, as one batched model; a search trial's cells always together, with
    the settings the study gives them).

    Parameters
    ----------
    manifest : Path
    index : int, optional
        The cell; default SLURM_ARRAY_TASK_ID + ``offset``.
    offset : int
        Index of array task 0 (arrays split at MaxArraySize).
    force : bool
        Retrain even a done (or diverged) cell.
    pack : str, optional
        ``seeds`` to train the cell's pack group.
    rerun_stale : bool
        Replace the results of a stale cell (its folder holds another config) instead of
        refusing it.
    numerics : str, optional
        Overrides the cell's own mode (its grid's ``train: {numerics: ...}``). The process
        enters the mode before it writes anything: where numpy is loaded already with other
        settings, the ``rvhpc cell`` command starts itself again (rvhpc.numerics.enter).

    Returns
    -------
    int
        The exit status, :func:`rvhpc.exitcodes.outcome_exit_code` of the members' outcomes.

    Raises
    ------
    RvhpcError
        A bad manifest or index, a stale cell without ``rerun_stale``, or a training error.
    """
    from rvhpc.grid.packing import pack_of
    from rvhpc.grid.state import store_fingerprint_at
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_pack

    plan, cells = read_manifest(manifest)
    env = JobEnv.from_environ()
    i = env.task_index(index, offset)
    if not 0 <= i < len(cells):
        raise ConfigError(
            f"{manifest}: cell index {i} out of range (the manifest has {len(cells)} cells)"
        )
    fingerprint = store_fingerprint_at(Path(plan["data"]["store"]))
    group = pack_of(cells, i, pack)  # the cell, its pack group, or its search trial's cells
    states = {c.index: c.state(fingerprint) for c in group}
    members = [c for c in group if force or _wanted(states[c.index], rerun_stale)]
    for c in group:
        if c not in members and states[c.index].state in ("stale", "diverged"):
            progress.log(f"cell {c.index} {c.experiment} seed {c.seed}: {states[c.index]}")
    if not members:
        lead = states[i]
        if lead.state == "stale":
            raise RunDirError(
                f"{cells[i].run_dir}: stale ({lead.detail}): it holds another run than the grid "
                "asks for; rerun with --rerun-stale to replace its results"
            )
        members = [cells[i]]
    if cells[i].search is not None:
        members = group  # a trial reports on all its seeds (train_pack skips those DONE)
    mode = numerics or members[0].config.get("numerics", kernel_path.DEFAULT_MODE)
    kernel_path.ensure(mode)
    logs = [attempts_file(manifest, c) if env.is_main else None for c in members]
    for cell, log in zip(members, logs, strict=True):
        if log is not None:
            append_attempt(
                log,
                {
                    "event": "start",
                    "index": cell.index,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    **slurm_ids(env),
                },
            )
        progress.log(
            f"cell {cell.index} {cell.id} {cell.experiment} seed {cell.seed} -> {cell.run_dir}"
        )
    codes, reasons = [1] * len(members), ["unexpected error"] * len(members)
    try:
        if not Path(plan["data"]["store"]).is_file():
            ensure_data(plan["data"])
        if cells[i].search is not None:  # a search trial: its settings come from the study
            from rvhpc.hpc.search import run_trial

            outcomes = run_trial(members, env, force=force)
        else:
            outcomes = train_pack(
                [TrainConfig.create(**{**c.config, "numerics": mode}) for c in members],
                [c.run_dir for c in members],
                force=[force or states[c.index].state == "stale" for c in members],
            )
        codes = [outcome_exit_code(o.status, o.signal) for o in outcomes]
        reasons = [f"training {o.status}" + (f": {o.detail}" if o.detail else "") for o in outcomes]
        if env.is_main:
            for cell, reason in zip(members, reasons, strict=True):
                progress.log(f"cell {cell.index} {cell.experiment} seed {cell.seed}: {reason}")
        return pack_exit_code(codes)
    except RvhpcError as exc:
        codes, reasons = [exc.exit_code] * len(members), [str(exc)] * len(members)
        raise
    except BaseException as exc:
        reasons = [f"{type(exc).__name__}: {exc}"] * len(members)
        raise
    finally:
        for cell, log, code, reason in zip(members, logs, codes, reasons, strict=True):
            if log is not None:
                append_attempt(
                    log,
                    {"event": "end", "index": cell.index, "code": code, "reason": reason}
                    | slurm_ids(env),
                )


def _wanted(state: RunState, rerun_stale: bool) -> bool:
    return state.state in TO_TRAIN or (rerun_stale and state.state == "stale")
