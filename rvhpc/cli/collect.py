"""``rvhpc collect``: per-basin metrics, seed ensembles, tables and figures with Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, out_console


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @command(app, "collect")
    def collect(
        source: Annotated[
            str,
            typer.Argument(
                help="Runs directory (scanned for config.json), or a grid "
                "YAML file / built-in grid name (its runs_dir)."
            ),
        ],
        out: Annotated[
            Path, typer.Option("--out", "-o", help="Results directory (cache/ inside is reused).")
        ],
        scheduler: Annotated[
            str,
            typer.Option(
                help="local (processes on this machine), slurm (dask-jobqueue "
                "workers from --profile), or a scheduler address."
            ),
        ] = "local",
        workers: Annotated[
            int | None,
            typer.Option(
                help="Worker processes (local) or worker jobs (slurm); "
                "default: one per CPU / the profile's max_jobs."
            ),
        ] = None,
        profile: Annotated[
            str | None,
            typer.Option(
                help="Site profile for --scheduler slurm (name in slurm/profiles or a YAML path)."
            ),
        ] = None,
        baseline: Annotated[
            str | None,
            typer.Option(
                help="Experiment the others are compared with (default EP when collected)."
            ),
        ] = None,
        allow_partial: Annotated[
            bool,
            typer.Option(
                "--allow-partial",
                help="Exit 0 although corrupt cells or mismatched experiments were skipped.",
            ),
        ] = False,
    ) -> None:
        """Collect finished cells into per-basin metrics, seed ensembles, the paper table and figures.

        Example: rvhpc collect runs/ --out results/ --workers 2
        """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
        from rvhpc.collect import collect as run_collect
        from rvhpc.collect.report import to_markdown
        from rvhpc.grid.manifest import check_writable
        from rvhpc.hpc.dask_cluster import dask_client

        check_writable(out, "--out", "choose a folder you can write to")  # before starting Dask
        with dask_client(
            scheduler, workers=workers, profile=profile, log_dir=out / "dask-logs"
        ) as client:
            out_console.print(
                f"dask dashboard: {client.dashboard_link}", markup=False, highlight=False
            )
            rep = run_collect(source, out, client, baseline=baseline, allow_partial=allow_partial)
        cols = [
            "experiment",
            "seeds",
            "ensemble_median_nse",
            "seed_median_nse_mean",
            "seed_median_nse_std",
            "basins_ensemble_nse_lt0",
        ]
        out_console.print(
            to_markdown(rep.summary[cols]), markup=False, highlight=False, soft_wrap=True
        )
        out_console.print(
            f"{rep.cells} cell(s): {len(rep.computed)} computed, {len(rep.cached)} from cache, "
            f"{len(rep.unfinished)} unfinished skipped, {len(rep.problems)} problem(s), "
            f"{len(rep.warnings)} warning(s); "
            f"wrote {len(rep.files)} files to {out}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
