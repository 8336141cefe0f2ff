"""Submit a grid to Slurm as array jobs: manifest, one script per array, ``sbatch --parsable``,
and a record of what was submitted (``runs_dir/.rvhpc/submissions.json``) for ``rvhpc status``."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import write_json, write_text
from rvhpc.errors import ConfigError, SchedulerError
from rvhpc.grid.cells import Grid
from rvhpc.grid.manifest import write_manifest
from rvhpc.grid.packing import task_groups
from rvhpc.hpc import sbatch
from rvhpc.hpc.commands import CommandError, run_command
from rvhpc.hpc.profile import SiteProfile
from rvhpc.runfiles import array_log_name, collect_log_name

DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's own default
_JOB_ID = re.compile(r"^(?P<id>\d+)(;\S+)?$")


@dataclass
class Plan:
    """What a submission writes and runs; ``--dry-run`` prints it instead of calling sbatch."""

    grid: Grid
    manifest: Path
    arrays: list[sbatch.ArrayJob]
    collect_script: Path | None = None
    collect_text: str = ""
    job_ids: list[str] = field(default_factory=list)
    collect_job: str | None = None
    packs: dict[str, list[int]] = field(default_factory=dict)  # lead index -> member indices

    def sbatch_argv(self, array: sbatch.ArrayJob) -> list[str]:
        return ["sbatch", "--parsable", str(array.script)]

    def collect_argv(self, dependency_ids: list[str]) -> list[str]:
        deps = ":".join(dependency_ids) if dependency_ids else "<array job ids>"
        return ["sbatch", "--parsable", f"--dependency=afterany:{deps}", str(self.collect_script)]


def max_array_size(profile: SiteProfile) -> int:
    """The profile's value, else MaxArraySize from ``scontrol show config``, else Slurm's
    default."""
    if profile.max_array_size:
        return profile.max_array_size
    try:
        out = run_command(["scontrol", "show", "config"], timeout=30).stdout
    except CommandError:
        return DEFAULT_MAX_ARRAY_SIZE
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M)
    return int(match.group(1)) if match else DEFAULT_MAX_ARRAY_SIZE


def binds_for(grid: Grid) -> list[Path]:
    """Folders an array task must see inside a container: runs dir, store folder, grid folder."""
    paths = [grid.runs_dir, grid.store.parent, grid.path.parent]
    roots = grid.spec.data.roots
    if roots is not None:
        lists = grid.spec.data.basins
        paths += roots + [
            p.parent for p in (lists.values() if isinstance(lists, dict) else [lists])
        ]
    unique: list[Path] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


def plan(
    grid: Grid,
    profile: SiteProfile,
    indices: list[int],
    *,
    max_parallel: int | None = None,
    collect: bool = False,
    array_size: int | None = None,
    pack: str | None = None,
    rerun_stale: bool = False,
) -> Plan:
    """Write the manifest and the batch scripts for the cells ``indices`` (nothing is submitted).

    With ``pack="seeds"`` ``indices`` are the lead cells of pack groups (``grid.pack_groups``):
    each array task trains its group's missing members as one batched model. A search trial's
    cells are always one task (``grid.packing.task_groups``), led by its first seed's cell. With
    ``rerun_stale`` each task replaces its cell's stale results (``rvhpc cell --rerun-stale``)."""
    if not indices:
        raise ConfigError(f"grid {grid.name}: no cells to submit")
    if max_parallel is not None and max_parallel < 1:
        raise ConfigError(f"--max-parallel must be at least 1, got {max_parallel}")
    manifest = write_manifest(grid)
    size = array_size or max_array_size(profile)
    scripts = grid.state_dir / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    grid.log_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    arrays = []
    for offset, task_ids in sbatch.chunk(indices, size):
        command = sbatch.cell_command(
            profile, manifest, offset, binds_for(grid), pack=pack, rerun_stale=rerun_stale
        )
        text = sbatch.render(
            profile,
            job_name=f"rvhpc-{grid.name}",
            array=sbatch.array_spec(task_ids, max_parallel),
            log_file=grid.log_dir / array_log_name(grid.name),
            workdir=grid.runs_dir,
            command=command,
        )
        script = scripts / f"{grid.name}-{stamp}-offset{offset}.sbatch"
        write_text(script, text)
        arrays.append(sbatch.ArrayJob(offset, task_ids, script, text))
    result = Plan(grid, manifest, arrays)
    wanted = set(indices)
    result.packs = {
        str(g[0].index): [c.index for c in g]
        for g in task_groups(grid.cells, pack)
        if g[0].index in wanted and (pack is not None or len(g) > 1)
    }
    if collect:
        result.collect_script = scripts / f"{grid.name}-{stamp}-collect.sbatch"
        result.collect_text = collect_script(grid, profile)
        write_text(result.collect_script, result.collect_text)
    return result


