"""Atomic writes: a result appears under its final name complete, or not at all.

Every temporary file or folder is named one way, ``.{final name}.{random or token}.tmp`` beside
its final name (:func:`temp_path`, :func:`temp_of`, :func:`stale_temps`): hidden, in the same
file system (so the rename is atomic), and recognisable as whose temporary it is.

The temporary file gets the mode a plain ``open()`` would give (0666 less the process umask):
``mkstemp`` creates it 0600, which would hide results from the group on a shared cluster.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: the suffix of every temporary name (:func:`temp_path`)
TEMP_SUFFIX = ".tmp"
_TEMP = re.compile(r"\.(.+)\.[^.]+\.tmp")


def temp_path(target: Path, token: str) -> Path:
    """The temporary name of ``target`` for one writer: ``.{name}.{token}.tmp`` beside it.

    Parameters
    ----------
    target : Path
        The final name.
    token : str
        What tells writers apart (random, or a lock holder's token); no dots.

    Returns
    -------
    Path
    """
    return Path(target).with_name(f".{Path(target).name}.{token}{TEMP_SUFFIX}")


def temp_of(name: str) -> str | None:
    """The final name a temporary file name stands for; None when ``name`` is no temporary.

    Parameters
    ----------
    name : str
        A file name (no folder).

    Returns
    -------
    str or None
    """
    found = _TEMP.fullmatch(name)
    return found.group(1) if found else None


def stale_temps(target: Path) -> list[Path]:
    """Temporaries of ``target`` left beside it by writers that were killed.

    Parameters
    ----------
    target : Path

    Returns
    -------
    list[Path]
        Sorted; remove them only while holding the lock of ``target``.
    """
    target = Path(target)
    pattern = f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"
    return sorted(p for p in target.parent.glob(pattern) if temp_of(p.name) == target.name)


def _prefix(target: Path) -> str:
    return f".{target.name}."


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~process_umask())
        yield Path(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        temporary = temp_of(Path(str(exc.filename)).name) == target.name
        if exc.filename is not None and not temporary:
            raise
        # a full or read-only disk: name the file the user asked for, not a temporary one
        raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def process_umask() -> int:
    """The umask of this process (read from /proc on Linux, else set and restored)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: Path, data: Any, indent: int = 2) -> None:
    write_text(target, json.dumps(data, indent=indent, sort_keys=True, default=str) + "\n")


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it replaces ``target`` (an
    older ``target`` is removed first), so a reader sees the whole tree or none of it."""
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent))
    try:
        yield tmp
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
