"""Error types. Every error a user can cause is an RvhpcError whose message is one line:
which file, which field, what to do. The CLI prints it and exits non-zero, never a traceback."""

from __future__ import annotations

import errno
import os
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager


class RvhpcError(Exception):
    """Base class of all user-facing errors."""

    exit_code: int = 2


class DataError(RvhpcError):
    """CAMELS files, basin lists or stores are missing, malformed or inconsistent."""


class StoreError(DataError):
    """A basin store is missing, incompatible or corrupt."""


class ConfigError(RvhpcError):
    """A grid file, site profile or training option is invalid."""


class RunDirError(RvhpcError):
    """A run directory holds a different configuration or is not usable."""


class SchedulerError(RvhpcError):
    """sbatch/squeue/sacct or another scheduler command failed."""


class ContainerError(RvhpcError):
    """No container runtime, or building/running an image failed."""


class CollectError(RvhpcError):
    """Results cannot be collected (no finished cells, corrupt predictions, mismatched basins)."""


#: the longest echo of an input value in an error line (see :func:`excerpt`)
EXCERPT_CHARS = 60

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = EXCERPT_CHARS
_REPR.maxlong = 40
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line ``repr`` of an input value for an error message.

    Error lines echo what the user gave, but a hostile or mistaken input can be huge (a 322 MB
    error line once echoed an expanded YAML alias bomb): the repr is built with :mod:`reprlib`
    (bounded work, whatever the size or nesting of ``value``) and cut to ``limit`` characters.

    Parameters
    ----------
    value : object
        The value to show.
    limit : int
        The most characters returned.

    Returns
    -------
    str
        The repr, with ``...`` where it was cut; never a line break.
    """
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        text = f"<{type(value).__name__} too long to show>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: what to do about the OS errors users meet (read-only or full disks, files in the way)
_OS_ADVICE = {
    errno.EACCES: "permission denied: make it writable (or readable), or choose another path",
    errno.EPERM: "operation not permitted: choose another path",
    errno.EROFS: "read-only file system: choose a path on a writable file system",
    errno.ENOSPC: "no space left on the device: free some space or choose another path",
    errno.EDQUOT: "disk quota exceeded: free some space or choose another path",
    errno.ENOTDIR: "a file stands where a folder is expected: move it or choose another path",
    errno.EISDIR: "is a folder, where a file is expected: give a file name",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "already exists: choose another path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
    errno.EMFILE: "too many open files: raise `ulimit -n`",
}


@contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Give OSErrors that name no file (a ``write`` on a full disk) the path being written.

    Parameters
    ----------
    path : str or PathLike
        The file or folder being written inside the block.

    Raises
    ------
    OSError
        The error of the block, with ``path`` as its file name when it named none.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: the path(s) it names, what went wrong, what to do.

    Parameters
    ----------
    exc : OSError
        The error.

    Returns
    -------
    str
        ``path[ -> path2]: advice``, never a line break.
    """
    paths = [str(p) for p in (exc.filename, exc.filename2) if p not in (None, "")]
    where = " -> ".join(paths)
    what = _OS_ADVICE.get(exc.errno) if exc.errno is not None else None
    if exc.errno == errno.EEXIST and paths and os.path.isfile(paths[0]):
        what = "is a file, where a folder is expected: choose another path or move the file"
    if what is None:
        what = exc.strerror or str(exc) or type(exc).__name__
    line = f"{where}: {what}" if where else what
    return " ".join(line.split())  # one line, whatever the library put into the message
