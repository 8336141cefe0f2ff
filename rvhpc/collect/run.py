"""``collect``: one Dask task per cell, one per experiment ensemble, then tables and figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from distributed import Client, as_completed

from rvhpc import progress
from rvhpc.collect import report, selection
from rvhpc.collect.compute import NAN_DAYS, cell_key, cell_metrics, ensemble_metrics
from rvhpc.collect.discover import Cell, Experiment, discover
from rvhpc.collect.outputs import (
    NAN_TXT,
    PROBLEMS_TXT,
    CollectReport,
    check_baseline,
    write_outputs,
)
from rvhpc.collect.provenance import mixed_warnings
from rvhpc.errors import CollectError, RvhpcError


def _id_columns(frame: pd.DataFrame, exp: Experiment, member: str) -> pd.DataFrame:
    # a paired experiment's member k drew with attr_seed k; its ensemble spans all draws (NA)
    attr_seed = (int(member) if member != "ensemble" else None) if exp.paired else exp.attr_seed
    ids = {
        "experiment": exp.name,
        "arch": exp.arch,
        "static": exp.static,
        "dim": pd.array([exp.dim] * len(frame), dtype="Int64"),
        "attr_seed": pd.array([attr_seed] * len(frame), dtype="Int64"),
        "member": member,
        **report.scenario_values(exp, len(frame)),
    }
    columns = report.ID_COLUMNS + report.SCENARIO_COLUMNS
    return frame.assign(**ids)[columns + [c for c in frame.columns if c != "basin"]]


def _basin_mismatch(exp: Experiment, frames: dict[Cell, pd.DataFrame]) -> str | None:
    sets = {cell: frozenset(frame["basin"]) for cell, frame in frames.items()}
    ref_cell, ref = next(iter(sets.items()))
    odd = [cell for cell, basins in sets.items() if basins != ref]
    if not odd:
        return None
    detail = ", ".join(
        f"{c.label} ({len(sets[c])} basins, {len(sets[c] ^ ref)} differ)" for c in odd
    )
    return (
        f"experiment {exp.name}: seeds have different basin sets: "
        f"{ref_cell.label} ({len(ref)} basins) vs "
        f"{detail}; not ensembled (rerun the odd cells on the same basin list)"
    )


def _task(func, *args) -> tuple:
    """Run a task; an RvhpcError comes back as its message, so workers do not log it as a crash."""
    try:
        return func(*args), None
    except RvhpcError as exc:
        return None, str(exc)
    except OSError as exc:  # a full or read-only disk: raised again by the client, in one line
        return None, exc


def compute_all(
    client: Client, groups: dict[Experiment, list[Cell]], cache_dir: Path, rep: CollectReport
) -> list[pd.DataFrame]:
    """Submit cell tasks, then each experiment's ensemble task once all its cells are in.

    A basin that any seed of an experiment simulates as NaN on an observed day is named in
    ``rep.nan`` and left out of that experiment: out of every seed's rows and out of the
    ensemble, whose mean would be NaN there (and scored on the remaining days, or not at all).

    Parameters
    ----------
    client : Client
    groups : dict[Experiment, list[Cell]]
    cache_dir : Path
    rep : CollectReport
        Gets the problems, NaN lines, skipped basins and cache counts.

    Returns
    -------
    list[pd.DataFrame]
        Per-basin metrics with their id columns, members and ensembles.
    """
    keys: dict[Cell, str] = {}
    for exp in list(groups):
        for cell in list(groups[exp]):
            try:
                keys[cell] = cell_key(cell)
            except RvhpcError as exc:
                rep.problems.append(str(exc))
                groups[exp] = [c for c in groups[exp] if c is not cell]
        if not groups[exp]:
            del groups[exp]
    futures = {
        client.submit(
            _task, cell_metrics, cell, keys[cell], cache_dir, key=f"cell-{keys[cell]}", pure=False
        ): (exp, cell)
        for exp, cells in groups.items()
        for cell in cells
    }
    waiting = {exp: len(cells) for exp, cells in groups.items()}
    good: dict[Experiment, dict[Cell, pd.DataFrame]] = {exp: {} for exp in groups}
    skipped: dict[Experiment, set[str]] = {}
    parts: list[pd.DataFrame] = []
    with progress.task("collect", total=len(futures) + len(groups), every=20) as bar:
        for fut in (ac := as_completed(futures)):
            exp, cell = futures[fut]
            result, error = fut.result()
            if isinstance(error, OSError):
                raise error
            frame, computed = result if result is not None else (None, False)
            if error is not None:
                rep.problems.append(error)
                progress.log(f"skipped: {error}")
            if cell is None:  # an ensemble task
                bar.advance(info=exp.name)
                if frame is not None:
                    rep.ensembles_computed += int(computed)
                    kept = frame[~frame["basin"].isin(skipped.get(exp, ()))]
                    parts.append(_id_columns(kept.drop(columns=NAN_DAYS), exp, "ensemble"))
                continue
            bar.advance(info=cell.label)
            if frame is not None:
                (rep.computed if computed else rep.cached).append(cell.label)
                good[exp][cell] = frame
                _note_nan(cell, frame, rep)
            waiting[exp] -= 1
            if waiting[exp] == 0:
                skipped[exp] = _skip_nan_basins(exp, good[exp], rep)
                for member in sorted(good[exp], key=lambda c: c.seed):
                    kept = good[exp][member][~good[exp][member]["basin"].isin(skipped[exp])]
                    parts.append(_id_columns(kept.drop(columns=NAN_DAYS), exp, str(member.seed)))
                mismatch = _basin_mismatch(exp, good[exp]) if good[exp] else "no readable seed"
                if mismatch is None:
                    members = sorted(good[exp], key=lambda c: c.seed)
                    efut = client.submit(
                        _task,
                        ensemble_metrics,
                        exp.name,
                        members,
                        [keys[c] for c in members],
                        cache_dir,
                        key=f"ensemble-{exp.name}-{keys[members[0]]}",
                        pure=False,
                    )
                    futures[efut] = (exp, None)
                    ac.add(efut)
                else:
                    if good[exp]:
                        rep.problems.append(mismatch)
                        progress.log(f"skipped: {mismatch}")
                    bar.advance(info=exp.name)
    return parts


def _note_nan(cell: Cell, frame: pd.DataFrame, rep: CollectReport) -> None:
    """Name a cell's NaN basins (every one of them) in ``rep.nan`` and the log."""
    bad = frame.loc[frame[NAN_DAYS] > 0, "basin"].tolist()
    if bad:
        line = (
            f"cell {cell.label}: qsim is NaN on observed days for {len(bad)} of {len(frame)} "
            f"basin(s): {', '.join(bad)}"
        )
        rep.nan.append(line)
        progress.log(line)


