"""``rvhpc grid show``: a grid's cells and an estimate of the work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import GridArg, command, out_console

grid_app = typer.Typer(help="Inspect experiment grids.", no_args_is_help=True)


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
    estimate_hours: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Project device-hours, unpacked and packed (--pack seeds), from measured "
            "rates (--rates, else a few steps per arch measured here).",
        ),
    ] = False,
    rates: Annotated[
        Path | None,
        typer.Option(
            "--rates", help="Rates file: benchmarks/bench_packed.py --out, or rvhpc bench --json."
        ),
    ] = None,
) -> None:
    """List a grid's cells, counts per experiment and an estimate of the work.

    Checks every scenario's basins against the store first. The state column shows done, stale
    (with the field that differs), diverged or nothing (still to run).

    Example: rvhpc grid show paper
    """
    from rich.table import Table

    from rvhpc.grid.basins import check_basins
    from rvhpc.grid.cells import load_grid
    from rvhpc.grid.estimate import estimate
    from rvhpc.grid.state import grid_states

    g = load_grid(grid)
    check_basins(g)
    states = grid_states(g)
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
    if estimate_hours or rates is not None:
        from rvhpc.grid.estimate import measure_rates, project, read_rates

        work["projection"] = project(g, read_rates(rates) if rates else measure_rates(g))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "grid": g.name,
                    "file": str(g.path),
                    "runs_dir": str(g.runs_dir),
                    "store": str(g.store),
                    "estimate": work,
                    "cells": [
                        c.to_json()
                        | {
                            "done": states[c.index].state == "done",
                            "state": states[c.index].state,
                            "state_detail": states[c.index].detail,
                        }
                        for c in g.cells
                    ],
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
        "state",
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
            "" if states[c.index].state in ("missing", "started") else str(states[c.index]),
            str(c.run_dir.relative_to(g.runs_dir)),
        )
    out_console.print(table)
    out_console.print("cells per experiment: " + ", ".join(_counts(g.cells)))
    if work["samples_per_epoch"]:
        line = (
            f"work: {work['basins']} basins x {work['train_days']} training days = "
            f"{work['samples_per_epoch']:,} samples/epoch; "
            f"{work['sample_epochs']:,} sample-epochs in all"
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
    if "projection" in work:
        pr = work["projection"]
        out_console.print(
            f"projected on {', '.join(pr['device'])}: {pr['hours_unpacked']:.2f} device-hours "
            f"unpacked ({pr['cells']} processes), {pr['hours_packed']:.2f} packed "
            f"(--pack seeds, {pr['packs']} processes)",
            markup=False,
            soft_wrap=True,
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


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(grid_app, name="grid")
