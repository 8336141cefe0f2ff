"""``rvhpc bench``: training throughput on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._cell_options import Arch, Device, Numerics
from rvhpc.cli._common import command, out_console
from rvhpc.numerics import DEFAULT_MODE


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
    numerics: Numerics = DEFAULT_MODE,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Measure training throughput (samples/s, data loading included) on this machine.

    With --members K the K members train as one pack; samples_per_s counts all members,
    samples_per_s_per_member one.

    Example: rvhpc bench --arch ct --members 5 --n-static 531 --steps 10 --json
    """
    from rvhpc import numerics as kernel_path

    kernel_path.enter(numerics)  # first: before torch, MKL and numpy load
    from rvhpc.training.bench import measure
    from rvhpc.training.runtime import tune_cpu_allocator

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
        numerics=numerics,
    )
    if as_json:  # one line, never wrapped
        typer.echo(json.dumps(result, sort_keys=True))
    else:
        out_console.print(
            f"{result['arch']} K={members} hidden {hidden} batch {batch_size} seq "
            f"{seq_length} on {result['device']} ({numerics}, {result['kernels']['capability']}, "
            f"{result['kernels']['matmul']}): {result['samples_per_s']:.1f} samples/s "
            f"({result['samples_per_s_per_member']:.1f} per member, "
            f"{result['seconds_per_step']:.3f} s/step, data {result['data_fraction']:.0%})",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``bench`` to ``app``."""
    command(app, "bench")(bench)
