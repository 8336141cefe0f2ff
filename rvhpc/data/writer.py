"""Writing a basin store while its basins are read: a fixed date axis sized up front, each basin's
row written as it arrives (or in bounded batches of rows), then the scalers, per-basin numbers,
provenance and checksums.

Memory does not grow with the basin count beyond the index (ids, per-basin numbers, file hashes)
and the descriptor/attribute table: the series go straight to the file, the scalers are computed
batch by batch from what was written (rvhpc/data/trainstats.py), and the two big datasets are
hashed as their rows are written. They are contiguous and unfiltered so that every process on a
node can map the same pages (rvhpc/data/store.py).

A full disk cannot half-break the store: the space the store needs is known before the first row
(basins x days x (inputs + 1) x 4 bytes, plus the index) and checked against the free space; the
rows are plain file writes, and HDF5 writes only small things, in child processes
(rvhpc/data/storefile.py). A write, an HDF5 step or the close that fails anyway (another job
filled the disk, a quota, a file-size limit) raises one StoreError naming the file and the free
space, and the caller removes the file (``atomic_path``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc import __version__
from rvhpc.data import storefile, storesum
from rvhpc.data.check_report import CheckReport
from rvhpc.data.datasets.base import TARGET, BasinRecord, Dataset
from rvhpc.data.storeattrs import descriptor_values
from rvhpc.data.trainstats import NoTrainingSamples, training_scalers
from rvhpc.errors import DataError, StoreError

FORMAT_VERSION = 2
_EPOCH = pd.Timestamp("1970-01-01")
#: bytes of rows buffered before one write (rows = basins; 1 row per write at the least)
BATCH_BYTES = 32 << 20
#: room kept free besides the store's own bytes
MARGIN_BYTES = 64 << 20


def store_bytes(n_basins: int, n_days: int, n_inputs: int) -> int:
    """Bytes of the store's series plus a bound of its index (ids, hashes, attributes)."""
    return n_basins * n_days * (n_inputs + 1) * 4 + n_basins * 4096 + (4 << 20)


def check_free_space(folder: Path, need: int, name: Path | None = None) -> None:
    """StoreError when the file system of ``folder`` has less than ``need`` + a margin free."""
    free = shutil.disk_usage(folder).free
    if free < need + MARGIN_BYTES:
        raise StoreError(
            f"{name or folder}: the store needs about {need / 1e6:,.0f} MB and only "
            f"{free / 1e6:,.0f} MB are free on {folder}; free some space or give --out on another "
            "disk"
        )


def _failed(path: Path, exc: OSError) -> StoreError:
    free = shutil.disk_usage(path.parent).free
    return StoreError(
        f"{path}: writing the store failed ({exc.strerror or exc}); {free / 1e6:,.0f} MB free on "
        "that disk: free some space or give --out on another disk, then rerun"
    )


