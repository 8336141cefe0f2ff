"""``rvhpc data``: synthetic CAMELS US, basin stores, and a look inside them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import command, fail, out_console

# the options that `data prepare` and `data check` share
CamelsRootOpt = Annotated[Path, typer.Option("--camels-root", help="CAMELS US root folder.")]
BasinListOpt = Annotated[
    Path, typer.Option("--basins", help="Basin list file (one 8-digit id per line).")
]
ForcingOpt = Annotated[
    str, typer.Option("--forcing", help="Forcing folder under basin_mean_forcing.")
]
TrainStartOpt = Annotated[str, typer.Option("--train-start", help="First training day.")]
TrainEndOpt = Annotated[str, typer.Option("--train-end", help="Last training day.")]
EvalStartOpt = Annotated[str, typer.Option("--eval-start", help="First evaluation day.")]
EvalEndOpt = Annotated[str, typer.Option("--eval-end", help="Last evaluation day.")]

data_app = typer.Typer(
    name="data", help="CAMELS US data: synthetic trees and HDF5 basin stores.", no_args_is_help=True
)


@command(data_app, "synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the CAMELS US tree into.")],
    basins: Annotated[int, typer.Option("--basins", help="Number of basins.")] = 16,
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")] = "1980-01-01",
    end: Annotated[str, typer.Option("--end", help="Last day, YYYY-MM-DD.")] = "2008-12-31",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Write into a folder holding CAMELS files (replaces only the files synth writes).",
        ),
    ] = False,
) -> None:
    """Write a synthetic CAMELS US tree (forcings, streamflow, attributes, basin list) with the
    traits of the published files (NA values, quotes and commas in names, tab-separated forcing).

    Refuses a folder that already holds CAMELS US files unless --overwrite is given.

    Example: rvhpc data synth camels-synth --basins 16 --start 1980-01-01 --end 2008-12-31 --seed 0
    """
    from rvhpc.data.synth import synthesize
    from rvhpc.errors import naming

    with naming(out):  # a full disk: name the tree being written
        result = synthesize(
            out, n_basins=basins, start=start, end=end, seed=seed, overwrite=overwrite
        )
    out_console.print(
        f"wrote {len(result.basins)} basins ({result.dates[0].date()}..{result.dates[-1].date()}) "
        f"to {result.root}; basin list {result.basin_file}",
        markup=False,
    )


@command(data_app, "prepare")
def prepare(
    camels_root: CamelsRootOpt,
    basins: BasinListOpt,
    out: Annotated[Path, typer.Option("--out", help="HDF5 store to write.")],
    forcing: ForcingOpt = "maurer_extended",
    train_start: TrainStartOpt = "1999-10-01",
    train_end: TrainEndOpt = "2008-09-30",
    eval_start: EvalStartOpt = "1989-10-01",
    eval_end: EvalEndOpt = "1999-09-30",
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

    Runs the checks of `rvhpc data check` first and stops on errors; warnings are logged.
    With --val-start/--val-end the validation period is checked before anything is built.

    Example: rvhpc data prepare --camels-root camels-synth --basins camels-synth/basin_list.txt --out store.h5
    """  # noqa: E501 (the docstring is the --help text: rewrapping would change it)
    from rvhpc.data.store import prepare_store
    from rvhpc.periods import warn_overlap

    val = None
    if val_start is not None or val_end is not None:
        val = _val_period(val_start, val_end, (train_start, train_end), (eval_start, eval_end))
    path = prepare_store(
        camels_root,
        basins,
        out,
        forcing=forcing,
        train_period=(train_start, train_end),
        eval_period=(eval_start, eval_end),
    )
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
    camels_root: CamelsRootOpt,
    basins: BasinListOpt,
    forcing: ForcingOpt = "maurer_extended",
    train_start: TrainStartOpt = "1999-10-01",
    train_end: TrainEndOpt = "2008-09-30",
    eval_start: EvalStartOpt = "1989-10-01",
    eval_end: EvalEndOpt = "1999-09-30",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a CAMELS US download before `data prepare` (which runs the same checks first).

    Per listed basin: forcing and streamflow files, the 27 descriptors, observed discharge in the
    training and evaluation periods, date coverage of the periods plus a 270-day input window,
    forcing-header area against area_gages2 (over 10 % flagged); and the seven attribute files
    with their columns. Exit status 1 when there are errors (prepare would stop), else 0.

    Example: rvhpc data check --camels-root CAMELS_US --basins data/basins/531.txt
    """
    import json

    from rvhpc.data.check import check_tree

    report = check_tree(
        camels_root,
        basins,
        forcing=forcing,
        train_period=(train_start, train_end),
        eval_period=(eval_start, eval_end),
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
    else:
        _print_report(report)
    if report.errors:
        raise typer.Exit(1)


def _print_report(report) -> None:
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    table = Table(title=f"CAMELS US check of {report.root} ({report.forcing})")
    for name in ("basin", "forcing days", "train Q missing", "eval Q missing", "area diff"):
        table.add_column(name)
    table.add_column("problems")
    for b in report.basins:
        days = "..".join(b.forcing_days) if b.forcing_days else "-"
        area = "-" if b.area_diff is None else f"{100 * b.area_diff:+.1f} %"
        problems = ", ".join(b.problems) or "ok"
        table.add_row(b.basin, days, pct(b.train_missing_q), pct(b.eval_missing_q), area, problems)
    out_console.print(table)
    for finding in report.findings:
        out_console.print(f"{finding.level}: {finding.message}")
    out_console.print(
        f"{len(report.basins)} basins checked: {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s)"
        + ("; `rvhpc data prepare` would stop" if report.errors else "")
    )


@command(data_app, "info")
def info(store: Annotated[Path, typer.Argument(help="The HDF5 store.")]) -> None:
    """Print a summary of a basin store.

    Example: rvhpc data info store.h5
    """
    from rich.table import Table

    from rvhpc.data.camels import DYNAMIC_INPUTS
    from rvhpc.data.store import store_info

    s = store_info(store)
    table = Table(title=f"basin store {s['path']}", show_header=False)
    prov = s["provenance"]
    rows = [
        ("format version", str(s["format_version"])),
        ("forcing", s["forcing"]),
        (
            "basins",
            f"{s['basins']} ({', '.join(s['first_basins'])}{', ...' if s['basins'] > 5 else ''})",
        ),
        ("days", f"{s['dates'][0]}..{s['dates'][1]} ({s['dates'][2]} days)"),
        ("train period", "..".join(s["train_period"])),
        ("eval period", "..".join(s["eval_period"])),
        ("missing qobs", f"{100 * s['missing_qobs']:.2f} %"),
        ("file size", f"{s['file_bytes'] / 1e6:.2f} MB"),
        ("qobs mean/std (mm/day)", f"{s['y_mean']:.4g} / {s['y_std']:.4g}"),
    ]
    rows += [
        (f"{name} mean/std", f"{m:.4g} / {sd:.4g}")
        for name, m, sd in zip(DYNAMIC_INPUTS, s["x_mean"], s["x_std"], strict=False)
    ]
    rows += [
        ("attributes", f"{len(s['attributes'])} columns"),
        ("source", prov.get("source_root", "?")),
        ("input files", f"{len(prov.get('files', {}))} (sizes and sha256 stored)"),
        (
            "built",
            f"{prov.get('created', '?')} by rvhpc {prov.get('rvhpc_version', '?')} "
            f"on {prov.get('host', '?')}",
        ),
        ("fingerprint", s["fingerprint"][:16]),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out_console.print(table)


@command(data_app, "show")
def show(
    store: Annotated[Path, typer.Argument(help="The HDF5 store.")],
    basin: Annotated[str, typer.Option("--basin", help="8-digit basin id.")],
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the daily series to this CSV file.")
    ] = None,
) -> None:
    """Print (or write as CSV) one basin's stored daily series and its 27 descriptors.

    Example: rvhpc data show store.h5 --basin 01013500 --csv 01013500.csv
    """
    from rvhpc.atomic import write_text
    from rvhpc.data.store import basin_series

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
