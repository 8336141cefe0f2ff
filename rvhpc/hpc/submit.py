"""``rvhpc submit``: choose the cells, provision the data once, write the scripts, call sbatch.

The CLI parses options and prints; everything a submission decides is here, so it can be called
(and tested) without the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from rvhpc.data.ensure import ensure_data
from rvhpc.grid.basins import check_basins
from rvhpc.grid.cells import Grid
from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import data_plan
from rvhpc.grid.packing import check_pack_mode, task_groups
from rvhpc.grid.state import grid_states, stale_line
from rvhpc.hpc import slurm
from rvhpc.hpc.array_task import TO_TRAIN
from rvhpc.hpc.profile import load_profile
from rvhpc.hpc.quoting import command_line


@dataclass
class Submission:
    """What :func:`submit_grid` did: the cells, the plan (None when nothing was left to submit)
    and, when nothing was submitted, why."""

    grid: Grid
    indices: list[int]
    plan: slurm.Plan | None
    nothing: str = ""
    dry_run: bool = False
    tasks: int = 0  # array tasks (fewer than cells with --pack seeds)
    stale: str = ""  # the line naming stale cells that were not submitted (grid.state.stale_line)

    @property
    def job_ids(self) -> list[str]:
        """The array job ids, then the collect job's (empty for a dry run)."""
        if self.plan is None:
            return []
        return self.plan.job_ids + ([self.plan.collect_job] if self.plan.collect_job else [])


def select_cells(
    grid: Grid, only_missing: bool = False, rerun_stale: bool = False
) -> tuple[list[int], str, str]:
    """The cell indices to submit, the line that says why there are none, and the line naming
    the stale cells left out.

    Without ``only_missing`` every cell with work to do (not done, not diverged, not stale); with
    it only the cells ``rvhpc status`` calls failed or missing (so running and pending cells are
    not submitted twice). Stale cells are added with ``rerun_stale``, else named.

    Parameters
    ----------
    grid : Grid
    only_missing, rerun_stale : bool

    Returns
    -------
    (list[int], str, str)
    """
    states = grid_states(grid)
    stale = [i for i, s in states.items() if s.state == "stale"]
    if only_missing:
        from rvhpc.hpc.status import grid_status

        st = grid_status(grid)
        wanted = ("failed", "missing", "stale") if rerun_stale else ("failed", "missing")
        indices = st.indices(*wanted)
        counts = {k: v for k, v in st.counts().items() if v}
        nothing = f"grid {grid.name}: nothing to resubmit ({counts})"
    else:
        wanted = TO_TRAIN + (("stale",) if rerun_stale else ())
        indices = [i for i, s in states.items() if s.state in wanted]
        everything = all(s.state == "done" for s in states.values())
        nothing = f"grid {grid.name}: " + (
            "every cell is done" if everything else f"no cell left to run ({_counted(states)})"
        )
    left_out = "" if rerun_stale or not stale else stale_line(grid, states)
    return indices, "" if indices else nothing, left_out


def _counted(states: dict) -> str:
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s.state] = counts.get(s.state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def submit_grid(
    grid: str,
    profile: str | None = None,
    *,
    dry_run: bool = False,
    max_parallel: int | None = None,
    only_missing: bool = False,
    collect: bool = False,
    pack: str | None = None,
    rerun_stale: bool = False,
) -> Submission:
    """Submit a grid's cells as array jobs (one task per cell), or with ``dry_run`` only write the
    scripts. The data (synthetic CAMELS, the store) is prepared once here, before the arrays, so
    the first array tasks do not race to build it. With ``pack="seeds"`` (default: the profile's
    ``pack``) one task per group of cells differing only in seed (``grid.pack_groups``): the
    task index is the group's lead cell, and ``tasks`` counts them.

    Every scenario's basins are checked against the store first; stale cells (their folder holds
    another config) are submitted only with ``rerun_stale``, and the tasks then replace their
    results; diverged cells are never resubmitted (the same settings diverge again).

    Parameters
    ----------
    grid : str
        A grid file or built-in name.
    profile : str, optional
        A site profile name or file.
    dry_run, max_parallel, only_missing, collect, pack, rerun_stale
        As the options of ``rvhpc submit``.

    Returns
    -------
    Submission

    Raises
    ------
    ConfigError, DataError, SchedulerError
        A bad grid or profile, missing data (or basins the store lacks), a store that finished
        runs depend on and the grid would rebuild, or an sbatch that refused a script.
    """
    g = load_grid(grid)
    prof = load_profile(profile)
    check_basins(g)
    indices, nothing, stale = select_cells(g, only_missing, rerun_stale)
    if not indices:
        return Submission(g, [], None, nothing, dry_run, stale=stale)
    if not dry_run:
        ensure_data(data_plan(g))
        # again: a store rebuilt for this grid leaves the runs trained on the old one stale
        indices, nothing, stale = select_cells(g, only_missing, rerun_stale)
        if not indices:
            return Submission(g, [], None, nothing, dry_run, stale=stale)
    mode = check_pack_mode(pack if pack is not None else prof.pack)
    # one array task per group (a pack, a search trial, else a cell) with something to do
    wanted = set(indices)
    tasks = [grp[0].index for grp in task_groups(g.cells, mode) if wanted & {c.index for c in grp}]
    p = slurm.plan(
        g, prof, tasks, max_parallel=max_parallel, collect=collect, pack=mode,
        rerun_stale=rerun_stale,
    )  # fmt: skip
    if not dry_run:
        slurm.submit(p)
    return Submission(g, indices, p, "", dry_run, tasks=len(tasks), stale=stale)


def dry_run_text(p: slurm.Plan) -> str:
    """Each script of a plan with the sbatch command that would submit it, every word
    shell-quoted (a runs_dir holding ``$(...)`` is pasted as text, never run).

    Parameters
    ----------
    p : slurm.Plan
        The plan of :func:`submit_grid`.

    Returns
    -------
    str
        The scripts and ``# would run: sbatch ...`` lines.
    """
    parts = []
    for array in p.arrays:
        parts.append(f"# {array.script}\n{array.text}")
        parts.append("# would run: " + command_line(p.sbatch_argv(array)))
    if p.collect_script is not None:
        parts.append(f"# {p.collect_script}\n{p.collect_text}")
        parts.append("# would run: " + command_line(p.collect_argv([])))
    return "\n".join(parts)
