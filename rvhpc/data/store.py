"""The HDF5 basin store: one file per data set holding every basin's full daily series on one
date axis, the dataset's named inputs and descriptors, attributes, training scalers and provenance
(format: docs/architecture.md; built by rvhpc/data/prepare.py and writer.py).

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

from rvhpc.data import storeattrs
from rvhpc.data.datasets.base import TARGET
from rvhpc.data.prepare import prepare, stored_fingerprint
from rvhpc.data.storesum import mapped, verify_checksums
from rvhpc.data.writer import FORMAT_VERSION
from rvhpc.errors import DataError, StoreError

__all__ = [
    "FORMAT_VERSION",
    "BasinStore",
    "open_store",
    "prepare_store",
    "store_fingerprint",
]
_EPOCH = pd.Timestamp("1970-01-01")
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
    train_period: tuple[str, str] = ("1999-10-01", "2008-09-30"),
    eval_period: tuple[str, str] = ("1989-10-01", "1999-09-30"),
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


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise StoreError(f"{path}: store not found; build it with `rvhpc data prepare`")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(
            f"{path}: not a readable HDF5 store ({exc}); rebuild it with `rvhpc data prepare`"
        ) from None
    version = f.attrs.get("format_version")
    if version is None or int(version) != FORMAT_VERSION:
        f.close()
        raise StoreError(
            f"{path}: store format {version} is not {FORMAT_VERSION}; rerun `rvhpc data prepare`"
        )
    try:
        verify_checksums(f, path)
    except BaseException:
        f.close()
        raise
    return f


def _dates(f: h5py.File) -> pd.DatetimeIndex:
    return _EPOCH + pd.to_timedelta(f["dates"][:].astype(np.int64), unit="D")


def _text(ds: h5py.Dataset) -> list[str]:
    return [b.decode() if isinstance(b, bytes) else str(b) for b in ds[:]]


def _series(f: h5py.File, path: Path, name: str) -> np.ndarray:
    """A big dataset as a copy-on-write memory map (in memory for an empty store)."""
    view = mapped(f[name], path, mode="c")
    return f[name][()] if view is None else view


def _slice(f, path, period, warmup) -> tuple[int, int, tuple, tuple, pd.DatetimeIndex]:
    all_dates = _dates(f)
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
    """
    path = Path(path)
    with _open(path) as f:
        lo, hi, train, evaluation, all_dates = _slice(f, path, period, warmup)
        return BasinStore(
            path=path,
            basins=_text(f["basins"]),
            dates=all_dates[lo:hi],
            forcing=_series(f, path, "forcing")[:, lo:hi, :],
            qobs=_series(f, path, "qobs")[:, lo:hi],
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
            descriptor_names=_text(f["descriptor_names"]),
            dataset=str(f.attrs["dataset"]),
        )


def store_info(path: str | os.PathLike) -> dict:
    """A summary of a store (what ``rvhpc data info`` shows), without loading the series."""
    path = Path(path)
    with _open(path) as f:
        dates = _dates(f)
        q = _series(f, path, "qobs")
        missing = sum(int(np.isnan(q[i : i + 256]).sum()) for i in range(0, len(q), 256))
        basins = _text(f["basins"])
        return dict(
            path=str(path),
            format_version=int(f.attrs["format_version"]),
            dataset=str(f.attrs["dataset"]),
            forcing=str(f.attrs["forcing"]),
            inputs=[str(n) for n in f.attrs["dynamic_inputs"]],
            descriptors=_text(f["descriptor_names"]),
            basins=len(basins),
            first_basins=basins[:5],
            dates=(str(dates[0].date()), str(dates[-1].date()), len(dates)),
            train_period=tuple(f.attrs["train_period"]),
            eval_period=tuple(f.attrs["eval_period"]),
            missing_qobs=missing / max(1, q.size),
            file_bytes=path.stat().st_size,
            x_mean=f["scalers/x_mean"][:].tolist(),
            x_std=f["scalers/x_std"][:].tolist(),
            y_mean=float(f["scalers/y_mean"][()]),
            y_std=float(f["scalers/y_std"][()]),
            fingerprint=str(f.attrs["fingerprint"]),
            provenance=json.loads(f.attrs["provenance"]),
            attributes=list(f["attributes"].keys()),
        )


def store_attributes(path: str | os.PathLike) -> pd.DataFrame:
    """Every stored attribute column of every basin (index ``gauge_id``, store order); missing
    values come back missing (NaN), text as written."""
    path = Path(path)
    with _open(path) as f:
        return storeattrs.read_attributes(f, _text(f["basins"]))


def basin_series(path: str | os.PathLike, basin: str) -> tuple[pd.DataFrame, pd.Series]:
    """One basin's stored daily series (date index, the inputs under the dataset's own names,
    ``qobs(mm/day)``) and its descriptors."""
    path = Path(path)
    with _open(path) as f:
        basins = _text(f["basins"])
        if basin not in basins:
            raise StoreError(
                f"{path}: basin {basin!r} is not in the store ({len(basins)} basins, "
                f"e.g. {', '.join(basins[:3])})"
            )
        i = basins.index(basin)
        frame = pd.DataFrame(
            f["forcing"][i],
            index=pd.DatetimeIndex(_dates(f), name="date"),
            columns=[str(n) for n in f.attrs["dynamic_inputs"]],
        )
        frame[TARGET] = f["qobs"][i]
        names = _text(f["descriptor_names"])
        descriptors = pd.Series(f["descriptors"][i], index=names, name=basin)
    return frame, descriptors
