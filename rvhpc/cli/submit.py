"""``rvhpc submit``: a grid's cells to Slurm as array jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from rvhpc.cli._common import GridArg, RerunStale, command, err_console, fail, out_console


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
    pack: Annotated[
        str | None,
        typer.Option(
            "--pack",
            help="seeds: one task per group of cells differing only in seed (and a paired "
            "attr_seed), trained as one batched model (default: the profile's pack).",
        ),
    ] = None,
    rerun_stale: RerunStale = False,
) -> None:
    """Submit a grid's cells to Slurm as array jobs (one task per cell; done cells are skipped).

    Stale cells (their run directory holds another config than the grid now asks for) are named
    and not submitted, unless --rerun-stale; diverged cells are not resubmitted.

    Example: rvhpc submit smoke --profile local --max-parallel 2
    """
    from rvhpc.hpc.submit import dry_run_text, submit_grid

    done = submit_grid(
        grid,
        profile,
        dry_run=dry_run,
        max_parallel=max_parallel,
        only_missing=only_missing,
        collect=collect,
        pack=pack,
        rerun_stale=rerun_stale,
    )
    if done.plan is None:
        if done.stale:
            raise fail(done.stale, 1)
        out_console.print(done.nothing, markup=False)
        return
    if done.stale:
        err_console.print(f"warning: {done.stale}", markup=False, soft_wrap=True)
    arrays = len(done.plan.arrays)
    if dry_run:
        typer.echo(dry_run_text(done.plan))
        err_console.print(
            f"dry run: {len(done.indices)} cells in {done.tasks} task(s) of {arrays} array(s); "
            "nothing submitted"
        )
        return
    typer.echo(" ".join(done.job_ids))
    err_console.print(
        f"submitted {len(done.indices)} cells of grid {done.grid.name} as {done.tasks} task(s) "
        f"of {arrays} array job(s); "
        f"check with: rvhpc status {grid}"
    )


def register(app: typer.Typer) -> None:
    """Add ``submit`` to ``app``."""
    command(app, "submit")(submit)
