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
            "rates (--rates, else measured here at the grid's shape, each measurement shown).",
        ),
    ] = False,
    rates: Annotated[
        Path | None,
        typer.Option(
            "--rates", help="Rates file: benchmarks/bench_packed.py --out, or rvhpc bench --json."
        ),
    ] = None,
    estimate_seconds: Annotated[
        float | None,
        typer.Option(
            "--estimate-seconds",
            help="Seconds --estimate measures for (default: about a minute; it measures each "
            "arch and one paired pack ratio at least, with more time every static width, pack "
            "ratio and repeats).",
        ),
    ] = None,
) -> None:
    """List a grid's cells (each sweep point and search trial), counts and the work estimate.

    Checks every scenario's basins against the store first. The state column shows done, stale
    (with the field that differs), diverged or nothing (still to run).

    Example: rvhpc grid show paper
    """
    from rich.table import Table

    from rvhpc.grid.basins import check_basins
    from rvhpc.grid.estimate import work_estimate
    from rvhpc.grid.expand import load_grid
    from rvhpc.grid.state import grid_states

    g = load_grid(grid)
    check_basins(g)
    states = grid_states(g)
    work = work_estimate(
        g,
        samples_per_second=samples_per_second,
        bench=bench,
        rates=rates,
        measure=estimate_hours,
        budget_s=estimate_seconds,
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
    counts = _counts(g.cells)
    if counts:
        out_console.print("cells per experiment: " + ", ".join(counts), markup=False)
    for line in [*_points(g.cells), *_work_lines(work)]:
        out_console.print(line, markup=False, soft_wrap=True)


def _work_lines(work: dict) -> list[str]:
    """The work line, and the projection's lines when there is one."""
    if work["sample_epochs"] is None:
        lines = ["work: unknown basin count (set data.n_basins or make the basin list available)"]
    else:
        if work["samples_per_epoch"]:
            line = (
                f"work: {work['basins']} basins x {work['train_days']} training days = "
                f"{work['samples_per_epoch']:,} samples/epoch; "
            )
        else:  # scenarios: cells train on their own basins and periods
            (b0, b1), (d0, d1) = work["basins_range"], work["days_range"]
            line = f"work: cells train on {b0}..{b1} basins x {d0}..{d1} days; "
        line += f"{work['sample_epochs']:,} sample-epochs in all"
        if work.get("hours") is not None:
            hours = work["hours"]
            span = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.1f} min"
            line += (
                f"; about {span} of training at {work['samples_per_second']:.0f} samples/s "
                "(one device)"
            )
        else:
            line += " (pass --samples-per-second S for hours)"
        lines = [line]
    pr = work.get("projection")
    if pr:
        lines.append(
            f"projected on {', '.join(pr['device'])}: {pr['hours_unpacked']:.2f} device-hours "
            f"unpacked ({pr['cells']} processes), {pr['hours_packed']:.2f} packed "
            f"(--pack seeds, {pr['packs']} processes)"
        )
        if pr["pack_within_noise"] is not None:
            spread = f"{pr['pack_spread']:.0%} spread of the pack measurements"
            lines.append(
                f"  packing: {pr['pack_gain']:.2f}x the unpacked speed, "
                + (f"within the {spread}: no gain or loss from packing is measured on this device"
                   if pr["pack_within_noise"] else f"beyond the {spread}")
            )  # fmt: skip
        if pr["borrowed"]:
            lines.append(
                f"  {pr['borrowed']} of {pr['cells']} cells charged the rate of the nearest "
                "measured static width of their arch (more --estimate-seconds measures each)"
            )
    for r in work.get("rates", []):
        spread = "; spread unknown" if r["spread"] is None else f", spread {r['spread']:.0%}"
        lines.append(
            f"  rate {r['arch']} d={r['n_static']} K={r['members']}: "
            f"{r['samples_per_s_per_member']:,.1f} samples/s per member ({r['note']}{spread})"
        )
    return lines


def _points(cells: list) -> list[str]:
    """``EP: 6 points (hidden: 3 values, dropout: 2 values), 2 seeds each`` per swept family,
    ``EO: search of 64 trials (tpe, seed 0; hidden, dropout), 3 seeds each`` per search."""
    families: dict[str, dict] = {}
    for c in cells:
        point = c.config.get("point")
        if not point:
            continue
        family = c.experiment[: -len(point["name"]) - 1]
        fam = families.setdefault(family, {"points": {}, "axes": {}, "search": c.search})
        fam["points"].setdefault(point["name"], set()).add(c.seed)
        for key, value in point["values"].items():
            fam["axes"].setdefault(key, set()).add(repr(value))
    out = []
    for family, fam in families.items():
        seeds = max(len(s) for s in fam["points"].values())
        each = f"{seeds} seed{'s' if seeds > 1 else ''} each"
        if fam["search"] is not None:
            search = fam["search"]
            names = ", ".join(p["name"] for p in search["space"])
            out.append(
                f"{family}: search of {search['trials']} trials ({search['sampler']}, seed "
                f"{search['seed']}; {names}), {each}"
            )
            continue
        axes = ", ".join(f"{k}: {len(v)} values" for k, v in fam["axes"].items())
        out.append(f"{family}: {len(fam['points'])} points ({axes}), {each}")
    return out


def _counts(cells: list) -> list[str]:
    """``EG-64 5 (5 draws, paired)`` per experiment: how many runs and random draws it ensembles
    (sweep points and search trials are counted by :func:`_points`)."""
    runs: dict[str, int] = {}
    draws: dict[str, set] = {}
    paired: dict[str, bool] = {}
    for c in cells:
        if c.config.get("point"):
            continue
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
