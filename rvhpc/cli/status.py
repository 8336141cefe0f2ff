"""``rvhpc status``: each cell of a grid as done, running, pending, failed or missing."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rvhpc.cli._common import GridArg, command, err_console, out_console


def status(
    grid: GridArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show each cell of a grid as done, stale, diverged, running, pending, failed (with reason and log tail) or missing.

    stale: the run directory holds another config than the grid now asks for (the reason names
    the field, e.g. "stale: hidden 4 -> 8"); rerun with --rerun-stale on run or submit.
    diverged: the loss or predictions became NaN (e.g. "diverged at epoch 3"); no DONE.

    Example: rvhpc status smoke
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rich.table import Table

    from rvhpc.grid.expand import load_grid
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
    from rvhpc.progress import duration

    eta = f"  ETA {duration(st.eta_seconds)}" if st.eta_seconds is not None else ""
    out_console.print(
        " ".join(f"{k}={v}" for k, v in st.counts().items()) + f"{eta}  (source: {st.source})"
    )
    for w in st.warnings:
        err_console.print(f"warning: {w}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""
    command(app, "status")(status)
