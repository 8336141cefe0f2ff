"""The one helper that runs scheduler commands: an argv list, no shell, a timeout, both streams
kept."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from rvhpc.errors import SchedulerError


class CommandError(SchedulerError):
    """A scheduler command failed; carries what it ran and what it said."""

    def __init__(
        self, message: str, argv: Sequence[str], code: int | None, stdout: str, stderr: str
    ) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


@dataclass
class Completed:
    argv: list[str]
    stdout: str
    stderr: str


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:3])


def have(program: str) -> bool:
    return shutil.which(program) is not None


def run_command(argv: Sequence[str], timeout: float = 60.0, check: bool = True) -> Completed:
    """Run ``argv`` (shell=False). A missing program, a timeout or (with ``check``) a non-zero exit
    raises :class:`CommandError` whose message quotes the program's own stderr."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, shell=False)
    except FileNotFoundError:
        raise CommandError(f"{argv[0]}: command not found", argv, None, "", "") from None
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            f"{argv[0]} did not answer within {timeout:.0f} s",
            argv,
            None,
            str(exc.stdout or ""),
            str(exc.stderr or ""),
        ) from None
    if check and proc.returncode != 0:
        said = first_line(proc.stderr) or first_line(proc.stdout) or "no output"
        raise CommandError(
            f"{argv[0]} failed (exit {proc.returncode}): {said}",
            argv,
            proc.returncode,
            proc.stdout,
            proc.stderr,
        )
    return Completed(argv, proc.stdout, proc.stderr)
