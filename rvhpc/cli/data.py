"""``rvhpc data``: synthetic datasets, basin stores, and a look inside them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, fail, out_console
from rvhpc.cli.data_source import (
    BasinListOpt,
    CamelsRootOpt,
    DatasetOpt,
    DescriptorsOpt,
    EvalEndOpt,
    EvalStartOpt,
    ForcingOpt,
    FormatOpt,
    InputsOpt,
    RootOpt,
    TrainEndOpt,
    TrainStartOpt,
    info_rows,
    make_source,
    print_report,
)
from rvhpc.periods import PAPER_EVAL_PERIOD, PAPER_TRAIN_PERIOD

data_app = typer.Typer(
    name="data",
    help="Datasets (CAMELS US, Caravan): synthetic trees, checks and HDF5 basin stores.",
    no_args_is_help=True,
)


@command(data_app, "synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset tree into.")],
    dataset: Annotated[
        str, typer.Option("--dataset", help="Layout to write: camels_us or caravan.")
    ] = "camels_us",
    basins: Annotated[int, typer.Option("--basins", help="Number of basins.")] = 16,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "1980-01-01",
    end: Annotated[str, typer.Option("--end", help="Last day, YYYY-MM-DD.")] = "2008-12-31",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Write into a folder holding dataset files (replaces only what synth writes).",
        ),
    ] = False,
) -> None:
    """Write a synthetic dataset tree with the traits of the published files: CAMELS US (NA
    values, quotes and commas in names, tab-separated forcing) or Caravan (netCDF and CSV trees,
    both naming generations, several sub-datasets incl. an upper-case GRDC id, NaN streamflow
    stretches, late starts and early ends, a netCDF-3 file).

    Refuses a folder that already holds dataset files unless --overwrite is given.

    Example: rvhpc data synth caravan-synth --dataset caravan --basins 12 --start 1990-01-01 --end 2005-12-31
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc.data.synth import synthesize_dataset
    from rvhpc.errors import naming

    with naming(out):  # a full disk: name the tree being written
        result = synthesize_dataset(
            dataset, out, n_basins=basins, start=start, end=end, seed=seed, overwrite=overwrite
        )
    out_console.print(
        f"wrote {len(result.basins)} basins ({result.dates[0].date()}..{result.dates[-1].date()}) "
        f"to {result.root}; basin list {result.basin_file}",
        markup=False,
    )


@command(data_app, "prepare")
def prepare(
    basins: BasinListOpt,
    out: Annotated[Path, typer.Option("--out", help="HDF5 store to write.")],
    dataset: DatasetOpt = "camels_us",
    root: RootOpt = None,
    camels_root: CamelsRootOpt = None,
    forcing: ForcingOpt = None,
    fmt: FormatOpt = None,
    inputs: InputsOpt = None,
    descriptors: DescriptorsOpt = None,
    train_start: TrainStartOpt = PAPER_TRAIN_PERIOD[0],
    train_end: TrainEndOpt = PAPER_TRAIN_PERIOD[1],
    eval_start: EvalStartOpt = PAPER_EVAL_PERIOD[0],
    eval_end: EvalEndOpt = PAPER_EVAL_PERIOD[1],
    val_start: Annotated[
        str | None,
        typer.Option(
            "--val-start",
            help="First day of a validation period, checked to lie in the stored days and "
            "outside the training and evaluation periods (pass it to train or the grid).",
        ),
    ] = None,
    val_end: Annotated[
        str | None, typer.Option("--val-end", help="Last day of the validation period.")
    ] = None,
) -> None:
    """Build the basin store (reused when its inputs are unchanged; safe to run concurrently).

    Makes the pass of `rvhpc data check`, writing each basin as it is read, and stops on errors
    (no store is left behind); warnings are logged.
    With --val-start/--val-end the validation period is checked before anything is built.

    Example: rvhpc data prepare --dataset caravan --root Caravan --root GRDC_Caravan --basins basins.txt --out store.h5
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc.data.prepare import prepare as build
    from rvhpc.periods import warn_overlap

    val = None
    if val_start is not None or val_end is not None:
        val = _val_period(val_start, val_end, (train_start, train_end), (eval_start, eval_end))
    source = make_source(dataset, root, camels_root, basins, forcing, fmt, inputs, descriptors)
    path = build(source, out, (train_start, train_end), (eval_start, eval_end))
    warn_overlap((train_start, train_end), (eval_start, eval_end), f"store {path}")
    if val is not None:
        from rvhpc.training.validation import check_stored_days

        check_stored_days(path, val)
        out_console.print(f"validation period {val[0]}..{val[1]}: inside the store", markup=False)
    out_console.print(f"store ready: {path}", markup=False)


def _val_period(start, end, train, evaluation) -> tuple[str, str]:
    """The validation period of --val-start/--val-end, apart from the other two periods."""
    from rvhpc.periods import check_apart, parse_period

    if start is None or end is None:
        raise fail("--val-start/--val-end: give both days of the period, or neither")
    try:
        parse_period((start, end))
        check_apart((start, end), {"training": train, "evaluation": evaluation})
    except ValueError as exc:
        raise fail(f"--val-start/--val-end: {exc}") from None
    return (start, end)


@command(data_app, "check")
def check(
    basins: BasinListOpt,
    dataset: DatasetOpt = "camels_us",
    root: RootOpt = None,
    camels_root: CamelsRootOpt = None,
    forcing: ForcingOpt = None,
    fmt: FormatOpt = None,
    inputs: InputsOpt = None,
    descriptors: DescriptorsOpt = None,
    train_start: TrainStartOpt = PAPER_TRAIN_PERIOD[0],
    train_end: TrainEndOpt = PAPER_TRAIN_PERIOD[1],
    eval_start: EvalStartOpt = PAPER_EVAL_PERIOD[0],
    eval_end: EvalEndOpt = PAPER_EVAL_PERIOD[1],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a download before `data prepare` (which makes the same checks).

    Per listed basin: its files, the chosen descriptors, observed discharge in the training and
    evaluation periods, complete inputs on the days of both periods plus a 270-day input window;
    and the dataset's own rules (CAMELS US: the seven attribute files, the forcing-header area
    against area_gages2; Caravan: roots, sub-datasets, naming generations, text and class
    columns). Exit status 1 when there are errors (prepare would stop), else 0.

    Example: rvhpc data check --camels-root CAMELS_US --basins data/basins/531.txt
    """
    import json

    from rvhpc.data.check import check_source

    source = make_source(dataset, root, camels_root, basins, forcing, fmt, inputs, descriptors)
    report = check_source(source, (train_start, train_end), (eval_start, eval_end))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
    else:
        print_report(report)
    if report.errors:
        raise typer.Exit(1)


