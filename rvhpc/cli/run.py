"""``rvhpc run`` (every cell of a grid on this machine) and ``rvhpc cell`` (one array task)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._cell_options import NumericsOverride
from rvhpc.cli._common import GridArg, RerunStale, command, fail, out_console
from rvhpc.exitcodes import EXIT_DIVERGED, EXIT_REQUEUE


def run(
    grid: GridArg,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cells trained at the same time.")] = 1,
    pack: Annotated[
        str | None,
        typer.Option(
            "--pack",
            help="seeds: one process per group of cells differing only in seed (and a paired "
            "attr_seed), trained as one batched model.",
        ),
    ] = None,
    rerun_stale: RerunStale = False,
    numerics: NumericsOverride = None,
) -> None:
    """Run every cell of a grid that is not done on this machine, N at a time.

    A cell whose run directory holds another config than the grid now asks for (a train key, a
    basin list or a period edited since it ran) is stale: it is named and left as it is, unless
    --rerun-stale. A search trial (all its seeds) is one process: --jobs N runs N workers of the
    study. Each cell trains on the grid's train: {threads: N}, else on the CPUs this process may
    use divided by --jobs (said in the log): a run's bits follow its thread count, so set
    threads in the grid for the same models on any machine. A cell that diverged (NaN loss) is
    not rerun. Exit status: 0 every cell done,
    1 a cell failed or stale cells were left, 3 a cell diverged, 75 a cell checkpointed.

    Example: rvhpc run smoke --jobs 2
    """
    from rvhpc.grid.expand import load_grid
    from rvhpc.hpc.local import run_local

    g = load_grid(grid)
    result = run_local(g, jobs=jobs, pack=pack, rerun_stale=rerun_stale, numerics=numerics)
    ran = len(result.codes)
    out_console.print(
        f"grid {g.name}: {ran} cells run, {len(result.already_done)} already done, "
        f"{len(result.failed)} failed, {len(result.preempted)} checkpointed, "
        f"{len(result.diverged)} diverged, {len(result.stale)} stale "
        f"in {result.seconds:.1f} s"
    )
    if result.stop_signal is not None:
        name = signal.Signals(result.stop_signal).name
        raise fail(
            f"stopped by {name}: {len(result.stopped)} running cell(s) stopped and waited for "
            f"({len(result.preempted)} checkpointed); rerun `rvhpc run {grid}` to resume",
            128 + result.stop_signal,
        )
    if result.failed:
        first = result.failed[0]
        raise fail(
            f"{len(result.failed)} cell(s) failed (cells {result.failed}); "
            f"see {result.logs[first]}",
            1,
        )
    if result.stale:
        raise fail(result.stale_line, 1)
    if result.preempted:
        raise typer.Exit(EXIT_REQUEUE)
    if result.diverged:
        raise fail(
            f"{len(result.diverged)} cell(s) diverged (cells {result.diverged}; no DONE, see "
            f"rvhpc status {grid}): rerun them with a lower lr in the grid's train: and "
            "--rerun-stale",
            EXIT_DIVERGED,
        )


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
    pack: Annotated[
        str | None,
        typer.Option(help="seeds: train the cell's pack group (cells differing only in seed)."),
    ] = None,
    rerun_stale: RerunStale = False,
    numerics: NumericsOverride = None,
) -> None:
    """Train one cell of a manifest: exactly what one array task runs (exit 75 = checkpointed, requeue; 3 = diverged).

    Example: rvhpc cell runs/.rvhpc/manifests/smoke-0123abcd4567.json --index 0
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc.hpc.array_task import run_cell

    code = run_cell(
        manifest,
        index=index,
        offset=offset,
        force=force,
        pack=pack,
        rerun_stale=rerun_stale,
        numerics=numerics,
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``cell`` to ``app``."""
    command(app, "run")(run)
    command(app, "cell")(cell)
