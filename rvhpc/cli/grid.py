"""Grid commands: ``grid show``, ``run`` (local), ``cell`` (one array task), ``submit``, ``status``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, err_console, fail, out_console
from rvhpc.runfiles import EXIT_REQUEUE

grid_app = typer.Typer(help="Inspect experiment grids.", no_args_is_help=True)

GridArg = Annotated[
    str, typer.Argument(help="Grid YAML file, or a built-in grid name (smoke, paper).")
]


@command(grid_app, "show")
def show(
    grid: GridArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cells as JSON.")] = False,
    samples_per_second: Annotated[
        float | None,
        typer.Option(help="Measured training throughput, for CPU/GPU-hour estimates."),
    ] = None,
    bench: Annotated[
        bool,
        typer.Option(
            "--bench",
            help="Measure samples/s here with a few training steps "
            "of the grid's first cell (a few seconds).",
        ),
    ] = False,
) -> None:
    """List a grid's cells, counts per experiment and an estimate of the work.

    Example: rvhpc grid show paper
    """
    from rich.table import Table

    from rvhpc.grid import estimate, load_grid

    g = load_grid(grid)
    work = estimate(g)
    if bench and not samples_per_second:
        from rvhpc.training.bench import measure

        first = g.cells[0].config
        samples_per_second = measure(
            arch=first["arch"],
            hidden=first["hidden"],
            batch_size=first["batch_size"],
            seq_length=first["seq_length"],
            steps=5,
            warmup=1,
        )["samples_per_s"]
    if samples_per_second:
        work["hours"] = (
            work["sample_epochs"] / samples_per_second / 3600 if work["sample_epochs"] else None
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "grid": g.name,
                    "file": str(g.path),
                    "runs_dir": str(g.runs_dir),
                    "store": str(g.store),
                    "estimate": work,
                    "cells": [c.to_json() | {"done": c.is_done()} for c in g.cells],
                },
                indent=1,
            )
        )
        return
    table = Table(title=f"grid {g.name}: {len(g.cells)} cells ({g.path})")
    for col in (
        "#",
        "id",
        "experiment",
        "arch",
        "static",
        "dim",
        "attr_seed",
        "seed",
        "done",
        "run dir",
    ):
        table.add_column(col)
    for c in g.cells:
        table.add_row(
            str(c.index),
            c.id,
            c.experiment,
            c.arch,
            c.static,
            str(c.dim or ""),
            (f"{c.attr_seed} (paired)" if c.paired else str(c.attr_seed)) if c.dim else "",
            str(c.seed),
            "yes" if c.is_done() else "",
            str(c.run_dir.relative_to(g.runs_dir)),
        )
    out_console.print(table)
    out_console.print("cells per experiment: " + ", ".join(_counts(g.cells)))
    if work["samples_per_epoch"]:
        line = (
            f"work: {work['basins']} basins x {work['train_days']} training days = "
            f"{work['samples_per_epoch']:,} samples/epoch; {work['sample_epochs']:,} sample-epochs in all"
        )
        if work.get("hours") is not None:
            hours = work["hours"]
            span = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.1f} min"
            line += f"; about {span} of training at {samples_per_second:.0f} samples/s (one device)"
        else:
            line += " (pass --samples-per-second S for hours)"
        out_console.print(line)
    else:
        out_console.print(
            "work: unknown basin count (set data.n_basins or make the basin list available)"
        )


def _counts(cells: list) -> list[str]:
    """``EG-64 5 (5 draws, paired)`` per experiment: how many runs and random draws it ensembles."""
    runs: dict[str, int] = {}
    draws: dict[str, set] = {}
    paired: dict[str, bool] = {}
    for c in cells:
        runs[c.experiment] = runs.get(c.experiment, 0) + 1
        if c.dim:
            draws.setdefault(c.experiment, set()).add(c.attr_seed)
            paired[c.experiment] = paired.get(c.experiment, False) or c.paired
    out = []
    for name, n in runs.items():
        if name in draws:
            k = len(draws[name])
            detail = f"{k} draw{'s' if k > 1 else ''}" + (", paired" if paired[name] else "")
            out.append(f"{name} {n} ({detail})")
        else:
            out.append(f"{name} {n}")
    return out


def cell(
    manifest: Annotated[Path, typer.Argument(help="Manifest written by rvhpc submit / rvhpc run.")],
    index: Annotated[
        int | None, typer.Option(help="Cell index (default: SLURM_ARRAY_TASK_ID + offset).")
    ] = None,
    offset: Annotated[
        int, typer.Option(help="Index of array task 0 (arrays split by MaxArraySize).")
    ] = 0,
    force: Annotated[
        bool, typer.Option(help="Retrain even when the run directory holds DONE.")
    ] = False,
) -> None:
    """Train one cell of a manifest: exactly what one array task runs (exit 75 = checkpointed, requeue).

    Example: rvhpc cell runs/.rvhpc/manifests/smoke-0123abcd4567.json --index 0
    """
    from rvhpc.hpc.jobenv import run_cell

    code = run_cell(manifest, index=index, offset=offset, force=force)
    raise typer.Exit(code)


def run(
    grid: GridArg,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells trained at the same time.")] = 1,
) -> None:
    """Run every cell of a grid that is not done on this machine, N at a time.

    Example: rvhpc run smoke --jobs 2
    """
    from rvhpc.grid import load_grid
    from rvhpc.hpc.local import run_local

    g = load_grid(grid)
    result = run_local(g, jobs=jobs)
    ran = len(result.codes)
    out_console.print(
        f"grid {g.name}: {ran} cells run, {len(result.already_done)} already done, "
        f"{len(result.failed)} failed, {len(result.preempted)} checkpointed "
        f"in {result.seconds:.1f} s"
    )
    if result.failed:
        first = result.failed[0]
        raise fail(
            f"{len(result.failed)} cell(s) failed (cells {result.failed}); see {result.logs[first]}",
            1,
        )
    if result.preempted:
        raise typer.Exit(EXIT_REQUEUE)


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


def status(
    grid: GridArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show each cell of a grid as done, running, pending, failed (with reason and log tail) or missing.

    Example: rvhpc status smoke
    """
    from rich.table import Table

    from rvhpc.grid import load_grid
    from rvhpc.hpc.status import grid_status

    st = grid_status(load_grid(grid))
    if as_json:
        typer.echo(json.dumps(st.to_json(), indent=1))
        return
    table = Table(title=f"grid {st.grid}")
    for col in ("#", "id", "experiment", "seed", "state", "job", "reason"):
        table.add_column(col)
    for c in st.cells:
        table.add_row(str(c.index), c.id, c.experiment, str(c.seed), c.state, c.job or "", c.reason)
    out_console.print(table)
    for c in st.cells:
        if c.state == "failed" and c.log_tail:
            out_console.print(
                f"cell {c.index} ({c.experiment} seed {c.seed}) log {c.log}:", markup=False
            )
            for line in c.log_tail:
                out_console.print(f"  {line}", markup=False, highlight=False)
    out_console.print(
        " ".join(f"{k}={v}" for k, v in st.counts().items()) + f"  (source: {st.source})"
    )
    for w in st.warnings:
        err_console.print(f"warning: {w}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(grid_app, name="grid")
    command(app, "run")(run)
    command(app, "cell")(cell)
    command(app, "submit")(submit)
    command(app, "status")(status)
