"""``rvhpc train``: one grid cell (or a pack of seeds) by hand."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._cell_options import Arch, AttrSeed, Device, Dim, Numerics, Static
from rvhpc.cli._common import command, fail, out_console
from rvhpc.runfiles import EXIT_INTERRUPTED, EXIT_REQUEUE

# defaults come from TrainConfig (one source of truth); importing it stays light (no torch)
from rvhpc.training.config import TrainConfig

_D = {name: f.default for name, f in TrainConfig.model_fields.items()}


def train(
    store: Annotated[Path, typer.Option("--store", help="Basin store (rvhpc data prepare).")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Run directory (created; resumed when it holds checkpoints)."),
    ],
    arch: Arch = _D["arch"],
    static: Static = _D["static"],
    dim: Dim = None,
    attr_seed: AttrSeed = _D["attr_seed"],
    seed: Annotated[
        int, typer.Option("--seed", help="Init seed (model weights, sample order, dropout).")
    ] = _D["seed"],
    paired_draw: Annotated[
        bool,
        typer.Option(
            "--paired-draw",
            help="Label the run as one of a paired study (--attr-seed equal to --seed, as a "
            "grid's attr_seeds: paired): collect ensembles such runs across their draws.",
        ),
    ] = False,
    epochs: Annotated[int, typer.Option("--epochs")] = _D["epochs"],
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden size.")] = _D["hidden"],
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            help="GLOBAL batch; each of N DDP ranks takes batch/N (must divide).",
        ),
    ] = _D["batch_size"],
    seq_length: Annotated[int, typer.Option("--seq-length", help="Input window in days.")] = _D[
        "seq_length"
    ],
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate of the first epochs.")] = _D[
        "lr"
    ],
    lr_late: Annotated[
        float, typer.Option("--lr-late", help="Learning rate from --lr-late-epoch on.")
    ] = _D["lr_late"],
    lr_late_epoch: Annotated[
        int, typer.Option("--lr-late-epoch", help="1-based epoch from which --lr-late applies.")
    ] = _D["lr_late_epoch"],
    dropout: Annotated[
        float, typer.Option("--dropout", help="Dropout on the last hidden state.")
    ] = _D["dropout"],
    clip_norm: Annotated[float, typer.Option("--clip-norm", help="Gradient-norm clip.")] = _D[
        "clip_norm"
    ],
    forget_bias: Annotated[
        float, typer.Option("--forget-bias", help="Initial value of the first H gate biases.")
    ] = _D["initial_forget_bias"],
    output_stats: Annotated[
        str,
        typer.Option(
            "--output-stats",
            help="Discharge mean/std: observed (training samples) or original (the original "
            "code's: missing days as -999 cfs, see docs/departures.md).",
        ),
    ] = _D["output_stats"],
    device: Device = _D["device"],
    numerics: Numerics = _D["numerics"],
    log_every: Annotated[
        int,
        typer.Option("--log-every", help="Batches between log lines when not on a terminal."),
    ] = _D["log_every"],
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", help="CPU threads (default: SLURM_CPUS_PER_TASK or OMP_NUM_THREADS)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Delete this run's own earlier files (results, DONE, checkpoints) and start "
            "over; other files in the folder are kept.",
        ),
    ] = False,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="fp32 (default, strict: no TF32) or tf32 (TF32 tensor cores on the GPU).",
        ),
    ] = "fp32",
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Train these seeds together as one batched model (e.g. 0,1,2), each into "
            "OUT/seed<k>/ exactly as --seed k --out OUT/seed<k> would.",
        ),
    ] = None,
    attr_seeds: Annotated[
        str | None,
        typer.Option(
            "--attr-seeds",
            help="With --seeds: one attr seed per member, paired in order (e.g. 7,8,9).",
        ),
    ] = None,
) -> None:
    """Train one grid cell and evaluate it; rerun the same command to resume.

    Runs alone, under ``torchrun --nproc_per_node N`` or under ``srun -n N`` (DistributedDataParallel,
    only rank 0 writes). Exit status: 0 done (or the run dir already holds DONE), 2 bad input,
    75 (EX_TEMPFAIL) = SIGUSR1/SIGUSR2/SIGTERM arrived, a checkpoint was saved: requeue the job
    and it resumes exactly where it stopped; 130 = Ctrl-C, a checkpoint was saved likewise.
    One trainer at a time per run directory (RUN_DIR/train.lock names the holder).

    With --seeds the members train as one batched model (same results as separate runs), each
    into OUT/seed<k>/; members already DONE are skipped.

    Example: rvhpc train --store data/store.h5 --arch ea --static gaussian --dim 64 --attr-seed 7 --seed 1 --out runs/EG-64/seed1
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc import numerics as kernel_path

    kernel_path.enter(numerics)  # first: before torch, MKL and numpy load
    from rvhpc.training.run import train_pack

    members = _members(seed, attr_seed, seeds, attr_seeds)
    if paired_draw and seeds is not None and attr_seeds is None:  # each member draws its own
        members = [(s, s) for s, _ in members]
    common = dict(
        store=store.resolve(),
        arch=arch,
        static=static,
        dim=dim,
        paired_draw=paired_draw,
        epochs=epochs,
        hidden=hidden,
        batch_size=batch_size,
        seq_length=seq_length,
        lr=lr,
        lr_late=lr_late,
        lr_late_epoch=lr_late_epoch,
        dropout=dropout,
        clip_norm=clip_norm,
        initial_forget_bias=forget_bias,
        output_stats=output_stats,
        device=device,
        numerics=numerics,
        log_every=log_every,
        threads=threads,
        precision=precision,
    )
    configs = [TrainConfig.create(**common, seed=s, attr_seed=a) for s, a in members]
    dirs = [out] if seeds is None else [out / f"seed{s}" for s, _ in members]
    if len(set(dirs)) != len(dirs):
        raise fail("--seeds: each member needs its own seed (the folders are OUT/seed<k>)")
    outcomes = train_pack(configs, dirs, force=force)
    stopped = [o for o in outcomes if o.status == "preempted"]
    if stopped:
        # Ctrl-C: EXIT_INTERRUPTED as for any interrupted command; Slurm's signals: requeue me
        signum = stopped[0].signal
        code = EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_REQUEUE
        if stopped[0].rank != 0:  # every rank exits alike; rank 0 says why
            raise typer.Exit(code)
        why = "interrupted (Ctrl-C)" if code == EXIT_INTERRUPTED else f"stopped by signal {signum}"
        raise fail(f"{why}; checkpoint saved in {out}: rerun to resume", code)
    if outcomes[0].rank != 0:
        return
    for d, outcome in zip(dirs, outcomes, strict=True):
        if outcome.status == "skipped":
            out_console.print(f"{d}: already done (DONE exists); --force retrains", markup=False)
        else:
            out_console.print(f"{d}: done, median NSE {outcome.median_nse:.4f}", markup=False)


def _int_list(option: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise fail(f"{option} takes integers separated by commas, got {text!r}") from None
    if not values:
        raise fail(f"{option} needs at least one value")
    return values


def _members(
    seed: int, attr_seed: int, seeds: str | None, attr_seeds: str | None
) -> list[tuple[int, int]]:
    """(seed, attr_seed) of each member: one from --seed/--attr-seed, or --seeds/--attr-seeds."""
    if seeds is None:
        if attr_seeds is not None:
            raise fail("--attr-seeds pairs with --seeds; for one run use --attr-seed")
        return [(seed, attr_seed)]
    ss = _int_list("--seeds", seeds)
    if attr_seeds is None:
        return [(s, attr_seed) for s in ss]
    aa = _int_list("--attr-seeds", attr_seeds)
    if len(aa) != len(ss):
        raise fail(f"--attr-seeds has {len(aa)} values, --seeds {len(ss)}: pair them one to one")
    return list(zip(ss, aa, strict=True))


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    command(app, "train")(train)
