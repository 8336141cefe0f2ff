"""The one temporary-file naming (rvhpc.atomic) and the one lock helper (rvhpc.locks)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rvhpc.atomic import atomic_path, stale_temps, temp_of, temp_path
from rvhpc.errors import StoreError
from rvhpc.locks import file_lock, lock_path
from rvhpc.runfiles import own_checkpoint


def test_every_temporary_is_named_one_way(tmp_path: Path) -> None:
    target = tmp_path / "store.h5"
    assert temp_path(target, "abc") == tmp_path / ".store.h5.abc.tmp"
    assert temp_of(".store.h5.abc.tmp") == "store.h5"
    assert temp_of("store.h5") is None and temp_of(".store.tmp") is None
    with atomic_path(target) as tmp:
        assert temp_of(tmp.name) == "store.h5"  # what atomic_path makes, temp_of reads back
        tmp.write_text("x")
        leftover = temp_path(target, "killed")
        leftover.write_text("half")
        (tmp_path / ".other.h5.abc.tmp").write_text("not ours")
        assert leftover in stale_temps(target) and tmp in stale_temps(target)
    assert target.read_text() == "x"
    assert stale_temps(target) == [leftover]
    # a checkpoint's temporary belongs to the run, another file's does not
    assert own_checkpoint(temp_path(Path("epoch_003.pt"), "r4nd").name)
    assert not own_checkpoint(temp_path(Path("notes.txt"), "r4nd").name)


def test_a_lock_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores the mode: use a path under a file instead
            folder = tmp_path / "a-file"
            folder.write_text("")
        with pytest.raises(StoreError) as err:
            with file_lock(folder / "store.h5", "--out x", "write it elsewhere", StoreError):
                pass
    finally:
        os.chmod(tmp_path / "ro", 0o755)
    line = str(err.value)
    assert "\n" not in line and "cannot create the lock file" in line
    assert line.startswith("--out x: ") and line.endswith("write it elsewhere")


def test_the_lock_is_held_until_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "submissions.json"
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with file_lock(target, "grid g", "hint"):
            order.append("first in")
            holding.set()
            release.wait(10)
            order.append("first out")

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(10)
    waiter = threading.Thread(target=lambda: _take(target, order))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # still waiting for the holder
    release.set()
    thread.join(10)
    waiter.join(10)
    assert order == ["first in", "first out", "second in"]
    assert lock_path(target).is_file()


def _take(target: Path, order: list[str]) -> None:
    with file_lock(target, "grid g", "hint"):
        order.append("second in")
