"""Collect's pass over the cells on Dask: every cell's task is submitted at once, and each
experiment's ensemble task as soon as all its cells are in (the tasks themselves are in
compute.py). A basin that any seed of an experiment simulates as NaN is named and left out of
that experiment; seeds with different basin sets are not ensembled."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from distributed import Client, Future, as_completed

from rvhpc import progress
from rvhpc.collect import report
from rvhpc.collect.compute import NAN_DAYS, cell_key, cell_metrics, ensemble_metrics
from rvhpc.collect.discover import Cell
from rvhpc.collect.experiment import Experiment
from rvhpc.collect.outputs import CollectReport
from rvhpc.errors import RvhpcError


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
        Changed in place: cells whose files cannot be keyed, and experiments left without
        cells, are removed.
    cache_dir : Path
    rep : CollectReport
        Gets the problems, NaN lines, skipped basins and cache counts.

    Returns
    -------
    list[pd.DataFrame]
        Per-basin metrics with their id columns, members and ensembles.

    Raises
    ------
    OSError
        A task could not write (a full or read-only disk), raised again here.
    """
    keys = _cell_keys(groups, rep)
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
            frame, computed = _result(fut, rep)
            if cell is None:  # an ensemble task
                bar.advance(info=exp.name)
                if frame is not None:
                    rep.ensembles_computed += int(computed)
                    parts.append(_rows(frame, skipped.get(exp, ()), exp, "ensemble"))
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
                    parts.append(_rows(good[exp][member], skipped[exp], exp, str(member.seed)))
                efut = _submit_ensemble(client, exp, good[exp], keys, cache_dir, rep)
                if efut is None:
                    bar.advance(info=exp.name)
                else:
                    futures[efut] = (exp, None)
                    ac.add(efut)
    return parts


def _cell_keys(groups: dict[Experiment, list[Cell]], rep: CollectReport) -> dict[Cell, str]:
    """Each cell's cache key; a cell without one is a problem and leaves ``groups``."""
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
    return keys


def _task(func, *args) -> tuple:
    """Run a task; an RvhpcError comes back as its message, so workers do not log it as a crash."""
    try:
        return func(*args), None
    except RvhpcError as exc:
        return None, str(exc)
    except OSError as exc:  # a full or read-only disk: raised again by the client, in one line
        return None, exc


def _result(fut: Future, rep: CollectReport) -> tuple[pd.DataFrame | None, bool]:
    """(frame, computed) of a finished task; its error is a problem (an OSError is raised)."""
    result, error = fut.result()
    if isinstance(error, OSError):
        raise error
    if error is not None:
        rep.problems.append(error)
        progress.log(f"skipped: {error}")
    return result if result is not None else (None, False)


def _rows(frame: pd.DataFrame, skip, exp: Experiment, member: str) -> pd.DataFrame:
    """metrics.parquet's rows of one member (or the ensemble), without the basins ``skip``."""
    kept = frame[~frame["basin"].isin(skip)]
    return _id_columns(kept.drop(columns=NAN_DAYS), exp, member)


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


def _submit_ensemble(
    client: Client,
    exp: Experiment,
    good: dict[Cell, pd.DataFrame],
    keys: dict[Cell, str],
    cache_dir: Path,
    rep: CollectReport,
) -> Future | None:
    """The ensemble task of an experiment whose cells are all in; None when there is none to run
    (no readable seed, or seeds with different basin sets: a problem)."""
    mismatch = _basin_mismatch(exp, good) if good else "no readable seed"
    if mismatch is not None:
        if good:
            rep.problems.append(mismatch)
            progress.log(f"skipped: {mismatch}")
        return None
    members = sorted(good, key=lambda c: c.seed)
    return client.submit(
        _task,
        ensemble_metrics,
        exp.name,
        members,
        [keys[c] for c in members],
        cache_dir,
        key=f"ensemble-{exp.name}-{keys[members[0]]}",
        pure=False,
    )


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
