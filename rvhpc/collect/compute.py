"""The Dask tasks: per-basin metrics of one cell, and of one experiment's seed ensemble.

Both stream basin by basin (:func:`rvhpc.collect.io.iter_basins`): a cell task holds one basin of
one file, an ensemble task one basin of each seed's file, read in lockstep. So a task's memory
does not grow with the basins or days of a cell (22,000 basins x 10 years would be 2.6 GB per
file read whole). Files whose basins are not contiguous, or seeds whose files list the basins in
another order, are read whole as before; both ways give the same bits. Results are small
DataFrames (basin + METRIC_NAMES + NAN_DAYS, rows sorted by basin id), cached in
``RESULTS_DIR/cache`` under a key of the predictions files' (path, size, mtime_ns).

NAN_DAYS counts a basin's days with an observation but a non-finite simulation. The metrics skip
such days, so a basin the model predicted as NaN (a diverged seed) would otherwise be scored on
what is left, or not at all, without a word; collect names every such basin instead.

The basins a cell predicts are checked against its config (``Cell.expected``) after the cache,
so a config edited since the metrics were cached is checked too.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack, closing
from itertools import zip_longest
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.atomic import atomic_path
from rvhpc.collect.checks import check_predicted
from rvhpc.collect.discover import Cell
from rvhpc.collect.io import NotGrouped, Series, iter_basins, read_predictions
from rvhpc.errors import CollectError
from rvhpc.evaluation.metrics import METRIC_NAMES, all_metrics

#: bump when metrics or the cache layout change, so old cache entries are ignored
CACHE_VERSION = 2
#: per basin: days observed but simulated as NaN or infinite (0 for a sound prediction)
NAN_DAYS = "nan_days"


def cell_key(cell: Cell) -> str:
    """Cache key of a cell: its predictions file's resolved path, size and mtime_ns.

    Parameters
    ----------
    cell : Cell

    Returns
    -------
    str

    Raises
    ------
    CollectError
        The predictions file is missing.
    """
    try:
        st = cell.predictions.stat()
    except OSError:
        raise CollectError(
            f"cell {cell.label}: predictions.parquet is missing although DONE exists; "
            f"rerun the cell (delete its DONE)"
        ) from None
    text = f"v{CACHE_VERSION}|{cell.predictions.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:24]


def ensemble_key(member_keys: list[str]) -> str:
    """Cache key of an ensemble: its members' keys.

    Parameters
    ----------
    member_keys : list of str

    Returns
    -------
    str
    """
    return hashlib.sha1(
        f"v{CACHE_VERSION}|".encode() + "|".join(sorted(member_keys)).encode()
    ).hexdigest()[:24]


def _row(basin: str, qobs: np.ndarray, qsim: np.ndarray) -> dict:
    """One basin's metrics and NAN_DAYS (days observed but simulated as NaN or infinite)."""
    bad = int((~np.isfinite(qsim) & np.isfinite(qobs)).sum())
    return {"basin": basin, **all_metrics(qobs, qsim), NAN_DAYS: bad}


def _basin_metrics(series: Series, qsim: np.ndarray | None = None) -> pd.DataFrame:
    qsim = series.qsim if qsim is None else qsim
    rows = [_row(b, series.qobs[rows], qsim[rows]) for b, rows in series.basin_rows()]
    return pd.DataFrame(rows, columns=["basin", *METRIC_NAMES, NAN_DAYS])


def _sorted_frame(rows: list[dict]) -> pd.DataFrame:
    """Per-basin rows in the order :func:`read_predictions` gives basins (ids sorted as str)."""
    order = np.argsort(np.array([r["basin"] for r in rows], dtype=str)) if rows else []
    return pd.DataFrame([rows[i] for i in order], columns=["basin", *METRIC_NAMES, NAN_DAYS])


def _cached(path: Path) -> pd.DataFrame | None:
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception:  # a damaged cache entry is recomputed, never trusted
            return None
    return None