def collect_script(grid: Grid, profile: SiteProfile) -> str:
    """A one-task job running ``rvhpc collect GRID --out RUNS/results`` after the arrays, rendered
    from the same template as the array tasks (so it runs in the profile's container too)."""
    one_task = profile.model_copy(update={"nodes": 1, "gpus_per_node": 0})
    command = sbatch.collect_command(
        one_task,
        grid.path,
        grid.runs_dir / "results",
        profile.cpus_per_task,
        binds_for(grid),
    )
    return sbatch.render(
        one_task,
        job_name=f"rvhpc-{grid.name}-collect",
        array=None,
        log_file=grid.log_dir / collect_log_name(grid.name),
        workdir=grid.runs_dir,
        command=command,
        requeue=False,
    )


def _sbatch(argv: list[str], script: Path) -> str:
    try:
        out = run_command(argv, timeout=120).stdout.strip()
    except CommandError as exc:
        if exc.code is None and "not found" in str(exc):
            raise SchedulerError(
                "sbatch not found: no Slurm client on this machine; use "
                "`rvhpc submit GRID --dry-run` to write and print the scripts"
            ) from None
        said = "; ".join(
            line.strip() for line in (exc.stderr or exc.stdout).splitlines() if line.strip()
        )
        raise SchedulerError(f"sbatch rejected {script}: {said or str(exc)}") from None
    match = _JOB_ID.match(out.splitlines()[-1] if out else "")
    if not match:
        raise SchedulerError(f"sbatch --parsable gave no job id for {script}: {out!r}")
    return match.group("id")


def submit(p: Plan) -> Plan:
    """Submit every array (and the collect job), recording each job id as soon as it exists."""
    for array in p.arrays:
        job_id = _sbatch(p.sbatch_argv(array), array.script)
        p.job_ids.append(job_id)
        record(
            p.grid,
            {
                "job_id": job_id,
                "offset": array.offset,
                "task_ids": array.task_ids,
                "script": str(array.script),
                "manifest": str(p.manifest),
                "time": time.time(),
                **({"packs": p.packs} if p.packs else {}),
            },
        )
        progress.log(
            f"submitted array job {job_id}: "
            f"cells {array.cell_indices[0]}..{array.cell_indices[-1]} "
            f"({len(array.task_ids)} tasks)"
        )
    if p.collect_script is not None:
        p.collect_job = _sbatch(p.collect_argv(p.job_ids), p.collect_script)
        progress.log(f"submitted collect job {p.collect_job} (after {', '.join(p.job_ids)})")
    return p


def submissions_path(grid: Grid) -> Path:
    return grid.state_dir / "submissions.json"


def read_submissions(grid: Grid) -> list[dict[str, Any]]:
    path = submissions_path(grid)
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text())["arrays"]
    except (OSError, ValueError, KeyError) as exc:
        raise SchedulerError(
            f"{path}: unreadable ({exc}); delete it to forget earlier submissions"
        ) from None


def record(grid: Grid, entry: dict[str, Any]) -> None:
    """Append one submitted array to submissions.json (atomic rewrite, under a lock)."""
    from rvhpc.locks import file_lock

    path = submissions_path(grid)
    with file_lock(path, f"grid {grid.name}", "make the runs folder writable", SchedulerError):
        arrays = read_submissions(grid)
        arrays.append({"grid": grid.name, **entry})
        write_json(path, {"arrays": arrays}, indent=1)
