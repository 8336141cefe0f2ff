"""``rvhpc train``: one grid cell (or a pack of seeds) by hand."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from rvhpc.cli._cell_options import config_parameters, given_values
from rvhpc.cli._common import command, fail, out_console
from rvhpc.errors import excerpt
from rvhpc.exitcodes import EXIT_INTERRUPTED, outcome_exit_code, pack_exit_code

Out = Annotated[
    Path, typer.Option("--out", help="Run directory (created; resumed when it holds checkpoints).")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Delete this run's own earlier files (results, DONE, checkpoints) and start "
        "over; other files in the folder are kept.",
    ),
]
Seeds = Annotated[
    str | None,
    typer.Option(
        "--seeds",
        help="Train these seeds together as one batched model (e.g. 0,1,2), each into "
        "OUT/seed<k>/ exactly as --seed k --out OUT/seed<k> would.",
    ),
]
AttrSeeds = Annotated[
    str | None,
    typer.Option(
        "--attr-seeds",
        help="With --seeds: one attr seed per member, paired in order (e.g. 7,8,9).",
    ),
]

ValStart = Annotated[
    str | None,
    typer.Option(
        "--val-start",
        help="First day of a validation period (outside the store's training and evaluation "
        "periods), scored into val_predictions.parquet and val_metrics.csv.",
    ),
]
ValEnd = Annotated[str | None, typer.Option("--val-end", help="Last day of the validation period.")]
Patience = Annotated[
    int | None,
    typer.Option(
        "--patience",
        help="Early stopping: score the validation period after every epoch, stop after this "
        "many epochs without a better median NSE, keep the best epoch's weights.",
    ),
]


def train(
    ctx: typer.Context,
    *,
    out: Path,
    force: bool = False,
    seeds: str | None = None,
    attr_seeds: str | None = None,
    val_start: str | None = None,
    val_end: str | None = None,
    patience: int | None = None,
    **options: Any,
) -> None:
    """Train one grid cell and evaluate it; rerun the same command to resume.

    Runs alone, under ``torchrun --nproc_per_node N`` or under ``srun -n N`` (DistributedDataParallel,
    only rank 0 writes). Exit status: 0 done (or the run dir already holds DONE), 2 bad input,
    3 diverged (the loss or the predictions became NaN or infinite: DIVERGED is written, no DONE),
    75 (EX_TEMPFAIL) = SIGUSR1/SIGUSR2/SIGTERM arrived, a checkpoint was saved: requeue the job
    and it resumes exactly where it stopped; 130 = Ctrl-C, a checkpoint was saved likewise.
    One trainer at a time per run directory (RUN_DIR/train.lock names the holder).

    With --seeds the members train as one batched model (same results as separate runs), each
    into OUT/seed<k>/; members already DONE are skipped.

    Example: rvhpc train --store data/store.h5 --arch ea --static gaussian --dim 64 --attr-seed 7 --seed 1 --out runs/EG-64/seed1
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc import numerics as kernel_path

    kernel_path.enter(options["numerics"])  # first: before torch, MKL and numpy load
    from rvhpc.training.run import train_pack
    from rvhpc.training.seedruns import seed_runs

    values = given_values(ctx, options)
    period = _period("--val-start/--val-end", val_start, val_end)
    if period is not None:
        values["val_period"] = period
    if patience is not None:
        values["early_stopping"] = {"patience": patience}
    configs, dirs = seed_runs(
        values,
        out,
        _int_list("--seeds", seeds) if seeds is not None else None,
        _int_list("--attr-seeds", attr_seeds) if attr_seeds is not None else None,
    )
    outcomes = train_pack(configs, dirs, force=force)
    code = pack_exit_code([outcome_exit_code(o.status, o.signal) for o in outcomes])
    stopped = [o for o in outcomes if o.status == "preempted"]
    if outcomes[0].rank != 0:  # every rank exits alike; rank 0 says why
        raise typer.Exit(code)
    if stopped:
        signum = stopped[0].signal
        why = "interrupted (Ctrl-C)" if code == EXIT_INTERRUPTED else f"stopped by signal {signum}"
        raise fail(f"{why}; checkpoint saved in {out}: rerun to resume", code)
    for d, outcome in zip(dirs, outcomes, strict=True):
        if outcome.status == "skipped":
            out_console.print(f"{d}: already done (DONE exists); --force retrains", markup=False)
        elif outcome.status == "done":
            out_console.print(f"{d}: done, median NSE {outcome.median_nse:.4f}", markup=False)
    diverged = [(d, o) for d, o in zip(dirs, outcomes, strict=True) if o.status == "diverged"]
    if diverged:
        where = ", ".join(f"{d}: {o.detail}" for d, o in diverged)
        raise fail(
            f"{where}; no DONE written (the same settings diverge again): rerun with a lower "
            "--lr or other settings, and --force to replace this run (or another --out)",
            code,
        )


def _period(options: str, start: str | None, end: str | None) -> tuple[str, str] | None:
    """(start, end) of a period given by two options, None when neither is given."""
    if (start is None) != (end is None):
        raise fail(f"{options}: give both days of the period, or neither")
    return None if start is None else (start, end)


def _int_list(option: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise fail(f"{option} takes integers separated by commas, got {excerpt(text)}") from None
    if not values:
        raise fail(f"{option} needs at least one value")
    return values


def _signature() -> inspect.Signature:
    """``--store``, ``--out``, the TrainConfig options in field order, then the options of the
    command itself: the options of ``rvhpc train`` come from TrainConfig, not from a hand-kept
    list (rvhpc/cli/_cell_options.py)."""
    kw = inspect.Parameter.KEYWORD_ONLY
    fields = config_parameters()
    at = 1 + next(i for i, p in enumerate(fields) if p.name == "store")
    fields.insert(at, inspect.Parameter("out", kw, annotation=Out))
    own = [
        inspect.Parameter("force", kw, default=False, annotation=Force),
        inspect.Parameter("seeds", kw, default=None, annotation=Seeds),
        inspect.Parameter("attr_seeds", kw, default=None, annotation=AttrSeeds),
        inspect.Parameter("val_start", kw, default=None, annotation=ValStart),
        inspect.Parameter("val_end", kw, default=None, annotation=ValEnd),
        inspect.Parameter("patience", kw, default=None, annotation=Patience),
    ]
    ctx = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    return inspect.Signature([ctx, *fields, *own])


train.__signature__ = _signature()  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    command(app, "train")(train)