def _skip_nan_basins(
    exp: Experiment, frames: dict[Cell, pd.DataFrame], rep: CollectReport
) -> set[str]:
    """The basins of ``exp`` that some seed simulates as NaN, counted in ``rep.skipped``."""
    skip = set()
    for frame in frames.values():
        skip |= set(frame.loc[frame[NAN_DAYS] > 0, "basin"])
    if skip:
        rep.skipped.setdefault(exp.name, set()).update(skip)
    return skip


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
        The experiment the others are compared with (default EP; see :func:`_check_baseline`).
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
    for line in found.diverged:
        progress.log(line)
    if found.unfinished:
        progress.log(
            f"{len(found.unfinished)} unfinished cell(s) skipped: "
            f"{', '.join(found.unfinished[:10])}" + (" ..." if len(found.unfinished) > 10 else "")
        )
    for problem in found.problems:
        progress.log(f"skipped: {problem}")
    if not found.cells:
        first = (found.diverged + found.problems)[:1]
        raise CollectError(
            f"{source}: no finished cells to collect ({len(found.unfinished)} unfinished, "
            f"{len(found.diverged)} diverged, {len(found.problems)} with problems"
            + (f": {first[0]}" if first else "; wait for the grid or check the path")
            + ")"
        )
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
    metrics = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(names)}
    metrics = metrics.sort_values(
        ["experiment", "member", "basin"],
        key=lambda c: c.map(order) if c.name == "experiment" else c,
        kind="stable",
        ignore_index=True,
    )
    shown = [n for n in names if n in set(metrics["experiment"])]
    val = _validation_metrics(client, groups, out, rep, order)
    files, chosen = selection.write_selection(groups, metrics, val, found.studies, found.root, out)
    rep.files += write_outputs(metrics, shown, (base, per_scenario, baseline), out, rep, chosen)
    rep.files += files
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
    return rep


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
    return pd.concat(parts, ignore_index=True).sort_values(
        ["experiment", "member", "basin"],
        key=lambda c: c.map(order) if c.name == "experiment" else c,
        kind="stable",
        ignore_index=True,
    )


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