class StoreWriter:
    """Writes the store of ``source`` into ``path`` (a temporary name the caller renames).

    Parameters
    ----------
    path : the file to create
    source : the dataset reader
    fingerprint : the hash of the inputs (rvhpc.data.prepare.fingerprint)
    periods : (train, eval) periods as (start, end) Timestamps
    batch : rows per write (None: about 32 MB of rows); the result does not depend on it
    axis : (first, last) day of the date axis (None: sized from the basins' spans)
    name : the store's final name, for messages (default ``path``)
    """

    def __init__(
        self,
        path: Path,
        source: Dataset,
        fingerprint: str,
        periods: tuple,
        batch: int | None = None,
        axis: tuple[int, int] | None = None,
        name: Path | None = None,
    ) -> None:
        self.path, self.source, self.fingerprint = Path(path), source, fingerprint
        self.name = Path(name or path)
        self.periods, self.batch, self.axis = periods, batch, axis
        self.n, self.k = len(source.basins), len(source.inputs)
        self.fd: int | None = None
        self.extent: list[int] | None = None  # actual first/last day of the rows read
        self.axis_ok = True
        self.info = np.full((self.n, len(source.info_names)), np.nan)
        self.hashes: dict[str, str] = {}
        self._rows: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._digests: dict | None = None
        self._next = 0

    def begin(self, spans: list[tuple[int, int] | None], table: pd.DataFrame | None) -> None:
        """Size the date axis (from the basins' spans, or the writer's ``axis``), check the free
        space, create the file; ``table`` is the attribute table (per-basin numbers too)."""
        self.table = table
        known = [s for s in spans if s is not None]
        if self.axis is None and not known:
            raise DataError(f"{self.source.series_where()}: no basin file holds a readable date")
        self.first, self.last = self.axis or (
            min(min(s) for s in known),
            max(max(s) for s in known),
        )
        self.days = self.last - self.first + 1
        check_free_space(self.path.parent, store_bytes(self.n, self.days, self.k), self.name)
        shapes = {"forcing": (self.n, self.days, self.k), "qobs": (self.n, self.days)}
        self._guard(storefile.in_child, storefile.create, self.path, self._spec(shapes))
        self.offsets = storefile.offsets(self.path)
        self.fd = os.open(self.path, os.O_RDWR)
        self._digests = {k: storesum.digest_start(np.float32, v) for k, v in shapes.items()}
        self.step = self.batch or max(1, BATCH_BYTES // (self.days * (self.k + 1) * 4))

    def _spec(self, shapes: dict) -> dict:
        """What the file holds before the pass (storefile.create)."""
        source, table = self.source, self.table
        dates = pd.date_range(_EPOCH + pd.Timedelta(days=self.first), periods=self.days, freq="D")
        names = list(source.descriptors)
        return dict(
            shapes=shapes,
            basins=source.basins,
            dates=(dates - _EPOCH).days.to_numpy(np.int32),
            descriptors=descriptor_values(table, source.basins, names).to_numpy(np.float64),
            descriptor_names=names,
            attributes=table.loc[source.basins],
            attrs=dict(
                format_version=FORMAT_VERSION,
                fingerprint=self.fingerprint,
                dataset=source.name,
                settings=json.dumps(source.settings()),
                forcing=str(source.options.get("forcing") or source.options.get("format") or ""),
                date_start=str(dates[0].date()),
                n_days=self.days,
                train_period=[str(d.date()) for d in self.periods[0]],
                eval_period=[str(d.date()) for d in self.periods[1]],
                dynamic_inputs=list(source.inputs),
                target=TARGET,
            ),
        )

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except OSError as exc:
            raise _failed(self.name, exc) from None

    def write(self, i: int, record: BasinRecord) -> None:
        """Basin ``i``'s record, on the date axis (days outside it: :attr:`axis_ok` False)."""
        lo, hi = int(record.days.min()), int(record.days.max())
        self.extent = (
            [lo, hi] if self.extent is None else [min(lo, self.extent[0]), max(hi, self.extent[1])]
        )
        self.hashes.update(record.hashes)
        self.info[i] = self.source.basin_info(record, self.table, self.source.basins[i])
        if lo < self.first or hi > self.last:
            self.axis_ok = False
        if not self.axis_ok:
            return
        x = np.full((self.days, self.k), np.nan, np.float32)
        x[record.days - self.first] = record.x
        q = np.full(self.days, np.nan, np.float32)
        inside = (record.q_days >= self.first) & (record.q_days <= self.last)
        q[record.q_days[inside] - self.first] = record.q[inside]
        if self._rows and self._rows[-1][0] != i - 1:
            self._flush()
        self._rows.append((i, x, q))
        if len(self._rows) >= self.step:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        i0 = self._rows[0][0]
        xs = np.stack([r[1] for r in self._rows])
        qs = np.stack([r[2] for r in self._rows])
        self._rows = []
        try:
            storefile.pwrite_all(self.fd, xs, self.offsets["forcing"] + i0 * xs[0].nbytes)
            storefile.pwrite_all(self.fd, qs, self.offsets["qobs"] + i0 * qs[0].nbytes)
        except OSError as exc:
            raise _failed(self.name, exc) from None
        if self._digests is not None and i0 == self._next:
            self._digests["forcing"].update(memoryview(xs).cast("B"))
            self._digests["qobs"].update(memoryview(qs).cast("B"))
            self._next = i0 + len(xs)
        else:
            self._digests = None  # rows out of order: hashed again at the end

    def finish(self, report: CheckReport) -> None:
        """Scalers, per-basin numbers, provenance and checksums; the file closed and checked.

        Raises
        ------
        DataError : a basin without a training sample; StoreError : a failed write or close.
        """
        self._flush()
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise _failed(self.name, exc) from None
        finally:
            self.close()
        known = {}
        if self._digests is not None and self._next == self.n:
            known = {k: h.hexdigest() for k, h in self._digests.items()}
        spec = dict(
            info={name: self.info[:, k] for k, name in enumerate(self.source.info_names)},
            scalers=self._scalers(report),
            provenance=self._provenance(),
            digests=known,
        )
        self._guard(storefile.in_child, storefile.complete, self.path, spec)
        self._guard(storefile.check_readable, self.path, self.n)

    def close(self) -> None:
        """Close the file if open (after an error; the caller removes it)."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError as exc:
                raise _failed(self.name, exc) from None

    def _scalers(self, report: CheckReport) -> dict:
        """The training scalers, read back batch by batch through a map of the written file."""
        source, shape = self.source, (self.n, self.days)
        lo = (report.train_period[0] - (_EPOCH + pd.Timedelta(days=self.first))).days
        hi = lo + (report.train_period[1] - report.train_period[0]).days + 1
        if lo < 0 or hi > self.days:
            raise DataError(f"{source.series_where()}: the train period is outside the data")
        x = np.memmap(self.path, np.float32, "r", self.offsets["forcing"], (*shape, self.k))
        q = np.memmap(self.path, np.float32, "r", self.offsets["qobs"], shape)
        try:
            return training_scalers(
                lambda b0, b1: (x[b0:b1, lo:hi], q[b0:b1, lo:hi]), self.n, hi - lo, self.k
            )
        except NoTrainingSamples as exc:
            start, end = (d.date() for d in report.train_period)
            raise DataError(
                f"basin {source.basins[exc.index]} has no training sample (observed discharge "
                f"with complete inputs) in the train period {start}..{end}; remove it from "
                f"{source.basin_file} or change the period"
            ) from None

    def _provenance(self) -> dict:
        source = self.source
        files = {str(source.basin_file): None, **{str(p): None for p in source.attribute_files()}}
        files.update(self.hashes)
        roots = [r.resolve() for r in source.roots]
        out = {}
        for name, digest in files.items():
            path = Path(name).resolve()
            if digest is None:
                with open(path, "rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
            root = next((r for r in roots if path.is_relative_to(r)), None)
            key = str(path.relative_to(root)) if root is not None and len(roots) == 1 else str(path)
            out[key] = dict(size=path.stat().st_size, sha256=digest)
        return dict(
            dataset=source.name,
            source_root=str(roots[0]),
            roots=[str(r) for r in roots],
            **dict(source.options),
            basin_file=str(source.basin_file.resolve()),
            rvhpc_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            host=socket.gethostname(),
            files=out,
        )
