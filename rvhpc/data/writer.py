"""Writing a basin store while its basins are read: a fixed date axis sized up front, each basin's
row written as it arrives (or in bounded batches of rows), then the scalers, descriptors,
attributes and checksums.

Memory does not grow with the basin count beyond the index (ids, per-basin numbers, file hashes)
and the descriptor/attribute table: the series go straight to the file, the scalers are computed
batch by batch from what was written (rvhpc/data/trainstats.py), and the two big datasets are
hashed as their rows are written. They are contiguous and unfiltered so that every process on a
node can map the same pages (rvhpc/data/store.py).

A full disk cannot half-break the store: the space the store needs is known before the first row
(basins x days x (inputs + 1) x 4 bytes, plus the index) and checked against the free space; a
write or close that fails anyway (another job filled the disk, a quota) raises one StoreError
naming the file and the free space, and the caller removes the file (``atomic_path``).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc import __version__
from rvhpc.data import storesum
from rvhpc.data.check_report import CheckReport
from rvhpc.data.datasets.base import TARGET, BasinRecord, Dataset
from rvhpc.data.storeattrs import descriptor_values, write_attributes
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


def check_free_space(folder: Path, need: int) -> None:
    """StoreError when the file system of ``folder`` has less than ``need`` + a margin free."""
    free = shutil.disk_usage(folder).free
    if free < need + MARGIN_BYTES:
        raise StoreError(
            f"{folder}: the store needs about {need / 1e6:,.0f} MB and only {free / 1e6:,.0f} MB "
            "are free there; free some space or give --out on another disk"
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
    fingerprint : the hash of the inputs (store.store_fingerprint)
    batch : rows per write (None: about 32 MB of rows); the result does not depend on it
    """

    def __init__(
        self,
        path: Path,
        source: Dataset,
        fingerprint: str,
        batch: int | None = None,
        axis: tuple[int, int] | None = None,
    ) -> None:
        self.path, self.source, self.fingerprint, self.batch = (
            Path(path),
            source,
            fingerprint,
            batch,
        )
        self.axis = axis
        self.n, self.k = len(source.basins), len(source.inputs)
        self.f: h5py.File | None = None
        self.extent: list[int] | None = None  # actual first/last day of the rows read
        self.axis_ok = True
        self.info = np.full((self.n, len(source.info_names)), np.nan)
        self.hashes: dict[str, str] = {}
        self._rows: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._digests = None
        self._next = 0

    def begin(self, spans: list[tuple[int, int] | None], table: pd.DataFrame | None) -> None:
        """Size the date axis (from the basins' spans, or the writer's ``axis``), check the free
        space, create the datasets; ``table`` is the attribute table (per-basin numbers)."""
        axis = self.axis
        self.table = table
        known = [s for s in spans if s is not None]
        if axis is None and not known:
            raise DataError(f"{self.source.series_where()}: no basin file holds a readable date")
        self.first, self.last = axis or (min(min(s) for s in known), max(max(s) for s in known))
        self.days = self.last - self.first + 1
        check_free_space(self.path.parent, store_bytes(self.n, self.days, self.k))
        self.f = h5py.File(self.path, "w")
        self.x = self.f.create_dataset("forcing", (self.n, self.days, self.k), np.float32)
        self.q = self.f.create_dataset("qobs", (self.n, self.days), np.float32)
        self._digests = {
            "forcing": storesum.digest_start(np.float32, self.x.shape),
            "qobs": storesum.digest_start(np.float32, self.q.shape),
        }
        row = self.days * (self.k + 1) * 4
        self.step = self.batch or max(1, BATCH_BYTES // row)

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
        i0, i1 = self._rows[0][0], self._rows[-1][0] + 1
        xs = np.stack([r[1] for r in self._rows])
        qs = np.stack([r[2] for r in self._rows])
        self._rows = []
        try:
            self.x[i0:i1] = xs
            self.q[i0:i1] = qs
        except OSError as exc:
            raise _failed(self.path, exc) from None
        if self._digests is not None and i0 == self._next:
            self._digests["forcing"].update(memoryview(xs).cast("B"))
            self._digests["qobs"].update(memoryview(qs).cast("B"))
            self._next = i1
        else:
            self._digests = None  # rows out of order: hashed again at the end

    def finish(self, report: CheckReport) -> None:
        """Scalers, descriptors, attributes, provenance and checksums; close the file.

        Raises
        ------
        DataError : a basin without a training sample; StoreError : a failed write or close.
        """
        self._flush()
        try:
            self._finish(report)
            self.f.close()
        except OSError as exc:
            raise _failed(self.path, exc) from None
        finally:
            self.close()
        try:
            with h5py.File(self.path, "r") as f:
                int(f.attrs["format_version"])
        except (OSError, KeyError) as exc:
            raise _failed(self.path, OSError(str(exc))) from None

    def close(self) -> None:
        """Close the file if open (on an error; the caller removes it)."""
        if self.f is not None:
            try:
                self.f.close()
            except Exception:  # noqa: BLE001 (closing after a failure: the first error counts)
                pass
            self.f = None

    def _finish(self, report: CheckReport) -> None:
        f, source = self.f, self.source
        table = report.attributes
        dates = pd.date_range(_EPOCH + pd.Timedelta(days=self.first), periods=self.days, freq="D")
        lo = (report.train_period[0] - dates[0]).days
        hi = (report.train_period[1] - dates[0]).days + 1
        if lo < 0 or hi > self.days:
            raise DataError(f"{source.series_where()}: the train period is outside the data")
        try:
            scalers = training_scalers(
                lambda b0, b1: (self.x[b0:b1, lo:hi], self.q[b0:b1, lo:hi]), self.n, hi - lo, self.k
            )
        except NoTrainingSamples as exc:
            start, end = (d.date() for d in report.train_period)
            raise DataError(
                f"basin {source.basins[exc.index]} has no training sample (observed discharge "
                f"with complete inputs) in the train period {start}..{end}; remove it from "
                f"{source.basin_file} or change the period"
            ) from None
        descriptors = descriptor_values(table, source.basins, list(source.descriptors))
        f.attrs.update(
            format_version=FORMAT_VERSION,
            fingerprint=self.fingerprint,
            dataset=source.name,
            settings=json.dumps(source.settings()),
            forcing=str(source.options.get("forcing") or source.options.get("format") or ""),
            date_start=str(dates[0].date()),
            n_days=self.days,
            train_period=[str(d.date()) for d in report.train_period],
            eval_period=[str(d.date()) for d in report.eval_period],
            provenance=json.dumps(self._provenance()),
            dynamic_inputs=list(source.inputs),
            target=TARGET,
        )
        text = h5py.string_dtype()
        f.create_dataset("basins", data=np.array(source.basins, dtype=object), dtype=text)
        days = (dates - _EPOCH).days.to_numpy(np.int32)
        f.create_dataset("dates", data=days).attrs["units"] = "days since 1970-01-01"
        f.create_dataset("descriptors", data=descriptors.to_numpy(np.float64))
        names = np.array(source.descriptors, dtype=object)
        f.create_dataset("descriptor_names", data=names, dtype=text)
        for k, name in enumerate(source.info_names):
            f.create_dataset(name, data=self.info[:, k])
        for key, value in scalers.items():
            f.create_dataset(f"scalers/{key}", data=value)
        write_attributes(f.create_group("attributes"), table.loc[source.basins])
        known = (
            {}
            if self._digests is None or self._next != self.n
            else {k: h.hexdigest() for k, h in self._digests.items()}
        )
        storesum.write_checksums(f, known)

    def _provenance(self) -> dict:
        import hashlib

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
            **{k: v for k, v in source.options.items()},
            basin_file=str(source.basin_file.resolve()),
            rvhpc_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            host=socket.gethostname(),
            files=out,
        )
