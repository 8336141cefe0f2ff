"""Build the contents of a basin store from a CAMELS US tree: read every listed basin onto one
common daily axis, compute the training-period scalers, and write the HDF5 file (to a path the
caller then renames into place)."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc import __version__, progress
from rvhpc.data import camels
from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
from rvhpc.errors import DataError

FORMAT_VERSION = 1
_EPOCH = pd.Timestamp("1970-01-01")


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
        blob = json.dumps(dict(format=FORMAT_VERSION, forcing=self.forcing, basins=self.basins,
                               train=[str(d.date()) for d in self.train_period],
                               eval=[str(d.date()) for d in self.eval_period], files=stats))
        return hashlib.sha256(blob.encode()).hexdigest()


def _period(name: str, period: tuple) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = (pd.Timestamp(p) for p in period)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{name} period {period!r} is not a pair of YYYY-MM-DD dates ({exc})") from None
    if start > end:
        raise DataError(f"{name} period starts after it ends: {start.date()} > {end.date()}")
    return start.normalize(), end.normalize()


def resolve_inputs(camels_root, basin_file, forcing: str, train_period: tuple, eval_period: tuple) -> Inputs:
    """Check the tree and find every file the store needs (DataError on the first problem)."""
    root = camels.check_root(camels_root, forcing)
    basins = camels.read_basin_list(basin_file)
    train, evaluation = _period("train", train_period), _period("eval", eval_period)
    forcing_dir = root / camels.FORCING_DIR / forcing
    flow_dir = root / camels.STREAMFLOW_DIR
    forcing_index, flow_index = camels.index_files(forcing_dir), camels.index_files(flow_dir)
    forcing_files, flow_files = [], []
    for basin in basins:
        if basin not in forcing_index:
            raise DataError(f"{forcing_dir}: no forcing file for basin {basin} (listed in {basin_file})")
        if basin not in flow_index:
            raise DataError(f"{flow_dir}: no streamflow file for basin {basin} (listed in {basin_file})")
        forcing_files.append(forcing_index[basin])
        flow_files.append(flow_index[basin])
    attr_dir = root / camels.ATTRIBUTE_DIR
    attribute_files = [attr_dir / f"camels_{g}.txt" for g in camels.ATTRIBUTE_GROUPS]
    for path in attribute_files:
        if not path.is_file():
            raise DataError(f"{path}: attribute file missing")
    return Inputs(root, forcing, Path(basin_file), basins, forcing_files, flow_files, attribute_files,
                  train, evaluation)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _check_period(name: str, period: tuple[pd.Timestamp, pd.Timestamp], dates: pd.DatetimeIndex,
                  where: Path) -> None:
    if period[0] < dates[0] or period[1] > dates[-1]:
        raise DataError(f"{name} period {period[0].date()}..{period[1].date()} is outside the data in "
                        f"{where} ({dates[0].date()}..{dates[-1].date()}); pass --{name}-start/--{name}-end "
                        f"within it")


def build_store(inputs: Inputs, tmp_path: Path, fingerprint: str) -> None:
    """Read all inputs and write the store to ``tmp_path`` (which the caller renames)."""
    attributes = camels.read_attributes(inputs.root, inputs.basins)
    descriptors = camels.descriptor_table(attributes, inputs.basins, inputs.root)
    n = len(inputs.basins)
    frames, flows, heads = [], [], []
    hashes: dict[Path, str] = {}  # hashed from the bytes parsed, so each file is read once
    with progress.task(f"reading {n} basins", total=n) as bar:
        for basin, ffile, qfile in zip(inputs.basins, inputs.forcing_files, inputs.streamflow_files):
            fbytes, qbytes = ffile.read_bytes(), qfile.read_bytes()
            hashes[ffile], hashes[qfile] = hashlib.sha256(fbytes).hexdigest(), hashlib.sha256(qbytes).hexdigest()
            forcing = camels.read_forcing(ffile, fbytes)
            frames.append(forcing.data)
            flows.append(camels.read_streamflow(qfile, forcing.area_m2, qbytes))
            heads.append((forcing.area_m2, forcing.latitude, forcing.elevation))
            bar.advance(info=basin)
    start = min(f.index[0] for f in frames)
    end = max(f.index[-1] for f in frames)
    dates = pd.date_range(start, end, freq="D")
    forcing_dir = inputs.root / camels.FORCING_DIR / inputs.forcing
    _check_period("train", inputs.train_period, dates, forcing_dir)
    _check_period("eval", inputs.eval_period, dates, forcing_dir)
    x = np.full((n, len(dates), len(DYNAMIC_INPUTS)), np.nan, dtype=np.float32)
    q = np.full((n, len(dates)), np.nan, dtype=np.float32)
    for i, (frame, flow) in enumerate(zip(frames, flows)):
        pos = (frame.index - start).days.to_numpy()
        x[i, pos] = frame.loc[:, list(DYNAMIC_INPUTS)].to_numpy(np.float32)
        flow = flow[(flow.index >= start) & (flow.index <= end)]
        q[i, (flow.index - start).days.to_numpy()] = flow.to_numpy(np.float32)
    scalers = _scalers(inputs, dates, x, q)
    provenance = dict(
        source_root=str(inputs.root.resolve()), forcing=inputs.forcing, basin_file=str(inputs.basin_file.resolve()),
        rvhpc_version=__version__, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host=socket.gethostname(),
        files={str(p.resolve().relative_to(inputs.root.resolve())) if p.resolve().is_relative_to(inputs.root.resolve())
               else str(p.resolve()): dict(size=p.stat().st_size, sha256=hashes.get(p) or _sha256(p)) for p in inputs.all_files()},
    )
    heads_arr = np.array(heads, dtype=np.float64)
    with h5py.File(tmp_path, "w") as f:
        f.attrs.update(format_version=FORMAT_VERSION, fingerprint=fingerprint, forcing=inputs.forcing,
                       date_start=str(start.date()), n_days=len(dates),
                       train_period=[str(d.date()) for d in inputs.train_period],
                       eval_period=[str(d.date()) for d in inputs.eval_period],
                       provenance=json.dumps(provenance), dynamic_inputs=list(DYNAMIC_INPUTS))
        f.create_dataset("basins", data=np.array(inputs.basins, dtype="S8"))
        f.create_dataset("dates", data=(dates - _EPOCH).days.to_numpy(np.int32)).attrs["units"] = "days since 1970-01-01"
        f.create_dataset("forcing", data=x, chunks=(1, min(len(dates), 2048), x.shape[2]),
                         compression="gzip", compression_opts=1, shuffle=True)
        f.create_dataset("qobs", data=q, chunks=(1, min(len(dates), 8192)), compression="gzip",
                         compression_opts=1, shuffle=True)
        f.create_dataset("descriptors", data=descriptors.to_numpy(np.float64))
        f.create_dataset("descriptor_names", data=np.array(DESCRIPTORS, dtype="S"))
        f.create_dataset("area_m2", data=heads_arr[:, 0])
        f.create_dataset("latitude", data=heads_arr[:, 1])
        f.create_dataset("elevation", data=heads_arr[:, 2])
        for key, value in scalers.items():
            f.create_dataset(f"scalers/{key}", data=value)
        raw = attributes.loc[inputs.basins]
        group = f.create_group("attributes")
        for col in raw.columns:
            values = raw[col]
            if pd.api.types.is_numeric_dtype(values):
                group.create_dataset(col, data=values.to_numpy(np.float64))
            else:
                group.create_dataset(col, data=values.astype(str).to_numpy(dtype=object),
                                     dtype=h5py.string_dtype())
        f.flush()


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
        raise DataError(f"{inputs.streamflow_files[i]}: basin {inputs.basins[i]} has no observed discharge in "
                        f"the train period {inputs.train_period[0].date()}..{inputs.train_period[1].date()}; "
                        f"remove it from {inputs.basin_file} or change the period")
    q_std = np.array([qt[i, ok[i]].std() for i in range(len(q))])
    return dict(x_mean=xt[ok].mean(0), x_std=xt[ok].std(0), y_mean=qt[ok].mean(), y_std=qt[ok].std(),
                q_std=q_std)