@command(data_app, "info")
def info(store: Annotated[Path, typer.Argument(help="The HDF5 store.")]) -> None:
    """Print a summary of a basin store.

    Example: rvhpc data info store.h5
    """
    from rich.table import Table

    from rvhpc.data.storeinfo import store_info

    s = store_info(store)
    table = Table(title=f"basin store {s['path']}", show_header=False)
    for key, value in info_rows(s):
        table.add_row(key, value)
    out_console.print(table)


@command(data_app, "show")
def show(
    store: Annotated[Path, typer.Argument(help="The HDF5 store.")],
    basin: Annotated[str, typer.Option("--basin", help="Basin id (as in the basin list).")],
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the daily series to this CSV file.")
    ] = None,
) -> None:
    """Print (or write as CSV) one basin's stored daily series (date, the inputs under the
    dataset's own names, qobs(mm/day)) and its descriptors.

    Example: rvhpc data show store.h5 --basin 01013500 --csv 01013500.csv
    """
    from rvhpc.atomic import write_text
    from rvhpc.data.storeinfo import basin_series

    frame, descriptors = basin_series(store, basin)
    text = frame.to_csv(index_label="date", date_format="%Y-%m-%d", na_rep="", float_format="%.6g")
    if csv is None:
        typer.echo(text, nl=False)
    else:
        write_text(csv, text)
        out_console.print(f"wrote {len(frame)} days of basin {basin} to {csv}", markup=False)
    typer.echo("# descriptors")
    for name, value in descriptors.items():
        typer.echo(f"# {name} = {value:.6g}")


@command(data_app, "subset")
def subset(
    basin_list: Annotated[Path, typer.Argument(help="Basin list file to draw from.")],
    n: Annotated[
        list[int], typer.Option("--n", help="Subset size (repeat with --nested for a chain).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="List file to write (with --nested: a folder).")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    nested: Annotated[
        bool,
        typer.Option(
            "--nested",
            help="Write one list per --n into the folder --out, each contained in the next larger.",
        ),
    ] = False,
) -> None:
    """Write a random subset of a basin list (same list, size and seed: same subset).

    Example: rvhpc data subset lists/531.txt --n 100 --n 265 --seed 0 --nested --out lists/
    """
    from rvhpc.data.subset import write_subsets

    for path, size in write_subsets(basin_list, n, seed, out, chain=nested):
        out_console.print(f"wrote {size} basins to {path}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    app.add_typer(data_app, name="data")
