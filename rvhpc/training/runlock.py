"""The lock of a run directory: one trainer at a time.

Two trainers on one run directory would mix their results silently (the config of one, the
predictions of the other). So the trainer holds ``RUN_DIR/train.lock`` (JSON: host, pid, Slurm job,
token, lease) while it trains, and a second one gets one line naming the holder.

The lock file appears complete or not at all (written under a temporary name and hard-linked onto
the lock name, which fails when the lock exists, on local and network file systems alike). A lock
is stale, and taken over, when its holder is gone: a dead pid on this host, an earlier run of the
same Slurm job (a requeue after a hard kill), or a lease the holder stopped renewing (it renews
every ``lease / 4`` seconds from a thread; the lease covers holders on other hosts of a shared
file system, whose pids cannot be checked). A take-over renames the stale file aside and checks
that it moved the file it judged stale, so two processes that take over at once cannot both win.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import temp_path
from rvhpc.errors import RunDirError
from rvhpc.jobenv import JobEnv
from rvhpc.runfiles import RUN_LOCK

#: seconds a lock stays valid without renewal (the holder renews it four times per lease)
LEASE_S = 300.0


@dataclass
class Holder:
    """Who holds a run directory, as written in its lock file."""

    host: str
    pid: int
    token: str
    started: float
    renewed: float
    lease: float
    job: str = ""  # SLURM_JOB_ID (array: ARRAYJOB_TASK) of the holder, when it runs in Slurm
    restart: int = 0  # SLURM_RESTART_COUNT of the holder

    def describe(self) -> str:
        job = f", Slurm job {self.job}" if self.job else ""
        return f"pid {self.pid} on host {self.host}{job}"


def _slurm_job() -> tuple[str, int]:
    env = JobEnv.from_environ()
    return env.job_label, env.restart


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read_holder(path: Path) -> Holder | None:
    """The holder written in ``path``; None when the file is absent or not a lock file."""
    try:
        data = json.loads(Path(path).read_text())
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def stale_reason(holder: Holder, now: float | None = None) -> str | None:
    """Why ``holder`` no longer holds its lock, or None while it does."""
    now = time.time() if now is None else now
    if holder.host == socket.gethostname():
        if holder.pid == os.getpid() or not _pid_alive(holder.pid):
            return f"pid {holder.pid} is gone"
    job, restart = _slurm_job()
    if job and holder.job == job and holder.restart < restart:
        return f"Slurm job {job} was requeued"
    if now > holder.renewed + holder.lease:
        return f"its lease expired {now - holder.renewed - holder.lease:.0f} s ago"
    return None


class RunLock:
    """``with RunLock(run_dir):`` hold the run directory's lock (RunDirError when another does)."""

    def __init__(self, run_dir: Path, lease: float = LEASE_S) -> None:
        self.path = Path(run_dir) / RUN_LOCK
        job, restart = _slurm_job()
        now = time.time()
        self.me = Holder(
            socket.gethostname(), os.getpid(), uuid.uuid4().hex, now, now, lease, job, restart
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_free(self) -> None:
        """Raise when a live process holds the lock (read-only; before anything is written)."""
        holder = read_holder(self.path)
        if holder is not None and stale_reason(holder) is None:
            raise self._busy(holder)

    def _busy(self, holder: Holder) -> RunDirError:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.started))
        return RunDirError(
            f"{self.path.parent} is in use: rvhpc train {holder.describe()} holds {self.path} "
            f"(since {since}); wait for it to end or stop it, or pass another --out"
        )

    def acquire(self) -> None:
        for _ in range(10):
            if self._link():
                self._thread = threading.Thread(target=self._renew, daemon=True)
                self._thread.start()
                return
            holder = read_holder(self.path)
            if holder is None:
                if self.path.exists():  # not a lock file of rvhpc: never delete it
                    raise RunDirError(
                        f"{self.path} exists but is not an rvhpc lock file: move it away"
                    )
                continue  # released meanwhile
            reason = stale_reason(holder)
            if reason is None:
                raise self._busy(holder)
            if self._take_over(holder):
                progress.log(f"{self.path}: took over the lock of {holder.describe()} ({reason})")
        raise RunDirError(f"{self.path}: could not take the lock (contended); run again")

    def _write(self, target: Path) -> None:
        target.write_text(json.dumps(asdict(self.me)) + "\n")

    def _link(self) -> bool:
        tmp = temp_path(self.path, self.me.token)
        self._write(tmp)
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over(self, holder: Holder) -> bool:
        aside = temp_path(self.path, self.me.token).with_suffix(".stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        moved = read_holder(aside)
        if moved is not None and moved.token != holder.token:
            try:  # a fresh lock taken meanwhile by someone else: put it back
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)
        return moved is None or moved.token == holder.token

    def _renew(self) -> None:
        while not self._stop.wait(self.me.lease / 4):
            holder = read_holder(self.path)
            if holder is None or holder.token != self.me.token:
                progress.log(f"{self.path}: this process lost its lock (taken over)")
                return
            self.me.renewed = time.time()
            tmp = temp_path(self.path, self.me.token)
            self._write(tmp)
            os.replace(tmp, self.path)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            holder = read_holder(self.path)
            if holder is not None and holder.token == self.me.token:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
