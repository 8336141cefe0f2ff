"""``rvhpc submit``: a grid's cells to Slurm as array jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from rvhpc.cli._common import GridArg, command, err_console, out_console


def submit(
    grid: GridArg,
    profile: Annotated[str | None, typer.Option(help="Site profile name or YAML file.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write and print the scripts; submit nothing.")
    ] = False,
    max_parallel: Annotated[
        int | None, typer.Option(help="At most K tasks of an array run at once.")
    ] = None,
    only_missing: Annotated[
        bool, typer.Option("--only-missing", help="Submit only failed and missing cells.")
    ] = False,
    collect: Annotated[
        bool, typer.Option("--collect", help="Add a job running rvhpc collect afterwards.")
    ] = False,
) -> None:
    """Submit a grid's cells to Slurm as array jobs (one task per cell; done cells are skipped).

    Example: rvhpc submit smoke --profile local --max-parallel 2
    """
    from rvhpc.grid import load_grid
    from rvhpc.hpc import slurm
    from rvhpc.hpc.profile import load_profile

    g = load_grid(grid)
    prof = load_profile(profile)
    if only_missing:
        from rvhpc.hpc.status import grid_status

        st = grid_status(g)
        indices = st.indices("failed", "missing")
        if not indices:
            out_console.print(f"grid {g.name}: nothing to resubmit ({st.counts()})")
            return
    else:
        indices = [c.index for c in g.cells if not c.is_done()]
        if not indices:
            out_console.print(f"grid {g.name}: every cell is done")
            return
    if not dry_run:
        from rvhpc.grid import data_plan, ensure_data

        ensure_data(data_plan(g))  # once, here, instead of racing in the first array tasks
    p = slurm.plan(g, prof, indices, max_parallel=max_parallel, collect=collect)
    if dry_run:
        for array in p.arrays:
            typer.echo(f"# {array.script}\n{array.text}")
            typer.echo("# would run: " + " ".join(p.sbatch_argv(array)))
        if p.collect_script is not None:
            typer.echo(f"# {p.collect_script}\n{p.collect_text}")
            typer.echo("# would run: " + " ".join(p.collect_argv([])))
        err_console.print(
            f"dry run: {len(indices)} cells in {len(p.arrays)} array(s); nothing submitted"
        )
        return
    slurm.submit(p)
    typer.echo(" ".join(p.job_ids + ([p.collect_job] if p.collect_job else [])))
    err_console.print(
        f"submitted {len(indices)} cells of grid {g.name} as {len(p.arrays)} array job(s); "
        f"check with: rvhpc status {grid}"
    )


def register(app: typer.Typer) -> None:
    """Add ``submit`` to ``app``."""
    command(app, "submit")(submit)
