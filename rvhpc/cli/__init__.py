"""The ``rvhpc`` command line: a thin Typer app. Each module registers one group of commands;
commands parse options, call one library function and print the result."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from rvhpc import __version__

app = typer.Typer(
    name="rvhpc",
    help="Random-vector regionalization of a global hydrologic LSTM: CAMELS US data, training, "
    "Slurm array jobs in Apptainer, Dask collection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rvhpc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks on errors.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    if debug:
        os.environ["RVHPC_DEBUG"] = "1"
    if quiet:
        from rvhpc import progress

        progress.set_quiet(True)


def _register_all() -> None:
    # import lazily inside each module's commands so `rvhpc --help` stays fast
    from rvhpc.cli import (
        bench,
        collect,
        container,
        data,
        demo,
        evaluate,
        grid,
        run,
        status,
        submit,
        train,
    )

    for module in (
        demo,
        data,
        train,
        evaluate,
        bench,
        grid,
        run,
        submit,
        status,
        collect,
        container,
    ):
        module.register(app)


_register_all()


def main() -> None:
    """The console entry point (``rvhpc`` and ``python -m rvhpc``)."""
    from rvhpc import numerics

    numerics.cli_argv = sys.argv[1:]  # a training command may start itself again (numerics.enter)
    app()
