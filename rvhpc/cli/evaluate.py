"""``rvhpc evaluate``: re-score a run's checkpoint, or score the original code's runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._cell_options import Device, Dim
from rvhpc.cli._common import command, fail, out_console


def evaluate(
    run_dir: Annotated[Path | None, typer.Argument(help="A run directory of rvhpc train.")] = None,
    epoch: Annotated[
        int | None, typer.Option("--epoch", help="Checkpoint to score (default: the last).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default RUN_DIR/evaluation/epoch_NNN)."),
    ] = None,
    reference_run: Annotated[
        Path | None,
        typer.Option(
            "--reference-run",
            help="A run directory of the original code (cfg.json, attributes.db, "
            "model_epoch<N>.pt): scored exactly as it trained.",
        ),
    ] = None,
    reference_weights: Annotated[
        Path | None,
        typer.Option(
            "--reference-weights",
            help="A state dict saved by the original code (static gaussian, one_hot or "
            "none; physics and mixed need --reference-run).",
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Basin store (with --reference-run/--reference-weights)."),
    ] = None,
    arch: Annotated[
        str | None, typer.Option("--arch", help="Architecture of the reference weights.")
    ] = None,
    static: Annotated[
        str | None, typer.Option("--static", help="Static kind of the reference weights.")
    ] = None,
    dim: Dim = None,
    attr_seed: Annotated[
        int | None,
        typer.Option(
            "--attr-seed", help="The run's attri_rand_seed (--reference-weights, gaussian)."
        ),
    ] = None,
    seq_length: Annotated[
        int, typer.Option("--seq-length", help="Input window (with --reference-weights).")
    ] = 270,
    device: Device = "auto",
) -> None:
    """Score a run from one of its checkpoints, or a model trained by the original code.

    Writes predictions.parquet, metrics.csv (per basin) and evaluation.json to the output
    folder. Original runs are scored with the original code's input and output scalers
    (recomputed from the store's training period; stated in the output).

    Example: rvhpc evaluate runs/EG-64/seed1 --epoch 10

    Example: rvhpc evaluate --reference-run orig/531/ea/physics/seed111 --store s.h5 --out ev
    """
    from rvhpc import numerics as kernel_path

    kernel_path.enter(_run_numerics(run_dir))  # first: the run's kernel path, its bits
    from rvhpc.evaluation import original
    from rvhpc.training import rescore

    if reference_run is not None:
        missing = [f for f, v in (("--store", store), ("--out", out)) if v is None]
        if missing:
            raise fail(f"--reference-run needs {', '.join(missing)} too")
        extra = [
            flag
            for flag, v in (
                ("RUN_DIR", run_dir),
                ("--reference-weights", reference_weights),
                ("--arch", arch),
                ("--static", static),
                ("--dim", dim),
                ("--attr-seed", attr_seed),
            )
            if v is not None
        ]
        if extra:
            raise fail(f"--reference-run reads the run's own cfg.json: drop {', '.join(extra)}")
        record = original.evaluate_reference_run(
            reference_run, store, out, epoch=epoch, device=device
        )
        _print_reference(record, out)
    elif reference_weights is not None:
        missing = [
            flag
            for flag, v in (
                ("--store", store),
                ("--arch", arch),
                ("--static", static),
                ("--out", out),
            )
            if v is None
        ]
        if missing:
            raise fail(f"--reference-weights needs {', '.join(missing)} too")
        if run_dir is not None or epoch is not None:
            raise fail("--reference-weights scores a file: drop RUN_DIR and --epoch")
        record = original.evaluate_reference(
            reference_weights,
            store,
            arch,
            static,
            out,
            dim=dim,
            attr_seed=attr_seed,
            seq_length=seq_length,
            device=device,
        )
        _print_reference(record, out)
    else:
        if run_dir is None:
            raise fail(
                "give a RUN_DIR, --reference-run DIR --store --out, or --reference-weights "
                "FILE --store --arch --static --out"
            )
        target = rescore.evaluate_run(run_dir, epoch=epoch, out=out, device=device)
        out_console.print(f"results written to {target}", markup=False)


def _print_reference(record: dict, out: Path) -> None:
    """What a reference evaluation used: scalers, notes, where the results are."""
    from rvhpc.evaluation.original import describe_scalers

    for line in [*describe_scalers(record), *record.get("notes", [])]:
        out_console.print(line, markup=False)
    out_console.print(
        f"results written to {out} (median NSE {record['median_nse']:.4f})", markup=False
    )


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to ``app``."""
    command(app, "evaluate")(evaluate)


def _run_numerics(run_dir: Path | None) -> str:
    """The numerics mode a run trained in (its config.json), so that re-scoring it gives the
    bits training gave; the default mode for the original code's runs and a missing record."""
    import json

    from rvhpc.numerics import DEFAULT_MODE, MODES
    from rvhpc.runfiles import CONFIG_JSON

    try:
        mode = json.loads((Path(run_dir) / CONFIG_JSON).read_text()).get("numerics")
    except (TypeError, OSError, ValueError, AttributeError):
        return DEFAULT_MODE
    return mode if mode in MODES else DEFAULT_MODE
