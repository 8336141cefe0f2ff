"""The options that name a dataset's files (``data check`` and ``data prepare`` share them) and
the one place that turns them into a dataset reader; the report and store summary as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rvhpc.cli._common import out_console

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset layout: camels_us or caravan.")]
RootOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--root",
        metavar="<path>",
        help="Dataset root folder; repeat for Caravan extensions (GRDC-Caravan, CAMELS-DE, ...).",
    ),
]
CamelsRootOpt = Annotated[
    Path | None, typer.Option("--camels-root", help="CAMELS US root folder (same as --root).")
]
BasinListOpt = Annotated[
    Path, typer.Option("--basins", help="Basin list file (one basin id per line).")
]
ForcingOpt = Annotated[
    str | None,
    typer.Option(
        "--forcing", help="CAMELS US forcing folder under basin_mean_forcing (maurer_extended)."
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format", help="Caravan time series: netcdf or csv (netcdf where that tree exists)."
    ),
]
InputsOpt = Annotated[
    str | None,
    typer.Option("--inputs", help="Dynamic inputs, comma-separated (the dataset's defaults)."),
]
DescriptorsOpt = Annotated[
    str | None,
    typer.Option(
        "--descriptors", help="Physics descriptors, comma-separated (the dataset's defaults)."
    ),
]
TrainStartOpt = Annotated[str, typer.Option("--train-start", help="First training day.")]
TrainEndOpt = Annotated[str, typer.Option("--train-end", help="Last training day.")]
EvalStartOpt = Annotated[str, typer.Option("--eval-start", help="First evaluation day.")]
EvalEndOpt = Annotated[str, typer.Option("--eval-end", help="Last evaluation day.")]


def _names(text: str | None, option: str) -> list[str] | None:
    from rvhpc.errors import DataError

    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise DataError(f"{option} {text!r}: give names separated by commas, none empty")
    return names


def make_source(
    dataset: str,
    root: list[Path] | None,
    camels_root: Path | None,
    basins: Path,
    forcing: str | None,
    fmt: str | None,
    inputs: str | None,
    descriptors: str | None,
):
    """The dataset reader the options name (DataError, one line, for options that clash)."""
    from rvhpc.data.datasets import open_dataset
    from rvhpc.errors import DataError

    if camels_root is not None:
        if root:
            raise DataError("give the CAMELS US root once: --camels-root or --root, not both")
        if dataset != "camels_us":
            raise DataError(f"--camels-root is CAMELS US's; for --dataset {dataset} use --root")
        root = [camels_root]
    if not root:
        raise DataError("give the dataset's root folder with --root (or --camels-root)")
    if forcing is not None and dataset != "camels_us":
        raise DataError(f"--forcing is an option of CAMELS US, not of --dataset {dataset}")
    if fmt is not None and dataset != "caravan":
        raise DataError(f"--format is an option of Caravan, not of --dataset {dataset}")
    return open_dataset(
        dataset,
        list(root),
        basins,
        inputs=_names(inputs, "--inputs"),
        descriptors=_names(descriptors, "--descriptors"),
        forcing=forcing,
        format=fmt,
    )


def print_report(report) -> None:
    """The check report as a table, then its findings, one line each."""
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    table = Table(title=f"check of {report.source}")
    for name in ("basin", "days", "train Q missing", "eval Q missing", "area diff"):
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


def info_rows(s: dict) -> list[tuple[str, str]]:
    """The rows of ``rvhpc data info``."""
    prov = s["provenance"]
    first = ", ".join(s["first_basins"]) + (", ..." if s["basins"] > 5 else "")
    rows = [
        ("format version", str(s["format_version"])),
        ("dataset", s["dataset"] + (f" ({s['forcing']})" if s["forcing"] else "")),
        ("basins", f"{s['basins']} ({first})"),
        ("days", f"{s['dates'][0]}..{s['dates'][1]} ({s['dates'][2]} days)"),
        ("train period", "..".join(s["train_period"])),
        ("eval period", "..".join(s["eval_period"])),
        ("missing qobs", f"{100 * s['missing_qobs']:.2f} %"),
        ("file size", f"{s['file_bytes'] / 1e6:.2f} MB"),
        ("qobs mean/std (mm/day)", f"{s['y_mean']:.4g} / {s['y_std']:.4g}"),
    ]
    rows += [
        (f"{name} mean/std", f"{m:.4g} / {sd:.4g}")
        for name, m, sd in zip(s["inputs"], s["x_mean"], s["x_std"], strict=True)
    ]
    rows += [
        ("descriptors", f"{len(s['descriptors'])} ({', '.join(s['descriptors'][:4])}, ...)"),
        ("attributes", f"{len(s['attributes'])} columns"),
        ("source", ", ".join(prov.get("roots", [prov.get("source_root", "?")]))),
        ("input files", f"{len(prov.get('files', {}))} (sizes and sha256 stored)"),
        (
            "built",
            f"{prov.get('created', '?')} by rvhpc {prov.get('rvhpc_version', '?')} "
            f"on {prov.get('host', '?')}",
        ),
        ("fingerprint", s["fingerprint"][:16]),
    ]
    return rows
