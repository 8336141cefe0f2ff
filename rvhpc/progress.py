"""The one progress helper. Library code reports progress only through this module.

On a terminal it draws rich progress bars; otherwise (Slurm logs, pipes, tests) it writes one
plain log line every ``every`` steps to stderr, so batch logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

_console = Console(stderr=True, highlight=False)
_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence all progress output (used by tests and ``--quiet``)."""
    global _quiet
    _quiet = quiet


def interactive() -> bool:
    return _console.is_terminal and not _quiet


def log(message: str) -> None:
    """One line of progress information."""
    if not _quiet:
        _console.print(f"[{time.strftime('%H:%M:%S')}] {message}", markup=False, highlight=False)


class _Task:
    def __init__(self, description: str, total: int | None, every: int, bar) -> None:
        self.description = description
        self.total = total
        self.every = max(1, every)
        self.done = 0
        self._bar = bar
        self._bar_task = bar.add_task(description, total=total) if bar is not None else None
        self._info = ""

    def advance(self, n: int = 1, info: str = "") -> None:
        self.done += n
        self._info = info
        if self._bar is not None:
            self._bar.update(
                self._bar_task, advance=n, description=f"{self.description} {info}".strip()
            )
        elif self.done % self.every == 0 or (self.total is not None and self.done == self.total):
            total = f"/{self.total}" if self.total is not None else ""
            log(f"{self.description}: {self.done}{total} {info}".rstrip())


@contextmanager
def task(description: str, total: int | None = None, every: int = 50) -> Iterator[_Task]:
    """A unit of work with ``total`` steps: a bar on a terminal, a line every ``every`` steps otherwise."""
    if interactive():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_console,
            transient=False,
        ) as bar:
            yield _Task(description, total, every, bar)
    else:
        yield _Task(description, total, every, None)


def stream_is_terminal() -> bool:
    return sys.stderr.isatty()
