"""``collect``: a runs dir's or grid's finished cells into one results folder. Discover the cells,
check them (folds, validation, kernel paths, the baseline), compute on Dask (dispatch.py), choose
sweep points on validation (selection.py), write the tables and figures (outputs.py), and refuse
at the end, after writing the good cells' results, what was skipped without leave."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from distributed import Client

from rvhpc import progress
from rvhpc.collect import selection
from rvhpc.collect.discover import Cell, Discovery, discover
from rvhpc.collect.dispatch import compute_all
from rvhpc.collect.experiment import Experiment
from rvhpc.collect.outputs import (
    NAN_TXT,
    PROBLEMS_TXT,
    CollectReport,
    check_baseline,
    write_outputs,
)
from rvhpc.collect.provenance import mixed_warnings
from rvhpc.errors import CollectError


def collect(
    source: str | Path,
    out: Path,
    client: Client,
    baseline: str | None = None,
    allow_partial: bool = False,
    skip_nan: bool = False,
) -> CollectReport:
    """Collect every finished cell of a runs dir or grid into ``out``.

    Writes metrics.parquet, summary.csv/.md, paper_table.csv/.md, comparison.csv and PNG figures;
    problems.txt and nan.txt when there are any.

    Parameters
    ----------
    source : str or Path
        A runs directory, or a grid file / built-in grid name.
    out : Path
    client : Client
        The Dask client the cell and ensemble tasks run on.
    baseline : str, optional
        The experiment the others are compared with (default EP; see
        :func:`rvhpc.collect.outputs.check_baseline`).
    allow_partial : bool
        Accept that corrupt, stale or mismatched cells were skipped.
    skip_nan : bool
        Accept that cells with NaN predictions were left out: diverged cells, and each basin some
        seed predicts as NaN (left out of its experiment, counted in summary.csv
        ``basins_skipped_nan``).

    Returns
    -------
    CollectReport

    Raises
    ------
    CollectError
        No finished cells, an unknown baseline, one name for different experiments, or (after
        writing the results of the good cells) a problem without ``allow_partial``, or NaN
        predictions without ``skip_nan``.
    """
    out = Path(out)
    found = discover(source)
    rep = CollectReport(
        out=out,
        cells=len(found.cells),
        unfinished=found.unfinished,
        problems=list(found.problems),
        nan=list(found.diverged),
    )
    _log_found(found)
    if not found.cells:
        raise _nothing_finished(source, found)
    groups = found.experiments()
    selection.check_validation(groups)  # sweep points without validation: never choose on test
    rep.problems += missing_folds(groups)
    rep.warnings = mixed_warnings(groups)
    for warning in rep.warnings:
        progress.log(f"warning: {warning}")
    names = list(dict.fromkeys(exp.name for exp in groups))
    base, per_scenario = check_baseline(baseline, names)
    progress.log(f"collecting {len(found.cells)} cell(s) of {len(groups)} experiment(s) into {out}")
    parts = compute_all(client, dict(groups), out / "cache", rep)
    if not parts:
        raise CollectError(
            f"{source}: none of the {len(found.cells)} finished cells could be read: "
            f"{rep.problems[0]}"
        )
    order = {name: i for i, name in enumerate(names)}
    metrics = _in_order(pd.concat(parts, ignore_index=True), order)
    shown = [n for n in names if n in set(metrics["experiment"])]
    val = _validation_metrics(client, groups, out, rep, order)
    files, chosen = selection.write_selection(groups, metrics, val, found.studies, found.root, out)
    rep.files += write_outputs(metrics, shown, (base, per_scenario, baseline), out, rep, chosen)
    rep.files += files
    _refuse_skipped(rep, out, allow_partial, skip_nan)
    return rep


def _log_found(found: Discovery) -> None:
    """A line per diverged cell and problem, one for the unfinished cells."""
    for line in found.diverged:
        progress.log(line)
    if found.unfinished:
        progress.log(
            f"{len(found.unfinished)} unfinished cell(s) skipped: "
            f"{', '.join(found.unfinished[:10])}" + (" ..." if len(found.unfinished) > 10 else "")
        )
    for problem in found.problems:
        progress.log(f"skipped: {problem}")


def _nothing_finished(source: str | Path, found: Discovery) -> CollectError:
    """The error of a source without finished cells: what it holds instead."""
    first = (found.diverged + found.problems)[:1]
    return CollectError(
        f"{source}: no finished cells to collect ({len(found.unfinished)} unfinished, "
        f"{len(found.diverged)} diverged, {len(found.problems)} with problems"
        + (f": {first[0]}" if first else "; wait for the grid or check the path")
        + ")"
    )


def _in_order(metrics: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """metrics.parquet's row order: experiments in table order, then member, then basin."""
    return metrics.sort_values(
        ["experiment", "member", "basin"],
        key=lambda c: c.map(order) if c.name == "experiment" else c,
        kind="stable",
        ignore_index=True,
    )


def _refuse_skipped(rep: CollectReport, out: Path, allow_partial: bool, skip_nan: bool) -> None:
    """CollectError for NaN predictions without ``skip_nan``, then for problems without
    ``allow_partial`` (the results of the other cells are written by then)."""
    if rep.nan and not skip_nan:
        more = f" (+{len(rep.nan) - 1} more)" if len(rep.nan) > 1 else ""
        raise CollectError(
            f"NaN predictions: {rep.nan[0]}{more}; every one is listed in {out / NAN_TXT}; the "
            f"results in {out} leave them out: pass --skip-nan to accept that"
        )
    if rep.problems and not allow_partial:
        more = (
            f" (+{len(rep.problems) - 1} more in {out / PROBLEMS_TXT})"
            if len(rep.problems) > 1
            else ""
        )
        raise CollectError(
            f"{rep.problems[0]}{more}; results of the other cells are in {out}; "
            f"pass --allow-partial to accept them"
        )


def _validation_metrics(
    client, groups, out: Path, rep: CollectReport, order
) -> pd.DataFrame | None:
    """metrics.parquet's rows over the validation period, for the experiments that have one."""
    val_groups = selection.validation_groups(groups)
    if not val_groups:
        return None
    scratch = CollectReport(out=out)  # the cell counts of the report stay those of the test
    parts = compute_all(client, val_groups, out / "cache", scratch)
    rep.problems += [f"validation: {p}" for p in scratch.problems]
    rep.nan += [f"validation: {line}" for line in scratch.nan]
    if not parts:
        return None
    return _in_order(pd.concat(parts, ignore_index=True), order)


def missing_folds(groups: dict[Experiment, list[Cell]]) -> list[str]:
    """A line per k-fold or regions experiment and seed that lacks a fold (whose basins are then
    missing).

    Parameters
    ----------
    groups : dict[Experiment, list[Cell]]

    Returns
    -------
    list of str
    """
    seen: dict[tuple[str, int], set[int]] = {}
    folds: dict[str, int] = {}
    for exp, cells in groups.items():
        if exp.fold is None:
            continue
        folds[exp.name] = int(exp.folds)
        for cell in cells:
            seen.setdefault((exp.name, cell.seed), set()).add(exp.fold)
    return [
        f"experiment {name}: seed {seed} has no finished fold(s) "
        f"{', '.join(map(str, sorted(set(range(folds[name])) - got)))}; their basins are missing"
        for (name, seed), got in sorted(seen.items())
        if len(got) < folds[name]
    ]
