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
                help="Experiment the others are compared with (default EP when collected): a "
                "name as the tables show it (EP, a grid's name: value), or without its @scenario "
                "to compare within each scenario."
            ),
        ] = None,
        allow_partial: Annotated[
            bool,
            typer.Option(
                "--allow-partial",
                help="Exit 0 although corrupt, stale or mismatched cells were skipped.",
            ),
        ] = False,
        skip_nan: Annotated[
            bool,
            typer.Option(
                "--skip-nan",
                help="Exit 0 although cells diverged or predict NaN for some basins: those "
                "basins are left out of their experiment (every seed and the ensemble) and "
                "counted (summary.csv basins_skipped_nan; nan.txt names each).",
            ),
        ] = False,
    ) -> None:
        """Collect finished cells into per-basin metrics, seed ensembles, the paper table and figures.

        Sweep points and search trials are chosen on the validation period (selection.csv); the
        paper table reports the chosen point's test scores.

        Cells whose predictions are NaN (a diverged seed) are named, basin by basin, in OUT/nan.txt
        and make collect exit non-zero unless --skip-nan. Collected from a grid, a stale cell (its
        folder holds another config than the grid asks for) is not collected.

        Example: rvhpc collect runs/ --out results/ --workers 2
        """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
        from rvhpc.collect import collect as run_collect
        from rvhpc.collect.outputs import NAN_TXT
        from rvhpc.collect.report import to_markdown
        from rvhpc.hpc.dask_cluster import run_with_dask

        rep = run_with_dask(
            lambda client: run_collect(
                source,
                out,
                client,
                baseline=baseline,
                allow_partial=allow_partial,
                skip_nan=skip_nan,
            ),
            out,
            scheduler,
            workers=workers,
            profile=profile,
            announce=lambda line: out_console.print(line, markup=False, highlight=False),
        )
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
        if rep.nan:
            per = ", ".join(f"{name} {len(b)}" for name, b in rep.skipped.items())
            out_console.print(
                f"skipped for NaN predictions: {len(rep.nan)} cell(s), {rep.skipped_basins} "
                f"basin(s)" + (f" ({per})" if per else "") + f"; see {out / NAN_TXT}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
