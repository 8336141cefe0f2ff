"""The original code's input and output scalers, recomputed from a store.

rvhpc standardises with the store's scalers: mean and std (ddof=0) over the *training samples*
(training-period days with observed discharge and complete inputs). The original code
(``calculate_mean_and_std`` in its ``papercode/datautils.py``, written to its ``data/SCALER.p``)
took pandas' mean and std (ddof=1) over *every* training-period day of the basin list: the
forcing of every day, and the discharge of every day with the missing ones (``-999`` cfs) left in,
converted to mm/day like any other value, ``-999 * 28316846.592 * 86400 / (area * 1e6)``, a large
negative number. Those days pull its output mean down and blow its output std up.

``output_stats: original`` (a training option) trains and scores with the original's output
mean/std; :func:`original_input_stats` serves ``rvhpc evaluate --reference-run``, which must feed
an original model the inputs it was trained on. Both are computed from the store's float32 series,
so they match the original's float64 values to about 1e-7 relative, not bit for bit; every NaN
discharge day of the training period counts as a missing (-999) day (the original would stop at a
day absent from the file).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.data.store import BasinStore
from rvhpc.errors import ConfigError

#: values of the ``output_stats`` training option
OUTPUT_STATS = ("observed", "original")
#: the original's marker of a missing discharge day, in cubic feet per second
MISSING_CFS = -999.0


def _train_slice(store: BasinStore) -> slice:
    start, end = store.train_period
    return slice(store.day_index(start), store.day_index(end) + 1)


def missing_mm_per_day(area_m2: np.ndarray) -> np.ndarray:
    """-999 cfs in mm/day per basin, with the original's expression and operation order."""
    return 28316846.592 * MISSING_CFS * 86400 / (np.asarray(area_m2, dtype=np.float64) * 10**6)


def original_output_stats(store: BasinStore) -> tuple[float, float]:
    """The original's output (mean, std): pandas over every training-period day of every basin,
    missing days as -999 cfs in mm/day. ``store`` must hold the training period."""
    days = _train_slice(store)
    q = np.asarray(store.series()[1][:, days], dtype=np.float64)
    q = np.where(np.isnan(q), missing_mm_per_day(store.area_m2)[:, None], q)
    series = pd.Series(q.reshape(-1))  # basin after basin, as the original's pd.concat
    return float(series.mean()), float(series.std())


def original_input_stats(store: BasinStore) -> tuple[np.ndarray, np.ndarray]:
    """The original's input (means, stds): pandas over every training-period day of every basin
    (NaN skipped, ddof=1), in the store's input order. ``store`` must hold the training period."""
    days = _train_slice(store)
    x = np.asarray(store.series()[0][:, days, :], dtype=np.float64).reshape(-1, store.n_inputs)
    frame = pd.DataFrame(x)
    return frame.mean().to_numpy(np.float64), frame.std().to_numpy(np.float64)


def output_stats(store: BasinStore, kind: str) -> tuple[float, float]:
    """Output (mean, std) of ``kind``: ``observed`` (the store's) or ``original``.

    Raises
    ------
    ConfigError
        An unknown kind.
    """
    if kind == "observed":
        return float(store.y_mean), float(store.y_std)
    if kind == "original":
        return original_output_stats(store)
    raise ConfigError(f"output_stats {kind!r}: choose one of {', '.join(OUTPUT_STATS)}")


def use_output_stats(store: BasinStore, stats: tuple[float, float]) -> BasinStore:
    """Set the store's output scaler (everything downstream reads ``y_mean``/``y_std``)."""
    store.y_mean, store.y_std = float(stats[0]), float(stats[1])
    return store
