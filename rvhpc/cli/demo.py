"""``rvhpc demo``: the whole study end to end on synthetic data, in minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._cell_options import Numerics
from rvhpc.cli._common import command, out_console


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @command(app, "demo")
    def demo(
        out: Annotated[
            Path, typer.Option("--out", "-o", help="Folder for data, runs and results.")
        ] = Path("demo-out"),
        jobs: Annotated[
            int | None,
            typer.Option(
                "--jobs", "-j", help="Cells trained at the same time (default: one per CPU)."
            ),
        ] = None,
        workers: Annotated[
            int | None, typer.Option(help="Dask workers for collect (default: one per CPU).")
        ] = None,
        numerics: Numerics = "portable",
    ) -> None:
        """Run the whole study end to end on synthetic data: generate, prepare, train, collect.

        Synthetic CAMELS US (16 basins, 15 years), a grid of EA- and CT-LSTMs with physical, random
        and no static vectors (2 seeds each) trained locally in portable numerics (the same bits
        on every x86-64 CPU with AVX2), collected with Dask into the summary, the paper table and
        figures. Each cell trains on one thread, so the table is the same bits on any machine;
        more CPUs train more cells at once. A rerun resumes: finished cells are kept.

        Example: rvhpc demo --out demo-out --jobs 2
        """
        from rvhpc.collect.report import to_markdown
        from rvhpc.demo import run_demo

        result = run_demo(out, jobs=jobs, workers=workers, numerics=numerics)
        cols = [
            "experiment",
            "seeds",
            "ensemble_median_nse",
            "seed_median_nse_mean",
            "basins_ensemble_nse_lt0",
        ]
        out_console.print(
            to_markdown(result.summary[cols]), markup=False, highlight=False, soft_wrap=True
        )
        out_console.print(
            f"\ndemo finished in {result.seconds:.0f} s ({numerics} numerics); results, tables "
            f"and figures in {result.results_dir}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
