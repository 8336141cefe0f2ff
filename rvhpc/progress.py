"""The one progress helper. Library code reports progress only through this module.

On a terminal it draws rich progress bars; otherwise (Slurm logs, pipes, tests) it writes one
plain log line every ``every`` steps to stderr, so batch logs stay readable.

Every rich console of rvhpc comes from :func:`make_console`: off a terminal one line of output is
one line (never wrapped at 80 columns, so ``grep`` on a Slurm log finds a long path), and no
console ever reads emoji codes or markup in text (``a.txt:100:`` stays ``a.txt:100:``, a path
holding ``[bold]`` is printed as it is).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, ConsoleDimensions

#: width a console assumes off a terminal: no log line or table row is ever wrapped
UNWRAPPED_WIDTH = 100_000


class _Console(Console):
    """A rich Console that never wraps off a terminal (Slurm logs, pipes, files)."""

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(UNWRAPPED_WIDTH, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:  # rich's __init__ sets it; the property decides
        pass


def make_console(stderr: bool = False) -> Console:
    """The one way rvhpc makes a console: no emoji codes, no markup, no highlighting; off a
    terminal no wrapping (see the module docstring).

    Parameters
    ----------
    stderr : bool
        Write to stderr (progress, errors) instead of stdout (results).

    Returns
    -------
    Console
    """
    return _Console(stderr=stderr, highlight=False, emoji=False, markup=False)


_console = make_console(stderr=True)
_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence all progress output (used by tests and ``--quiet``).

    Parameters
    ----------
    quiet : bool
    """
    global _quiet
    _quiet = quiet


def interactive() -> bool:
    """True when progress draws bars (stderr is a terminal and output is not silenced).

    Returns
    -------
    bool
    """
    return _console.is_terminal and not _quiet


def log(message: str) -> None:
    """One line of progress information on stderr, with the time.

    Parameters
    ----------
    message : str
    """
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

    def advance(self, n: int = 1, info: str = "", keep: bool = False) -> None:
        """Count ``n`` steps done; ``info`` describes the last. ``keep``: a log line for this
        step on a terminal as well (above the bar), e.g. one per finished grid cell."""
        self.done += n
        self._info = info
        total = f"/{self.total}" if self.total is not None else ""
        if self._bar is not None:
            self._bar.update(
                self._bar_task, advance=n, description=f"{self.description} {info}".strip()
            )
            if keep:
                log(f"{self.description}: {self.done}{total} {info}".rstrip())
        elif self.done % self.every == 0 or (self.total is not None and self.done == self.total):
            log(f"{self.description}: {self.done}{total} {info}".rstrip())


class _Silent:
    """The task of a process that does not report (a DDP rank other than 0)."""

    def advance(self, n: int = 1, info: str = "", keep: bool = False) -> None:
        pass


@contextmanager
def task(
    description: str, total: int | None = None, every: int = 50, show: bool = True
) -> Iterator[_Task | _Silent]:
    """``total`` steps of work: a bar on a terminal, else a log line every ``every`` steps;
    nothing at all with ``show`` False.

    Parameters
    ----------
    description : str
    total : int, optional
    every : int
        Steps between log lines off a terminal.
    show : bool
        False for a process that does not report (a DDP rank other than 0).

    Returns
    -------
    context manager
        Yields a task whose ``advance(n, info, keep)`` counts steps.
    """
    if not show:
        yield _Silent()
    elif interactive():
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
    """True when stderr is a terminal.

    Returns
    -------
    bool
    """
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``: a duration as progress lines and ETAs give it.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
