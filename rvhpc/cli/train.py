"""``rvhpc train``, ``rvhpc evaluate`` and ``rvhpc bench``: one grid cell by hand."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, fail, out_console
from rvhpc.runfiles import EXIT_INTERRUPTED, EXIT_REQUEUE

# defaults come from TrainConfig (one source of truth); importing it stays light (no torch)
from rvhpc.training.config import TrainConfig

_D = {name: f.default for name, f in TrainConfig.model_fields.items()}

Arch = Annotated[
    str, typer.Option("--arch", help="Architecture: ea, ct, sr, fm or lstm (no statics).")
]
Static = Annotated[
    str, typer.Option("--static", help="Static vector: physics, gaussian, mixed, one_hot, none.")
]
Dim = Annotated[
    int | None,
    typer.Option("--dim", help="Dimension d of gaussian/mixed vectors (mixed: d >= 28)."),
]
AttrSeed = Annotated[int, typer.Option("--attr-seed", help="Seed of the Gaussian static vectors.")]
Device = Annotated[
    str, typer.Option("--device", help="auto (GPU when available), cpu, cuda or cuda:N.")
]


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


def bench(
    arch: Arch = "ea",
    hidden: Annotated[int, typer.Option("--hidden")] = 256,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    steps: Annotated[
        int, typer.Option("--steps", help="Timed training steps (after --warmup).")
    ] = 20,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed steps first.")] = 2,
    seq_length: Annotated[int, typer.Option("--seq-length")] = 270,
    device: Device = "auto",
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Use this store (default: synthetic data in memory)."),
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads.")] = None,
    members: Annotated[
        int, typer.Option("--members", help="Members K trained together as one pack.")
    ] = 1,
    n_static: Annotated[
        int,
        typer.Option(
            "--n-static", help="Width of the static vector (27; 531 ~ one-hot on 531 basins)."
        ),
    ] = 27,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Measure training throughput (samples/s, data loading included) on this machine.

    With --members K the K members train as one pack; samples_per_s counts all members,
    samples_per_s_per_member one.

    Example: rvhpc bench --arch ct --members 5 --n-static 531 --steps 10 --json
    """
    from rvhpc.training.allocator import tune_cpu_allocator
    from rvhpc.training.bench import measure

    tune_cpu_allocator()  # as rvhpc train does, so the numbers match training

    result = measure(
        arch=arch,
        hidden=hidden,
        batch_size=batch_size,
        steps=steps,
        warmup=warmup,
        seq_length=seq_length,
        device=device,
        store=store,
        threads=threads,
        members=members,
        n_static=n_static,
    )
    if as_json:  # one line, never wrapped
        typer.echo(json.dumps(result, sort_keys=True))
    else:
        out_console.print(
            f"{result['arch']} K={members} hidden {hidden} batch {batch_size} seq "
            f"{seq_length} on {result['device']}: {result['samples_per_s']:.1f} samples/s "
            f"({result['samples_per_s_per_member']:.1f} per member, "
            f"{result['seconds_per_step']:.3f} s/step, data {result['data_fraction']:.0%})",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and ``bench`` to ``app``."""
    command(app, "train")(train)
    command(app, "evaluate")(evaluate)
    command(app, "bench")(bench)
