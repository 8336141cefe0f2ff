"""The one lock helper: a ``<file>.lock`` beside what several processes may write at once.

Array tasks of one grid start together on many nodes and all want the same store, the same
synthetic tree and the same submissions record. They take ``filelock.FileLock`` on a lock file
beside it. FileLock waits forever for a lock file it cannot create (a read-only folder, a path
under /proc), so the lock file is created first here and a failure is one line that names it,
instead of a job that hangs until its time limit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rvhpc.errors import RvhpcError

#: what is appended to a file's name to make its lock's
LOCK_SUFFIX = ".lock"


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target``: ``<target>.lock`` beside it.

    Parameters
    ----------
    target : path-like
        The file or folder the lock guards.

    Returns
    -------
    Path
    """
    return Path(str(target) + LOCK_SUFFIX)


@contextmanager
def file_lock(
    target: str | os.PathLike,
    where: str,
    hint: str,
    error: type[RvhpcError] = RvhpcError,
) -> Iterator[Path]:
    """Hold the lock of ``target`` for the ``with`` block (waiting for another holder).

    Parameters
    ----------
    target : path-like
        The file or folder the lock guards (its folder is created).
    where : str
        What the error names first (``--out store.h5``, ``grid paper``).
    hint : str
        What to do when the lock file cannot be created.
    error : type of RvhpcError
        The error raised then (StoreError for a store, SchedulerError for submissions, ...).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    RvhpcError
        Of type ``error``: the lock file cannot be created, in one line.
    """
    from filelock import FileLock

    lock = lock_path(target)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT, 0o666))
    except OSError as exc:
        raise error(
            f"{where}: cannot create the lock file {lock} ({exc.strerror}); {hint}"
        ) from None
    with FileLock(str(lock)):
        yield lock
