"""The seed ensemble of a few run directories: the mean hydrograph over the seeds, scored per
basin. A search trial reports the median NSE of its ensemble over the validation period; collect
computes the same numbers with Dask (rvhpc.collect.compute), summing the seeds in the same order,
so the two agree to the last bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.errors import DataError
from rvhpc.evaluation.metrics import all_metrics


def ensemble_nse(paths: list[Path]) -> pd.Series:
    """Per-basin NSE (index: basin id) of the mean qsim over the predictions files ``paths``.

    Raises
    ------
    DataError
        A file is unreadable, or the files differ in basins, days or observed discharge.
    """
    ref: pd.DataFrame | None = None
    total: np.ndarray | None = None
    for path in paths:
        try:
            frame = pd.read_parquet(path, columns=["basin", "date", "qobs", "qsim"])
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable predictions ({type(exc).__name__})") from None
        frame = frame.sort_values(["basin", "date"], kind="stable", ignore_index=True)
        if ref is None:
            ref, total = frame, frame["qsim"].to_numpy(np.float64).copy()
            continue
        same = frame["basin"].equals(ref["basin"]) and frame["date"].equals(ref["date"])
        if not same or not np.array_equal(frame["qobs"], ref["qobs"], equal_nan=True):
            raise DataError(
                f"{path} and {paths[0]} differ in basins, days or observed discharge: "
                "their seeds cannot be ensembled"
            )
        total += frame["qsim"].to_numpy(np.float64)
    if ref is None or total is None:
        raise DataError("no predictions to ensemble")
    total /= len(paths)
    qobs = ref["qobs"].to_numpy(np.float64)
    out = {}
    bounds = np.flatnonzero(
        np.r_[True, ref["basin"].to_numpy()[1:] != ref["basin"].to_numpy()[:-1]]
    )
    ends = np.r_[bounds[1:], len(ref)]
    for start, end in zip(bounds, ends, strict=True):
        out[ref["basin"].iat[start]] = all_metrics(qobs[start:end], total[start:end])["NSE"]
    return pd.Series(out, name="NSE", dtype=np.float64)


def ensemble_median_nse(paths: list[Path]) -> float:
    """The median over basins of :func:`ensemble_nse` (NaN when no basin has an NSE)."""
    nse = ensemble_nse(paths)
    return float(np.nanmedian(nse)) if nse.notna().any() else float("nan")
