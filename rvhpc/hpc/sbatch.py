"""Render one Slurm array batch script from the packaged template (rvhpc/resources/templates).

The template has dask-jobqueue's five slots (shebang, header, prologue, command, epilogue). Header
lines are sorted ``#SBATCH --key=value``; every value and command goes through
:mod:`rvhpc.hpc.quoting` (the quoting path the Dask worker jobs share), so no value from a grid or
a profile reaches the shell unquoted. The profile's ``setup`` lines are the one deliberate
exception: verbatim shell written by the site admin.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from rvhpc.errors import ConfigError
from rvhpc.exitcodes import EXIT_REQUEUE
from rvhpc.hpc.profile import SiteProfile
from rvhpc.hpc.quoting import command_line, module_loads, one_line, sbatch_option
from rvhpc.jobenv import master_port_shell
from rvhpc.resources import sbatch_template

TEMPLATE = sbatch_template()
SLOTS = ("shebang", "header", "prologue", "command", "epilogue")
_SLOT = re.compile(r"\{\{(" + "|".join(SLOTS) + r")\}\}")


@dataclass
class ArrayJob:
    """One array of a submission: the cells ``offset + task id`` for every task id in
    ``task_ids``."""

    offset: int
    task_ids: list[int]
    script: Path
    text: str

    @property
    def cell_indices(self) -> list[int]:
        return [self.offset + t for t in self.task_ids]


def array_spec(task_ids: list[int], max_parallel: int | None) -> str:
    """``0-4,7%2``: sorted ids compressed into ranges, with the throttle."""
    ids = sorted(set(task_ids))
    parts: list[str] = []
    start = prev = ids[0]
    for i in ids[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(parts) + (f"%{max_parallel}" if max_parallel else "")


def chunk(indices: list[int], max_array_size: int) -> list[tuple[int, list[int]]]:
    """Split cell indices into arrays whose task ids stay below MaxArraySize: (offset, task ids)."""
    groups: dict[int, list[int]] = {}
    for index in sorted(indices):
        offset = (index // max_array_size) * max_array_size
        groups.setdefault(offset, []).append(index - offset)
    return sorted(groups.items())


def directives(
    profile: SiteProfile,
    job_name: str,
    array: str | None,
    log_file: Path,
    workdir: Path,
    requeue: bool = True,
) -> list[str]:
    """The sorted ``#SBATCH`` lines, then the profile's extra ones; ``skip_sbatch`` drops
    generated ones.

    ``array`` None: a single job (no ``--array``); ``requeue`` False: no ``--requeue`` and no
    time-limit signal (a job that does not checkpoint, such as collect).
    """
    opts: dict[str, str | None] = {
        "chdir": str(workdir),
        "cpus-per-task": str(profile.cpus_per_task),
        "job-name": job_name,
        "mem": f"{int(round(profile.mem_gb * 1024))}M",
        "nodes": str(profile.nodes),
        "ntasks-per-node": str(profile.tasks_per_node),
        "open-mode": "append",
        "output": str(log_file),
        "requeue": None,
        "signal": f"B:USR1@{profile.signal_seconds}",
        "time": profile.time_limit,
    }
    if array is not None:
        opts["array"] = array
    if not requeue:
        del opts["requeue"], opts["signal"]
    for key, value in (
        ("partition", profile.partition),
        ("account", profile.account),
        ("qos", profile.qos),
    ):
        if value:
            opts[key] = value
    if profile.gpus_per_node:
        opts["gpus-per-node"] = str(profile.gpus_per_node)
    lines = []
    for key in sorted(opts):
        value = opts[key]
        line = sbatch_option(key, value)
        if not any(skip in line for skip in profile.skip_sbatch):
            lines.append(f"#SBATCH {line}")
    for extra in profile.extra_sbatch:
        one_line("extra_sbatch", extra)
        if not extra.startswith("-"):
            raise ConfigError(
                f"profile {profile.name}: extra_sbatch {extra!r} must look like --key=value"
            )
        lines.append(f"#SBATCH {extra}")
    return lines


def cell_command(
    profile: SiteProfile,
    manifest: Path,
    offset: int,
    binds: list[Path],
    pack: str | None = None,
    rerun_stale: bool = False,
) -> list[str]:
    """The argv of one array task: ``python -m rvhpc cell MANIFEST --offset N`` (in the container
    when the profile names one), under ``srun`` when the cell spans several GPUs or nodes.

    Parameters
    ----------
    profile : SiteProfile
    manifest : Path
    offset : int
        Index of array task 0.
    binds : list[Path]
        Folders the container needs.
    pack : str, optional
        ``seeds``: each task trains its cell's pack group.
    rerun_stale : bool
        Each task replaces the results of its cell when they are stale (``--rerun-stale``).

    Returns
    -------
    list[str]
    """
    from rvhpc.hpc.container import uses_container

    in_container = uses_container(profile.container)
    python = profile.python or ("python3" if in_container else sys.executable)
    argv = [python, "-m", "rvhpc", "cell", str(manifest), "--offset", str(offset)]
    if pack:
        argv += ["--pack", pack]
    if rerun_stale:
        argv.append("--rerun-stale")
    if in_container:
        from rvhpc.hpc.container import wrap_command

        argv = wrap_command(argv, profile.container, binds)
    if profile.world_size > 1:
        argv = [
            "srun",
            "--kill-on-bad-exit=1",
            f"--ntasks-per-node={profile.tasks_per_node}",
            f"--nodes={profile.nodes}",
        ] + argv
    return argv


def collect_command(
    profile: SiteProfile, grid_file: Path, out: Path, workers: int, binds: list[Path]
) -> list[str]:
    """The argv of the collect job: ``python -m rvhpc collect GRID --out OUT --workers N``, in the
    container when the profile names one (as an array task runs)."""
    from rvhpc.hpc.container import uses_container, wrap_command

    in_container = uses_container(profile.container)
    python = profile.python or ("python3" if in_container else sys.executable)
    argv = [python, "-m", "rvhpc", "collect", str(grid_file), "--out", str(out)]
    argv += ["--workers", str(workers)]
    return wrap_command(argv, profile.container, binds)


def prologue(profile: SiteProfile) -> list[str]:
    lines = module_loads(profile.modules)
    lines += list(profile.setup)
    lines.append(f"RVHPC_MAX_REQUEUES={int(profile.max_requeues)}")
    lines.append(
        f"RVHPC_EXIT_REQUEUE={EXIT_REQUEUE}   # a cell that checkpointed and wants a requeue"
    )
    lines.append(
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"   '
        "# Slurm does not set it; torch would oversubscribe"
    )
    if profile.world_size > 1:
        lines.append(
            'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"'
        )
        lines.append(f'export MASTER_PORT="{master_port_shell()}"   # distinct per job')
    return lines


def render(
    profile: SiteProfile,
    *,
    job_name: str,
    array: str | None,
    log_file: Path,
    workdir: Path,
    command: list[str],
    requeue: bool = True,
    template: Path = TEMPLATE,
) -> str:
    """Fill the template's slots in one pass, so a value is never scanned for slots again (a path
    holding ``{{prologue}}`` stays that path). ``array`` None and ``requeue`` False: a single job,
    such as collect, that goes through the same template, prologue and container as the array
    tasks."""
    values = {
        "shebang": "#!/bin/bash",
        "header": "\n".join(directives(profile, job_name, array, log_file, workdir, requeue)),
        "prologue": "\n".join(prologue(profile)),
        "command": command_line(command),
        "epilogue": "",
    }
    return fill_slots(template.read_text(), values)


def fill_slots(text: str, values: dict[str, str]) -> str:
    """Replace every ``{{slot}}`` of ``text`` by ``values[slot]`` in a single left-to-right pass."""
    return _SLOT.sub(lambda m: values[m.group(1)], text)
