"""The HDF5 basin store: one file per data set holding every basin's full daily series on one
date axis, the dataset's named inputs and descriptors, attributes, training scalers and provenance
(format: docs/architecture.md; built by rvhpc/data/prepare.py and writer.py; read through
rvhpc/data/storeread.py; summaries without opening it in rvhpc/data/storeinfo.py).

:func:`open_store` maps the series instead of copying them: ``forcing`` and ``qobs`` are
contiguous, unfiltered datasets, so every process on a node that opens the store (DDP ranks,
packed members, array tasks) reads the same page-cache pages: the data are in memory once per node
(measured in benchmarks/scale_store.py). The mapping is copy-on-write, so a process that changes
its arrays changes only its own copy, never the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc.data.prepare import prepare, stored_fingerprint
from rvhpc.data.storeread import open_checked, stored_dates, stored_series, stored_text
from rvhpc.data.writer import FORMAT_VERSION
from rvhpc.errors import DataError, StoreError
from rvhpc.periods import PAPER_EVAL_PERIOD, PAPER_TRAIN_PERIOD

__all__ = [
    "FORMAT_VERSION",
    "BasinStore",
    "open_store",
    "prepare_store",
    "store_fingerprint",
]
store_fingerprint = stored_fingerprint


@dataclass
class BasinStore:
    """A store (or a day slice of it) opened for use; see docs/architecture.md.

    ``forcing`` [rows, days, inputs] and ``qobs`` [rows, days] hold the store's rows (memory-mapped
    when opened from a file); ``rows[i]`` is the row of ``basins[i]`` (None: row i), so a view of
    some basins (rvhpc.data.select) shares the arrays instead of copying them.
    """

    path: Path
    basins: list[str]
    dates: pd.DatetimeIndex
    forcing: np.ndarray
    qobs: np.ndarray
    descriptors: np.ndarray
    area_m2: np.ndarray
    train_period: tuple[pd.Timestamp, pd.Timestamp]
    eval_period: tuple[pd.Timestamp, pd.Timestamp]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    q_std: np.ndarray
    provenance: dict = field(repr=False)
    fingerprint: str = ""
    inputs: list[str] = field(default_factory=list)
    descriptor_names: list[str] = field(default_factory=list)
    dataset: str = "camels_us"
    rows: np.ndarray | None = field(default=None, repr=False)

    def day_index(self, date) -> int:
        """Index of ``date`` on this store's (possibly sliced) date axis."""
        day = (pd.Timestamp(date).normalize() - self.dates[0]).days
        if not 0 <= day < len(self.dates):
            raise DataError(
                f"{self.path}: date {pd.Timestamp(date).date()} is outside the loaded days "
                f"{self.dates[0].date()}..{self.dates[-1].date()}"
            )
        return int(day)

    @property
    def n_inputs(self) -> int:
        """Dynamic inputs per day (the models' input width)."""
        return int(self.forcing.shape[2])

    def row_index(self) -> np.ndarray:
        """int64 [n_basins]: the array row of each basin."""
        if self.rows is None:
            return np.arange(len(self.basins), dtype=np.int64)
        return np.asarray(self.rows, dtype=np.int64)

    def series(self, sel: slice | np.ndarray = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """(forcing, qobs) of the basins ``sel`` (of this view), in basin order: a copy when the
        view selects rows, else the arrays themselves."""
        if self.rows is None:
            return self.forcing[sel], self.qobs[sel]
        rows = self.row_index()[sel]
        return self.forcing[rows], self.qobs[rows]

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this store refers to."""
        return sum(
            a.nbytes for a in (self.forcing, self.qobs, self.descriptors, self.area_m2, self.q_std)
        )


def prepare_store(
    root: str | os.PathLike | list,
    basin_file: str | os.PathLike,
    out: str | os.PathLike,
    forcing: str | None = None,
    train_period: tuple[str, str] = PAPER_TRAIN_PERIOD,
    eval_period: tuple[str, str] = PAPER_EVAL_PERIOD,
    dataset: str = "camels_us",
    before_rebuild: Callable[[Path], None] | None = None,
    **options,
) -> Path:
    """:func:`rvhpc.data.prepare.prepare` of ``open_dataset(dataset, root, basin_file, ...)``.

    Parameters
    ----------
    root : the dataset root (a list for several: Caravan and its extensions)
    basin_file : the basin list
    out : the HDF5 file to write
    forcing : CAMELS US forcing product (default maurer_extended)
    train_period, eval_period : (first day, last day), inclusive
    dataset : a name of rvhpc.data.datasets.DATASETS
    before_rebuild : called with ``out`` before a readable store built from other inputs is
        replaced; it may raise to keep the store (``rvhpc.data.ensure`` refuses to rebuild a store
        that finished runs were trained on)
    options : ``format``, ``inputs``, ``descriptors``, ``batch``, ``workers``
    """
    from rvhpc.data.datasets import open_dataset

    batch, workers = options.pop("batch", None), options.pop("workers", None)
    if forcing is not None:
        options["forcing"] = forcing
    source = open_dataset(dataset, root, basin_file, **options)
    return prepare(
        source,
        out,
        train_period,
        eval_period,
        batch=batch,
        workers=workers,
        before_rebuild=before_rebuild,
    )


def _slice(
    f: h5py.File, path: Path, period, warmup: int
) -> tuple[int, int, tuple, tuple, pd.DatetimeIndex]:
    """The day rows [lo, hi) of ``period`` (with ``warmup`` days before it), the two stored
    periods and the whole day axis."""
    all_dates = stored_dates(f)
    train = tuple(pd.Timestamp(d) for d in f.attrs["train_period"])
    evaluation = tuple(pd.Timestamp(d) for d in f.attrs["eval_period"])
    lo, hi = 0, len(all_dates)
    if period is not None:
        if isinstance(period, str):
            if period not in ("train", "eval"):
                raise StoreError(f"unknown store period {period!r}: use 'train', 'eval' or None")
            start, end = train if period == "train" else evaluation
        else:
            start, end = (pd.Timestamp(p) for p in period)
        if start < all_dates[0] or end > all_dates[-1] or start > end:
            raise DataError(
                f"{path}: period {start.date()}..{end.date()} is outside the stored days "
                f"{all_dates[0].date()}..{all_dates[-1].date()}"
            )
        lo = max(0, (start - all_dates[0]).days - int(warmup))
        hi = (end - all_dates[0]).days + 1
    return lo, hi, train, evaluation, all_dates


def open_store(
    path: str | os.PathLike, period: str | tuple | None = None, warmup: int = 0
) -> BasinStore:
    """Open a store (its series memory-mapped, see the module docstring) and close the file.

    Parameters
    ----------
    path : the store file
    period : None for all days, ``"train"`` / ``"eval"`` (or a (start, end) pair) for only the days
        [start - warmup, end] (clipped at the first day of the data)
    warmup : days before the period start to include as well (seq_length - 1 for windows)

    Returns
    -------
    BasinStore

    Raises
    ------
    StoreError
        The store is missing, unreadable, of another format or altered
        (:func:`rvhpc.data.storeread.open_checked`), or ``period`` is not a known name.
    DataError
        ``period`` lies outside the stored days.
    """
    path = Path(path)
    with open_checked(path) as f:
        lo, hi, train, evaluation, all_dates = _slice(f, path, period, warmup)
        return BasinStore(
            path=path,
            basins=stored_text(f["basins"]),
            dates=all_dates[lo:hi],
            forcing=stored_series(f, path, "forcing")[:, lo:hi, :],
            qobs=stored_series(f, path, "qobs")[:, lo:hi],
            descriptors=f["descriptors"][:],
            area_m2=f["area_m2"][:],
            train_period=train,
            eval_period=evaluation,
            x_mean=f["scalers/x_mean"][:],
            x_std=f["scalers/x_std"][:],
            y_mean=float(f["scalers/y_mean"][()]),
            y_std=float(f["scalers/y_std"][()]),
            q_std=f["scalers/q_std"][:],
            provenance=json.loads(f.attrs["provenance"]),
            fingerprint=str(f.attrs["fingerprint"]),
            inputs=[str(n) for n in f.attrs["dynamic_inputs"]],
            descriptor_names=stored_text(f["descriptor_names"]),
            dataset=str(f.attrs["dataset"]),
        )
