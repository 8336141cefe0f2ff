"""What Slurm says about a grid's array tasks: ``squeue`` (live tasks), ``sacct`` (accounting)
and the jobcomp log through ``sacct -c`` (raw job ids, when accounting is off), parsed. The
parsers are tested on captured output (tests/hpc/data)."""

from __future__ import annotations

import getpass
import re

from rvhpc.hpc.commands import CommandError, run_command

_TASK = re.compile(r"^(\d+)_(\d+)$")


def _task_rows(text: str, fields: int) -> list[list[str]]:
    """The ``|``-separated rows of array tasks (``123_4``) with at least ``fields`` fields."""
    rows = [line.strip().split("|") for line in text.splitlines()]
    return [r for r in rows if len(r) >= fields and _TASK.match(r[0])]


def parse_squeue(text: str) -> dict[str, tuple[str, str]]:
    """``squeue -h -r -o %i|%T|%r`` -> {"123_4": (state, reason)} (array tasks only)."""
    return {r[0]: (r[1], r[2]) for r in _task_rows(text, 3)}


def parse_sacct(text: str) -> dict[str, tuple[str, str, str]]:
    """``sacct -P -n -X --format=JobID,State,ExitCode,Elapsed`` -> {"123_4": (state, exit,
    elapsed)}; pending ranges like ``123_[5-9%2]`` and job steps are skipped, and a state such
    as ``CANCELLED by 0`` is ``CANCELLED``.
    """
    return {r[0]: (r[1].split()[0], r[2], r[3]) for r in _task_rows(text, 4)}


def parse_jobcomp(text: str) -> dict[str, tuple[str, str, str]]:
    """``sacct -c -P -n --format=JobID,State,ExitCode,Elapsed`` -> {raw job id: (state, exit,
    elapsed)}; a requeued job appears once per run: the last line wins.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict
    """
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 4 and parts[0].isdigit():
            out[parts[0]] = (parts[1].split()[0], parts[2], parts[3])
    return out


def squeue() -> dict[str, tuple[str, str]]:
    """This user's array tasks in the queue.

    Returns
    -------
    dict
        {"<array job>_<task>": (state, reason)}.

    Raises
    ------
    CommandError
        squeue failed.
    """
    return parse_squeue(
        run_command(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T|%r"]).stdout
    )


def sacct(job_ids: list[str]) -> dict[str, tuple[str, str, str]] | None:
    """The accounting records of these array jobs' tasks; None when accounting is disabled.

    Parameters
    ----------
    job_ids : list of str
        Array job ids.

    Returns
    -------
    dict or None
        {"<array job>_<task>": (state, exit, elapsed)}.

    Raises
    ------
    CommandError
        sacct failed for another reason.
    """
    try:
        out = run_command(
            [
                "sacct",
                "-P",
                "-n",
                "-X",
                "--format=JobID,State,ExitCode,Elapsed",
                "-j",
                ",".join(job_ids),
            ]
        ).stdout
    except CommandError as exc:
        if (
            "accounting storage is disabled" in (exc.stderr + exc.stdout).lower()
            or exc.code is None
        ):
            return None
        raise
    return parse_sacct(out)


def jobcomp() -> dict[str, tuple[str, str, str]]:
    """The jobcomp log by raw job id (``sacct -c``, when accounting is off).

    Returns
    -------
    dict
        {raw job id: (state, exit, elapsed)}.

    Raises
    ------
    CommandError
        sacct -c failed.
    """
    # sacct -c warns on stderr about fields it cannot parse (ArrayJobId): harmless
    return parse_jobcomp(
        run_command(["sacct", "-c", "-P", "-n", "--format=JobID,State,ExitCode,Elapsed"]).stdout
    )
