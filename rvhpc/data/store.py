"""The HDF5 basin store: one file per data set holding every basin's full daily series on one
date axis, attributes, descriptors, training scalers and provenance.

:func:`prepare_store` is safe to run from many processes at once (a file lock; one builds, the
others wait and reuse), never shows a half-written file under the final name (temp file +
``rvhpc.atomic.atomic_path``), and rebuilds when the fingerprint of its inputs changed.
:func:`open_store` loads into memory only the days a run needs and closes the file.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from filelock import FileLock

from rvhpc import progress
from rvhpc.atomic import atomic_path
from rvhpc.data.build import FORMAT_VERSION, build_store, resolve_inputs
from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
from rvhpc.data.check import check_tree
from rvhpc.data.storesum import checksums_ok, verify_checksums, write_checksums
from rvhpc.errors import DataError, StoreError
from rvhpc.periods import parse_period

__all__ = [
    "FORMAT_VERSION",
    "BasinStore",
    "open_store",
    "prepare_store",
    "store_fingerprint",
    "DYNAMIC_INPUTS",
    "DESCRIPTORS",
]
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass
class BasinStore:
    """A store (or a day slice of it) loaded into memory; see docs/architecture.md."""

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
    def nbytes(self) -> int:
        """Bytes held by the arrays of this store."""
        return sum(
            a.nbytes for a in (self.forcing, self.qobs, self.descriptors, self.area_m2, self.q_std)
        )


def store_fingerprint(path: str | os.PathLike) -> str | None:
    """The fingerprint of an existing, readable store of this format, else None."""
    try:
        with h5py.File(path, "r") as f:
            if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
                return None
            return str(f.attrs["fingerprint"])
    except (OSError, KeyError):
        return None


def prepare_store(
    camels_root: str | os.PathLike,
    basin_file: str | os.PathLike,
    out: str | os.PathLike,
    forcing: str = "maurer_extended",
    train_period: tuple[str, str] = ("1999-10-01", "2008-09-30"),
    eval_period: tuple[str, str] = ("1989-10-01", "1999-09-30"),
    before_rebuild: Callable[[Path], None] | None = None,
) -> Path:
    """Build the store ``out`` from a CAMELS US tree, or reuse it when its inputs are unchanged.

    Before a build, the checks of ``rvhpc data check`` run on what is read (the files are read
    once): errors stop the build with a DataError, warnings are logged.

    Parameters
    ----------
    camels_root : folder holding basin_mean_forcing/, usgs_streamflow/, camels_attributes_v2.0/
    basin_file : text file with one 8-digit basin id per line
    out : the HDF5 file to write
    forcing : forcing product folder (camels.FORCINGS)
    train_period, eval_period : (first day, last day), inclusive
    before_rebuild : called with ``out`` before a readable store built from other inputs is
        replaced; it may raise to keep the store (``rvhpc.data.ensure`` refuses to rebuild a store
        that finished runs were trained on)

    Returns
    -------
    The path of the (new or reused) store.
    """
    out = Path(out)
    if out.is_dir():
        raise StoreError(
            f"--out {out} is a folder; give the store's file name, e.g. {out}/store.h5"
        )
    for name, period in (("train", train_period), ("eval", eval_period)):
        try:
            parse_period(period)
        except ValueError as exc:
            raise DataError(f"{name} period {list(period)!r}: {exc}") from None
    args = (camels_root, basin_file, forcing, train_period, eval_period)
    try:
        inputs = resolve_inputs(*args)
    except DataError:  # a missing file: the checks name every one of them
        check_tree(*args).raise_for_errors(_check_command(*args))
        raise
    fingerprint = inputs.fingerprint()
    if _reusable(out, fingerprint):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = Path(str(out) + ".lock")
    try:  # FileLock would wait forever for a lock file it cannot create (/proc, a read-only dir)
        os.close(os.open(lock, os.O_WRONLY | os.O_CREAT, 0o666))
    except OSError as exc:
        raise StoreError(
            f"--out {out}: cannot create the lock file {lock} ({exc.strerror}); "
            "write the store into a folder you can write to"
        ) from None
    with FileLock(str(lock)):
        # another process may have built it while we waited for the lock
        if _reusable(out, fingerprint):
            progress.log(f"reusing {out} (built by another process)")
            return out
        if out.exists() and store_fingerprint(out) == fingerprint:
            progress.log(f"{out}: its contents do not match their checksums: rebuilding it")
        if before_rebuild is not None and store_fingerprint(out) not in (None, fingerprint):
            before_rebuild(out)
        report = check_tree(*args)
        for finding in report.warnings:
            progress.log(f"warning: {finding.message}")
        for finding in report.errors:
            progress.log(f"error: {finding.message}")
        report.raise_for_errors(_check_command(*args))
        with atomic_path(out) as tmp:
            progress.log(f"building {out} from {inputs.root} ({len(inputs.basins)} basins)")
            build_store(inputs, tmp, fingerprint, report.data, report.attributes)
            write_checksums(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
    return out


def _reusable(out: Path, fingerprint: str) -> bool:
    """The store exists, was built from these inputs, and its contents match their checksums."""
    return out.exists() and store_fingerprint(out) == fingerprint and checksums_ok(out)


def _check_command(root, basin_file, forcing, train_period, eval_period) -> str:
    """The ``rvhpc data check`` command line that reports on these inputs."""
    return shlex.join(
        [
            "rvhpc", "data", "check", "--camels-root", str(root), "--basins", str(basin_file),
            "--forcing", forcing, "--train-start", str(train_period[0]),
            "--train-end", str(train_period[1]), "--eval-start", str(eval_period[0]),
            "--eval-end", str(eval_period[1]),
        ]
    )  # fmt: skip


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


def open_store(
    path: str | os.PathLike, period: str | tuple | None = None, warmup: int = 0
) -> BasinStore:
    """Load a store into memory and close the file.

    Parameters
    ----------
    path : the store file
    period : None for all days, ``"train"`` / ``"eval"`` (or a (start, end) pair) for only the days
        [start - warmup, end] (clipped at the first day of the data)
    warmup : days before the period start to load as well (seq_length - 1 for windows)
    """
    path = Path(path)
    with _open(path) as f:
        all_dates = _dates(f)
        train = tuple(pd.Timestamp(d) for d in f.attrs["train_period"])
        evaluation = tuple(pd.Timestamp(d) for d in f.attrs["eval_period"])
        lo, hi = 0, len(all_dates)
        if period is not None:
            if isinstance(period, str):
                if period not in ("train", "eval"):
                    raise StoreError(
                        f"unknown store period {period!r}: use 'train', 'eval' or None"
                    )
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
        return BasinStore(
            path=path,
            basins=[b.decode() for b in f["basins"][:]],
            dates=all_dates[lo:hi],
            forcing=f["forcing"][:, lo:hi, :],
            qobs=f["qobs"][:, lo:hi],
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
        )


def store_info(path: str | os.PathLike) -> dict:
    """A summary of a store (what ``rvhpc data info`` shows), without loading the series."""
    path = Path(path)
    with _open(path) as f:
        dates = _dates(f)
        q = f["qobs"]
        return dict(
            path=str(path),
            format_version=int(f.attrs["format_version"]),
            forcing=str(f.attrs["forcing"]),
            basins=len(f["basins"]),
            first_basins=[b.decode() for b in f["basins"][:5]],
            dates=(str(dates[0].date()), str(dates[-1].date()), len(dates)),
            train_period=tuple(f.attrs["train_period"]),
            eval_period=tuple(f.attrs["eval_period"]),
            missing_qobs=float(np.isnan(q[:]).mean()),
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
        basins = [b.decode() for b in f["basins"][:]]
        group = f["attributes"]
        columns = {}
        for name in group.attrs.get("columns", sorted(group.keys())):
            ds = group[name]
            if h5py.check_string_dtype(ds.dtype) is None:
                columns[name] = ds[:].astype(np.float64)
                continue
            text = ds.asstr()[:]
            missing = ds.attrs.get("missing", np.zeros(len(text), np.uint8)).astype(bool)
            columns[name] = pd.Series(
                [None if m else t for t, m in zip(text.tolist(), missing, strict=True)],
                dtype=object,
            ).to_numpy()
    return pd.DataFrame(columns, index=pd.Index(basins, name="gauge_id"))


def basin_series(path: str | os.PathLike, basin: str) -> tuple[pd.DataFrame, pd.Series]:
    """One basin's stored daily series (date index, inputs, qobs in mm/day) and its descriptors."""
    path = Path(path)
    with _open(path) as f:
        basins = [b.decode() for b in f["basins"][:]]
        if basin not in basins:
            raise StoreError(
                f"{path}: basin {basin!r} is not in the store ({len(basins)} basins, "
                f"e.g. {', '.join(basins[:3])})"
            )
        i = basins.index(basin)
        frame = pd.DataFrame(
            f["forcing"][i],
            index=pd.DatetimeIndex(_dates(f), name="date"),
            columns=list(DYNAMIC_INPUTS),
        )
        frame["qobs(mm/day)"] = f["qobs"][i]
        descriptors = pd.Series(f["descriptors"][i], index=list(DESCRIPTORS), name=basin)
    return frame, descriptors
