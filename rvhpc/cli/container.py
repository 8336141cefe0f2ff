"""``rvhpc container ...``: build the Apptainer image that array tasks run in."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, out_console
from rvhpc.resources import container_definition

container_app = typer.Typer(
    help="Build the container image that array tasks run in.", no_args_is_help=True
)


@command(container_app, "build")
def build(
    def_file: Annotated[
        Path | None,
        typer.Option(
            "--def",
            help="Apptainer definition file (default: the one packaged with rvhpc).",
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="rvhpc source tree to build from (default: the checkout rvhpc runs from).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Image to write (.sif).")] = Path("rvhpc.sif"),
    runtime: Annotated[
        str | None,
        typer.Option("--runtime", help="apptainer or singularity (default: whichever is on PATH)."),
    ] = None,
    fakeroot: Annotated[
        bool | None,
        typer.Option(
            "--fakeroot/--no-fakeroot", help="Build as fake root (default: when not root)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the build command, run nothing.")
    ] = False,
) -> None:
    """Build the rvhpc container image (.sif) with apptainer build or singularity build.

    Runs in rvhpc's source tree so the definition's %files find it; labels carry the version, the
    git commit, its time (SOURCE_DATE_EPOCH) and the hash of the installed lock.
    Copy the .sif to the cluster and name it in the site profile (container.image).

    Example: rvhpc container build --out /scratch/$USER/rvhpc.sif
    """
    from rvhpc.hpc.image import build_image

    argv = build_image(
        def_file or container_definition(),
        out,
        runtime,
        source=source,
        dry_run=dry_run,
        fakeroot=fakeroot,
    )
    if dry_run:
        out_console.print(shlex.join(argv), markup=False, highlight=False, soft_wrap=True)
    else:
        out_console.print(f"built {out}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``container`` group to ``app``."""
    app.add_typer(container_app, name="container")
