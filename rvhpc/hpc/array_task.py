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
from rvhpc.errors import ConfigError, RvhpcError
from rvhpc.grid.cells import Cell
from rvhpc.grid.manifest import read_manifest
from rvhpc.jobenv import JobEnv
from rvhpc.runfiles import EXIT_REQUEUE


def slurm_ids(env: JobEnv) -> dict[str, Any]:
    return {
        "job_id": env.job_id or None,
        "array_job_id": env.array_job_id or None,
        "task_id": env.array_task_id or None,
        "restart": env.restart,
    }


def attempts_file(manifest: Path, cell: Cell) -> Path:
    return manifest.resolve().parent.parent / "attempts" / f"{cell.id}.jsonl"


def append_attempt(path: Path, event: dict[str, Any]) -> None:
    """One JSON line, appended with a single write (lines of concurrent writers never
    interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": time.time(), **event}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_attempts(path: Path) -> list[dict[str, Any]]:
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
    numerics: str | None = None,
) -> int:
    """Train the manifest's cell ``index`` (with ``pack="seeds"``: the members of its pack group
    that are not done, as one batched model); returns the exit status (0 done, 75 checkpointed:
    EXIT_REQUEUE checkpointed: requeue).

    ``numerics`` overrides the cell's own mode (its grid's ``train: {numerics: ...}``). The
    process enters the mode before it writes anything: where numpy is loaded already with other
    settings, the ``rvhpc cell`` command starts itself again (rvhpc.numerics.enter)."""
    from rvhpc.grid.packing import check_pack_mode, pack_of
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_pack

    plan, cells = read_manifest(manifest)
    env = JobEnv.from_environ()
    i = env.task_index(index, offset)
    if not 0 <= i < len(cells):
        raise ConfigError(
            f"{manifest}: cell index {i} out of range (the manifest has {len(cells)} cells)"
        )
    members = [cells[i]]
    if check_pack_mode(pack) is not None:
        members = [c for c in pack_of(cells, i) if force or not c.is_done()] or [cells[i]]
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
        outcomes = train_pack(
            [TrainConfig.create(**{**c.config, "numerics": mode}) for c in members],
            [c.run_dir for c in members],
            force=force,
        )
        codes = [EXIT_REQUEUE if o.status == "preempted" else 0 for o in outcomes]
        reasons = [f"training {o.status}" for o in outcomes]
        return max(codes)
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
