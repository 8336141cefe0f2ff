"""Atomic writes: a result appears under its final name complete, or not at all.

The temporary file gets the mode a plain ``open()`` would give (0666 less the process umask):
``mkstemp`` creates it 0600, which would hide results from the group on a shared cluster.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success."""
    target = Path(target)
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~process_umask())
        yield Path(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        temporary = Path(str(exc.filename)).name.startswith(f".{target.name}.")
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
