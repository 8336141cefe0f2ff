"""The Dask tasks: per-basin metrics of one cell, and of one experiment's seed ensemble.

Both stream: a cell task holds one predictions file; an ensemble task holds a running sum of
qsim plus the file being added. Results are small DataFrames (basin + METRIC_NAMES + NAN_DAYS),
cached in ``RESULTS_DIR/cache`` under a key of the predictions files' (path, size, mtime_ns).

NAN_DAYS counts a basin's days with an observation but a non-finite simulation. The metrics skip
such days, so a basin the model predicted as NaN (a diverged seed) would otherwise be scored on
what is left, or not at all, without a word; collect names every such basin instead.

The basins a cell predicts are checked against its config (``Cell.expected``) after the cache,
so a config edited since the metrics were cached is checked too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.atomic import atomic_path
from rvhpc.collect.checks import check_predicted
from rvhpc.collect.discover import Cell
from rvhpc.collect.io import Series, read_predictions
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


def _basin_metrics(series: Series, qsim: np.ndarray | None = None) -> pd.DataFrame:
    qsim = series.qsim if qsim is None else qsim
    bad = ~np.isfinite(qsim) & np.isfinite(series.qobs)
    rows = [
        {
            "basin": basin,
            **all_metrics(series.qobs[rows], qsim[rows]),
            NAN_DAYS: int(bad[rows].sum()),
        }
        for basin, rows in series.basin_rows()
    ]
    return pd.DataFrame(rows, columns=["basin", *METRIC_NAMES, NAN_DAYS])


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
    key : str
        :func:`cell_key`.
    cache_dir : Path

    Returns
    -------
    (pd.DataFrame, bool)
        basin, METRIC_NAMES and NAN_DAYS per basin.

    Raises
    ------
    CollectError
        Unreadable predictions, or basins other than its config says (:func:`check_predicted`).
    """
    path = Path(cache_dir) / "cells" / f"{key}.parquet"
    frame = _cached(path)
    computed = frame is None or NAN_DAYS not in frame
    if computed:
        frame = _basin_metrics(read_predictions(cell.predictions, cell.label))
        _store(path, frame)
    check_predicted(cell, frame["basin"])
    return frame, computed


def ensemble_metrics(
    name: str, cells: list[Cell], keys: list[str], cache_dir: Path
) -> tuple[pd.DataFrame, bool]:
    """Per-basin metrics of the mean hydrograph over ``cells`` (one experiment's seeds).

    Streams over the seeds with a running sum of qsim aligned on (basin, date).

    Parameters
    ----------
    name : str
        The experiment, for messages.
    cells : list[Cell]
    keys : list[str]
        The cells' :func:`cell_key`.
    cache_dir : Path

    Returns
    -------
    (pd.DataFrame, bool)
        As :func:`cell_metrics`.

    Raises
    ------
    CollectError
        The seeds differ in basins, days or observed discharge.
    """
    path = Path(cache_dir) / "ensembles" / f"{ensemble_key(keys)}.parquet"
    frame = _cached(path)
    if frame is not None and NAN_DAYS in frame:
        return frame, False
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
            raise CollectError(
                f"experiment {name}: cells {first.label} and {cell.label} differ in {what}; "
                f"not ensembled (rerun the odd cell on the same store)"
            )
        total += series.qsim
        del series
    assert ref is not None and total is not None
    total /= len(cells)
    frame = _basin_metrics(ref, total)
    _store(path, frame)
    return frame, True