def _store(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def cell_metrics(cell: Cell, key: str, cache_dir: Path) -> tuple[pd.DataFrame, bool]:
    """Per-basin metrics of one cell and whether they were computed (False: read from the cache).

    Parameters
    ----------
    cell : Cell
        A finished cell.
    key : str
        Its cache key (:func:`cell_key`).
    cache_dir : Path
        ``RESULTS_DIR/cache``.

    Returns
    -------
    (pd.DataFrame, bool)
        basin, METRIC_NAMES and NAN_DAYS per basin, sorted by id; True when computed now.

    Raises
    ------
    CollectError
        Unreadable predictions, or basins other than its config says (:func:`check_predicted`).
    """
    path = Path(cache_dir) / "cells" / f"{key}.parquet"
    frame = _cached(path)
    computed = frame is None or NAN_DAYS not in frame
    if computed:
        try:
            rows = [_row(b.name, b.qobs, b.qsim) for b in iter_basins(cell.predictions, cell.label)]
            frame = _sorted_frame(rows)
        except NotGrouped:  # a file not written basin by basin: read it whole
            frame = _basin_metrics(read_predictions(cell.predictions, cell.label))
        _store(path, frame)
    check_predicted(cell, frame["basin"])
    return frame, computed


def ensemble_metrics(
    name: str, cells: list[Cell], keys: list[str], cache_dir: Path
) -> tuple[pd.DataFrame, bool]:
    """Per-basin metrics of the mean hydrograph over ``cells`` (one experiment's seeds).

    Reads the seeds' files in lockstep, basin by basin, summing qsim aligned on (basin, date).

    Parameters
    ----------
    name : str
        The experiment, for messages.
    cells : list[Cell]
        Its seeds, in the order their qsim is summed.
    keys : list[str]
        Their cache keys (:func:`cell_key`).
    cache_dir : Path
        ``RESULTS_DIR/cache``.

    Returns
    -------
    (pd.DataFrame, bool)
        As :func:`cell_metrics`, for the ensemble.

    Raises
    ------
    CollectError
        The seeds differ in basins, days or observed discharge.
    """
    path = Path(cache_dir) / "ensembles" / f"{ensemble_key(keys)}.parquet"
    frame = _cached(path)
    if frame is not None and NAN_DAYS in frame:
        return frame, False
    try:
        frame = _stream_ensemble(name, cells)
    except NotGrouped:  # basins not contiguous, or in another order in some seed: read whole
        frame = _whole_ensemble(name, cells)
    _store(path, frame)
    return frame, True


def _differ(name: str, first: Cell, other: Cell, what: str) -> CollectError:
    return CollectError(
        f"experiment {name}: cells {first.label} and {other.label} differ in {what}; "
        f"not ensembled (rerun the odd cell on the same store)"
    )


def _stream_ensemble(name: str, cells: list[Cell]) -> pd.DataFrame:
    """The seeds' files read in lockstep, one basin of each at a time; NotGrouped when their
    basins do not line up (then :func:`_whole_ensemble` decides what differs)."""
    rows = []
    with ExitStack() as stack:
        streams = [
            stack.enter_context(closing(iter_basins(c.predictions, c.label, with_dates=True)))
            for c in cells
        ]
        for blocks in zip_longest(*streams):
            if any(b is None or b.name != blocks[0].name for b in blocks):
                raise NotGrouped(name)
            ref, total = blocks[0], blocks[0].qsim.copy()
            for cell, block in zip(cells[1:], blocks[1:], strict=True):
                if not np.array_equal(block.dates, ref.dates):
                    raise _differ(name, cells[0], cell, "days")
                if not np.array_equal(block.qobs, ref.qobs, equal_nan=True):
                    raise _differ(name, cells[0], cell, "observed discharge")
                total += block.qsim
            total /= len(cells)
            rows.append(_row(ref.name, ref.qobs, total))
    return _sorted_frame(rows)


def _whole_ensemble(name: str, cells: list[Cell]) -> pd.DataFrame:
    """The ensemble with each seed's file read whole (a running sum of qsim over the seeds)."""
    ref: Series | None = None
    total: np.ndarray | None = None
    for cell in cells:
        series = read_predictions(cell.predictions, cell.label, with_dates=True)
        if ref is None:
            ref, total, first = series, series.qsim.copy(), cell
            continue
        what = None
        if series.basins != ref.basins:
            what = "basin sets"
        elif not (
            np.array_equal(series.bounds, ref.bounds) and np.array_equal(series.dates, ref.dates)
        ):
            what = "days"
        elif not np.array_equal(series.qobs, ref.qobs, equal_nan=True):
            what = "observed discharge"
        if what:
            raise _differ(name, first, cell, what)
        total += series.qsim
        del series
    assert ref is not None and total is not None
    total /= len(cells)
    return _basin_metrics(ref, total)
