"""The one quoting path of every script rvhpc writes (array jobs, the collect job, Dask workers).

A value from a grid or a profile reaches a script only through these functions: line breaks are
refused (a newline would start a new shell line, or end an ``#SBATCH`` line and let the next part
of the value run as a command) and everything else goes through ``shlex.quote``, which sbatch's
directive parser and bash both read back as the original string. The profile's ``setup`` lines are
the one deliberate exception: verbatim shell written by the site admin.
"""

from __future__ import annotations

import shlex

from rvhpc.errors import ConfigError


def one_line(key: str, value: str) -> str:
    """``value`` unchanged; ConfigError naming ``key`` when it holds a line break."""
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{key}: the value {value!r} holds a line break; remove it")
    return value


def quoted(key: str, value: str) -> str:
    """``value`` as one shell word (``shlex.quote``), line breaks refused."""
    return shlex.quote(one_line(key, value))


def sbatch_option(key: str, value: str | None) -> str:
    """``--key=VALUE`` with the value quoted (``--key`` alone for a flag)."""
    if value is None:
        return f"--{key}"
    return f"--{key}={quoted(f'sbatch option --{key}', value)}"


def module_loads(modules: list[str]) -> list[str]:
    """One ``module load NAME`` line per environment module, each name quoted."""
    return [f"module load {quoted('modules', m)}" for m in modules]


def command_line(argv: list[str]) -> str:
    """An argv as one shell line (every word quoted, line breaks refused)."""
    return shlex.join(one_line("command", str(a)) for a in argv)
