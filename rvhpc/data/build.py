"""Build the contents of a basin store from a CAMELS US tree: read every listed basin onto one
common daily axis, compute the training-period scalers, and write the HDF5 file (to a path the
caller then renames into place)."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import multiprocessing as mp
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc import __version__, progress
from rvhpc.data import attributes as attrs_io
from rvhpc.data import camels
from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
from rvhpc.errors import DataError

FORMAT_VERSION = 1
_EPOCH = pd.Timestamp("1970-01-01")
#: fewer basins than this are read in this process (a pool costs more than it saves)
POOL_MIN_BASINS = 64
POOL_MIN_CPUS = 4


@dataclass
class Inputs:
    """Everything a store is built from: resolved file paths per basin plus settings."""

    root: Path
    forcing: str
    basin_file: Path
    basins: list[str]
    forcing_files: list[Path]
    streamflow_files: list[Path]
    attribute_files: list[Path]
    train_period: tuple[pd.Timestamp, pd.Timestamp]
    eval_period: tuple[pd.Timestamp, pd.Timestamp]

    def all_files(self) -> list[Path]:
        return [self.basin_file, *self.attribute_files, *self.forcing_files, *self.streamflow_files]

    def fingerprint(self) -> str:
        """Hash of paths, sizes and mtimes of every input plus the settings."""
        stats = []
        for path in self.all_files():
            st = path.stat()
            stats.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        blob = json.dumps(
            dict(
                format=FORMAT_VERSION,
                forcing=self.forcing,
                basins=self.basins,
                train=[str(d.date()) for d in self.train_period],
                eval=[str(d.date()) for d in self.eval_period],
                files=stats,
            )
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def parse_period(name: str, period: tuple) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = (pd.Timestamp(p) for p in period)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{name} period {period!r} is not a pair of YYYY-MM-DD dates ({exc})"
        ) from None
    if start > end:
        raise DataError(f"{name} period starts after it ends: {start.date()} > {end.date()}")
    return start.normalize(), end.normalize()


def resolve_inputs(
    camels_root, basin_file, forcing: str, train_period: tuple, eval_period: tuple
) -> Inputs:
    """Check the tree and find every file the store needs (DataError on the first problem)."""
    root = camels.check_root(camels_root, forcing)
    basins = camels.read_basin_list(basin_file)
    train, evaluation = parse_period("train", train_period), parse_period("eval", eval_period)
    forcing_dir = root / camels.FORCING_DIR / forcing
    flow_dir = root / camels.STREAMFLOW_DIR
    forcing_index, flow_index = camels.index_files(forcing_dir), camels.index_files(flow_dir)
    forcing_files, flow_files = [], []
    for basin in basins:
        if basin not in forcing_index:
            raise DataError(
                f"{forcing_dir}: no forcing file for basin {basin} (listed in {basin_file})"
            )
        if basin not in flow_index:
            raise DataError(
                f"{flow_dir}: no streamflow file for basin {basin} (listed in {basin_file})"
            )
        forcing_files.append(forcing_index[basin])
        flow_files.append(flow_index[basin])
    attribute_files = [attrs_io.attribute_file(root, g) for g in attrs_io.ATTRIBUTE_GROUPS]
    for path in attribute_files:
        if not path.is_file():
            raise DataError(f"{path}: attribute file missing")
    return Inputs(
        root,
        forcing,
        Path(basin_file),
        basins,
        forcing_files,
        flow_files,
        attribute_files,
        train,
        evaluation,
    )


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _check_period(
    name: str, period: tuple[pd.Timestamp, pd.Timestamp], dates: pd.DatetimeIndex, where: Path
) -> None:
    if period[0] < dates[0] or period[1] > dates[-1]:
        raise DataError(
            f"{name} period {period[0].date()}..{period[1].date()} is outside the data in "
            f"{where} ({dates[0].date()}..{dates[-1].date()}); pass --{name}-start/--{name}-end "
            f"within it"
        )


@dataclass
class BasinData:
    """One basin read for the store: file hashes, header values and its series as arrays."""

    hashes: tuple[str, str]
    head: tuple[float, float, float]  # area_m2, latitude, elevation
    x_days: np.ndarray  # days since 1970-01-01
    x: np.ndarray  # [days, DYNAMIC_INPUTS] float32
    q_days: np.ndarray
    q: np.ndarray  # mm/day float32


def read_basin(forcing_file: Path, flow_file: Path) -> BasinData:
    """Read one basin's forcing and streamflow files (each read once: hashed from the parsed
    bytes)."""
    fbytes, qbytes = forcing_file.read_bytes(), flow_file.read_bytes()
    forcing = camels.read_forcing_arrays(forcing_file, fbytes)
    q_days, q = camels.read_streamflow_arrays(flow_file, forcing.area_m2, qbytes)
    cols = [forcing.columns.index(c) for c in DYNAMIC_INPUTS]
    return BasinData(
        (hashlib.sha256(fbytes).hexdigest(), hashlib.sha256(qbytes).hexdigest()),
        (forcing.area_m2, forcing.latitude, forcing.elevation),
        forcing.days,
        forcing.values[:, cols].astype(np.float32),
        q_days,
        q.astype(np.float32),
    )


def _workers(n_basins: int) -> int:
    """Processes for reading: one per usable CPU, none extra for a handful of basins."""
    cpus = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    # measured: on 2 CPUs the pool's pickling and this process's own share of the CPU eat the gain
    if (
        n_basins < POOL_MIN_BASINS
        or cpus < POOL_MIN_CPUS
        or "fork" not in mp.get_all_start_methods()
    ):
        return 1
    return min(cpus, n_basins // (POOL_MIN_BASINS // 2))


def read_basins(inputs: Inputs, workers: int | None = None) -> list[BasinData]:
    """Every basin of ``inputs`` in list order, in parallel processes when there are many."""
    return read_files(inputs.basins, inputs.forcing_files, inputs.streamflow_files, workers)


def read_files(
    basins: list[str],
    forcing_files: list[Path],
    streamflow_files: list[Path],
    workers: int | None = None,
    reader: Callable = read_basin,
) -> list:
    """``reader(forcing file, streamflow file)`` of every basin, in list order, in parallel
    processes when there are many (``reader`` must be a module-level function)."""
    n = len(basins)
    workers = _workers(n) if workers is None else workers
    out: list = []
    with progress.task(f"reading {n} basins", total=n) as bar:
        if workers <= 1:
            results = itertools.starmap(reader, zip(forcing_files, streamflow_files, strict=True))
            for basin, data in zip(basins, results, strict=False):
                out.append(data)
                bar.advance(info=basin)
            return out
        # fork: the children need nothing but the file paths and start instantly; map keeps the
        # order
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
        try:
            results = pool.map(
                reader,
                forcing_files,
                streamflow_files,
                chunksize=max(1, min(16, n // (4 * workers))),
            )
            for basin, data in zip(basins, results, strict=False):
                out.append(data)
                bar.advance(info=basin)
        finally:
            pool.shutdown(
                wait=True, cancel_futures=True
            )  # on an error, skip the basins not yet read
    return out


def build_store(
    inputs: Inputs,
    tmp_path: Path,
    fingerprint: str,
    basins: list[BasinData] | None = None,
    attributes: pd.DataFrame | None = None,
) -> None:
    """Read all inputs (unless ``basins`` and ``attributes`` hold them already, as read by
    :func:`rvhpc.data.check.check_tree`) and write the store to ``tmp_path`` (which the caller
    renames)."""
    if attributes is None:
        attributes = attrs_io.read_attributes(inputs.root, inputs.basins)
    descriptors = attrs_io.descriptor_table(attributes, inputs.basins, inputs.root)
    n = len(inputs.basins)
    if basins is None:
        basins = read_basins(inputs)
    hashes = {
        p: h
        for b, ff, qf in zip(basins, inputs.forcing_files, inputs.streamflow_files, strict=False)
        for p, h in zip((ff, qf), b.hashes, strict=False)
    }
    first = min(int(b.x_days.min()) for b in basins)
    last = max(int(b.x_days.max()) for b in basins)
    start, end = _EPOCH + pd.Timedelta(days=first), _EPOCH + pd.Timedelta(days=last)
    dates = pd.date_range(start, end, freq="D")
    forcing_dir = inputs.root / camels.FORCING_DIR / inputs.forcing
    _check_period("train", inputs.train_period, dates, forcing_dir)
    _check_period("eval", inputs.eval_period, dates, forcing_dir)
    x = np.full((n, len(dates), len(DYNAMIC_INPUTS)), np.nan, dtype=np.float32)
    q = np.full((n, len(dates)), np.nan, dtype=np.float32)
    for i, b in enumerate(basins):
        x[i, b.x_days - first] = b.x
        inside = (b.q_days >= first) & (b.q_days <= last)
        q[i, b.q_days[inside] - first] = b.q[inside]
    heads = [b.head for b in basins]
    scalers = _scalers(inputs, dates, x, q)
    provenance = dict(
        source_root=str(inputs.root.resolve()),
        forcing=inputs.forcing,
        basin_file=str(inputs.basin_file.resolve()),
        rvhpc_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        host=socket.gethostname(),
        files={
            str(p.resolve().relative_to(inputs.root.resolve()))
            if p.resolve().is_relative_to(inputs.root.resolve())
            else str(p.resolve()): dict(size=p.stat().st_size, sha256=hashes.get(p) or _sha256(p))
            for p in inputs.all_files()
        },
    )
    heads_arr = np.array(heads, dtype=np.float64)
    # built in memory and written in one go: on a full disk HDF5 fails inside its own buffers
    # (errors at garbage collection, even a crash); a plain write fails with one clean OSError
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        f.attrs.update(
            format_version=FORMAT_VERSION,
            fingerprint=fingerprint,
            forcing=inputs.forcing,
            date_start=str(start.date()),
            n_days=len(dates),
            train_period=[str(d.date()) for d in inputs.train_period],
            eval_period=[str(d.date()) for d in inputs.eval_period],
            provenance=json.dumps(provenance),
            dynamic_inputs=list(DYNAMIC_INPUTS),
        )
        f.create_dataset("basins", data=np.array(inputs.basins, dtype="S8"))
        f.create_dataset("dates", data=(dates - _EPOCH).days.to_numpy(np.int32)).attrs["units"] = (
            "days since 1970-01-01"
        )
        # uncompressed: gzip took a fifth of the build and saved only ~30% (2-decimal data);
        # the store stays ~10x smaller than one run's window file
        f.create_dataset("forcing", data=x, chunks=(1, min(len(dates), 2048), x.shape[2]))
        f.create_dataset("qobs", data=q, chunks=(1, min(len(dates), 8192)))
        f.create_dataset("descriptors", data=descriptors.to_numpy(np.float64))
        f.create_dataset("descriptor_names", data=np.array(DESCRIPTORS, dtype="S"))
        f.create_dataset("area_m2", data=heads_arr[:, 0])
        f.create_dataset("latitude", data=heads_arr[:, 1])
        f.create_dataset("elevation", data=heads_arr[:, 2])
        for key, value in scalers.items():
            f.create_dataset(f"scalers/{key}", data=value)
        write_attributes(f.create_group("attributes"), attributes.loc[inputs.basins])
    with open(tmp_path, "wb") as handle:
        handle.write(image.getbuffer())


def write_attributes(group: h5py.Group, table: pd.DataFrame) -> None:
    """Every attribute column as a dataset of ``group``: numbers as float64 (NaN = missing), text
    as UTF-8 strings with a ``missing`` mask attribute (1 = missing; the string is then empty).

    A text column may hold missing values (``geol_2nd_class`` is ``NA`` for 138 real basins):
    they are kept missing, never turned into the text "nan" or dropped."""
    group.attrs["columns"] = [str(c) for c in table.columns]
    for col in table.columns:
        values = table[col]
        if pd.api.types.is_numeric_dtype(values):
            group.create_dataset(col, data=values.to_numpy(np.float64))
            continue
        missing = values.isna().to_numpy()
        text = np.array(
            ["" if m else str(v) for v, m in zip(values.tolist(), missing, strict=True)],
            dtype=object,
        )
        ds = group.create_dataset(col, data=text, dtype=h5py.string_dtype())
        ds.attrs["missing"] = missing.astype(np.uint8)


def _scalers(inputs: Inputs, dates: pd.DatetimeIndex, x: np.ndarray, q: np.ndarray) -> dict:
    """Global input/output mean and std and per-basin q_std over the training samples
    (training-period days with observed discharge and complete inputs)."""
    lo = (inputs.train_period[0] - dates[0]).days
    hi = (inputs.train_period[1] - dates[0]).days + 1
    xt, qt = x[:, lo:hi].astype(np.float64), q[:, lo:hi].astype(np.float64)
    ok = np.isfinite(qt) & np.isfinite(xt).all(axis=2)
    empty = np.flatnonzero(ok.sum(1) == 0)
    if len(empty):
        i = int(empty[0])
        raise DataError(
            f"{inputs.streamflow_files[i]}: basin {inputs.basins[i]} has no observed discharge in "
            f"the train period {inputs.train_period[0].date()}..{inputs.train_period[1].date()}; "
            f"remove it from {inputs.basin_file} or change the period"
        )
    q_std = np.array([qt[i, ok[i]].std() for i in range(len(q))])
    return dict(
        x_mean=xt[ok].mean(0),
        x_std=xt[ok].std(0),
        y_mean=qt[ok].mean(),
        y_std=qt[ok].std(),
        q_std=q_std,
    )
