"""Options shared by ``rvhpc train``, ``evaluate``, ``bench``, ``run``, ``cell`` and ``demo``."""

from __future__ import annotations

from typing import Annotated

import typer

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
Numerics = Annotated[
    str,
    typer.Option(
        "--numerics",
        help="portable: the same bits for the same seed and threads on every x86-64 CPU with "
        "AVX2 (one fixed kernel path); fast: this machine's fastest kernels. See docs/numerics.md.",
    ),
]
NumericsOverride = Annotated[
    str | None,
    typer.Option(
        "--numerics",
        help="portable or fast: overrides the grid's train: {numerics: ...} (default: the grid's, "
        "else portable). See docs/numerics.md.",
    ),
]
