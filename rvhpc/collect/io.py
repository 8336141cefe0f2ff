"""Reading a cell's ``predictions.parquet``: validated, basin-grouped arrays.

:func:`iter_basins` streams a file basin by basin in bounded memory (a batch of rows at a time):
what ``collect`` uses, so its memory does not grow with the basins or days of a cell. It needs
each basin's rows to be contiguous, as rvhpc's evaluation writes them (basin-major); a file that
is not so raises :class:`NotGrouped`, and :func:`read_predictions` reads it whole instead. Both
give a basin's rows in the same order (file order; sorted by date with ``with_dates``), so the
metrics of either are the same bits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rvhpc.errors import CollectError

REQUIRED = ("basin", "date", "qobs", "qsim")
#: rows decoded at a time while streaming
BATCH_ROWS = 1 << 16
#: bytes read at a time while streaming. pyarrow's defaults (pre_buffer, no buffer) read the bytes
#: of all the row groups (pre_buffer) or of a whole row group (1 Mi rows by default) before
#: decoding; buffered and not pre-buffered, the reader holds 7-9 MiB whatever the row groups:
#: measured on files of 0.8-2 M rows (12-31 MiB) in row groups of 0.25-1 M rows, where the
#: defaults held 19-23 MiB, growing with the row group
STREAM_BUFFER = 1 << 20


@dataclass
class Series:
    """One cell's predictions, rows ordered by (basin id, date) when read ``sorted``.

    ``bounds[i]:bounds[i+1]`` are the rows of ``basins[i]``; ``dates`` is int64 ns or None.
    """

    basins: list[str]
    bounds: np.ndarray
    qobs: np.ndarray
    qsim: np.ndarray
    dates: np.ndarray | None = None

    def basin_rows(self) -> Iterator[tuple[str, slice]]:
        for i, basin in enumerate(self.basins):
            yield basin, slice(int(self.bounds[i]), int(self.bounds[i + 1]))


def _bad(label: str, path: Path, what: str) -> CollectError:
    return CollectError(
        f"cell {label}: {path.name} {what}; "
        "rerun the cell (delete its DONE) or pass --allow-partial"
    )


def _unreadable(label: str, path: Path, exc: Exception) -> CollectError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _bad(label, path, f"is unreadable ({first[:160]})")


def _check_columns(schema: pa.Schema, label: str, path: Path) -> None:
    missing = [c for c in REQUIRED if c not in schema.names]
    if missing:
        raise _bad(
            label, path, f"lacks column(s) {', '.join(missing)} (needs {', '.join(REQUIRED)})"
        )


def _check_types(schema: pa.Schema, label: str, path: Path) -> None:
    for name in ("qobs", "qsim"):
        kind = schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise _bad(label, path, f"column {name} is {kind}, not float64 mm/day")


def _codes(col: pa.Array | pa.ChunkedArray, label: str, path: Path):
    """The basin column dictionary-encoded; empty ids refused."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    if col.null_count:
        raise _bad(label, path, "has empty basin ids")
    return col


def read_predictions(path: Path, label: str, with_dates: bool = False) -> Series:
    """Read and check one predictions file whole; rows grouped by basin (and sorted by date if
    ``with_dates``). Memory grows with the file: :func:`iter_basins` streams instead.

    Parameters
    ----------
    path : Path
        The cell's predictions.parquet.
    label : str
        The cell, for messages.
    with_dates : bool
        Also read the dates, sort each basin's rows by date and refuse a repeated date.

    Returns
    -------
    Series
        Basins sorted by id, float64 qobs/qsim and the row bounds of each basin.

    Raises
    ------
    CollectError
        The file is missing, truncated/corrupt, lacks a column, or holds duplicate (basin, date)
        rows.
    """
    columns = ["basin", "qobs", "qsim"] + (["date"] if with_dates else [])
    try:
        schema = pq.read_schema(path)
        _check_columns(schema, label, path)
        table = pq.read_table(path, columns=columns, read_dictionary=["basin"])
    except CollectError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _unreadable(label, path, exc) from None
    if table.num_rows == 0:
        raise _bad(label, path, "has no rows")
    col = _codes(table.column("basin"), label, path)
    _check_types(table.schema, label, path)
    chunks = pa.table({"b": col}).unify_dictionaries().column("b").chunks
    names = (
        np.asarray(chunks[0].dictionary.to_pylist(), dtype=object)
        if chunks
        else np.array([], object)
    )
    codes = np.concatenate(
        [c.indices.to_numpy(zero_copy_only=False).astype(np.int64) for c in chunks]
    )
    # rank basin ids by name so every cell orders basins the same way
    perm = np.argsort(names.astype(str))
    rank = np.empty(len(names), dtype=np.int64)
    rank[perm] = np.arange(len(names))
    key = rank[codes]
    del codes
    qobs = table.column("qobs").to_numpy().astype(np.float64, copy=False)
    qsim = table.column("qsim").to_numpy().astype(np.float64, copy=False)
    dates = None
    if with_dates:
        dates = table.column("date").cast(pa.timestamp("ns")).to_numpy().view(np.int64)
        order = np.lexsort((dates, key))
        dates = dates[order]
    else:
        order = np.argsort(key, kind="stable")
    del table
    key, qobs, qsim = key[order], qobs[order], qsim[order]
    counts = np.bincount(key, minlength=len(names))
    present = counts > 0
    bounds = np.concatenate([[0], np.cumsum(counts[present])])
    if dates is not None and len(dates) > 1:
        dup = (np.diff(key) == 0) & (np.diff(dates) == 0)
        if dup.any():
            i = int(np.argmax(dup))
            raise _bad(label, path, f"repeats basin {names[perm][key[i]]} on one date")
    basins = [str(b) for b in names[perm][present]]
    return Series(basins=basins, bounds=bounds, qobs=qobs, qsim=qsim, dates=dates)


class NotGrouped(Exception):
    """A basin's rows are not contiguous in a predictions file (not an error of the file: read
    it whole with :func:`read_predictions`)."""


@dataclass
class Basin:
    """The rows of one basin: ``dates`` (int64 ns) sorted when read ``with_dates``, else None."""

    name: str
    qobs: np.ndarray
    qsim: np.ndarray
    dates: np.ndarray | None = None


def iter_basins(path: Path, label: str, with_dates: bool = False) -> Iterator[Basin]:
    """Stream a predictions file basin by basin, in file order, ``BATCH_ROWS`` rows at a time.

    Memory is one batch (a row group, at most) plus one basin's rows, whatever the file's size:
    22,000 basins x 10 years are 80 M rows, 2.6 GB as the arrays :func:`read_predictions` holds.

    Parameters
    ----------
    path, label, with_dates
        As :func:`read_predictions`.

    Yields
    ------
    Basin
        Float64 qobs and qsim of one basin (views into a batch when the basin lies in one: copy
        what is kept).

    Raises
    ------
    CollectError
        As :func:`read_predictions`; also raised after some basins were yielded, when a damaged
        batch is reached.
    NotGrouped
        A basin's rows appear again after another basin's.
    """
    columns = ["basin", "qobs", "qsim"] + (["date"] if with_dates else [])
    try:
        pf = pq.ParquetFile(
            path, read_dictionary=["basin"], pre_buffer=False, buffer_size=STREAM_BUFFER
        )
        _check_columns(pf.schema_arrow, label, path)
        _check_types(pf.schema_arrow, label, path)
    except CollectError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _unreadable(label, path, exc) from None
    if pf.metadata.num_rows == 0:
        raise _bad(label, path, "has no rows")
    done: set[str] = set()
    name: str | None = None
    parts: list[tuple[np.ndarray, ...]] = []
    with pf:
        for batch in _batches(pf, columns, label, path):
            col = _codes(batch.column("basin"), label, path)
            codes = col.indices.to_numpy(zero_copy_only=False)
            names = [str(b) for b in col.dictionary.to_pylist()]
            arrays = [_floats(batch, "qobs"), _floats(batch, "qsim")]
            if with_dates:
                ns = batch.column("date").cast(pa.timestamp("ns"))
                arrays.append(ns.to_numpy(zero_copy_only=False).view(np.int64))
            cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
            for start, end in zip([0, *cuts], [*cuts, len(codes)], strict=True):
                run = names[codes[start]]
                if run != name:
                    if name is not None:
                        yield _basin(name, parts, label, path)
                        done.add(name)
                    if run in done:
                        raise NotGrouped(run)
                    name, parts = run, []
                parts.append(tuple(a[start:end] for a in arrays))
    if name is not None:
        yield _basin(name, parts, label, path)


def _batches(pf: pq.ParquetFile, columns: list[str], label: str, path: Path) -> Iterator:
    """The file's record batches; a damaged one becomes the one-line CollectError."""
    batches = pf.iter_batches(batch_size=BATCH_ROWS, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise _unreadable(label, path, exc) from None
        yield batch


def _floats(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _basin(name: str, parts: list[tuple[np.ndarray, ...]], label: str, path: Path) -> Basin:
    """One basin from its runs of rows; with dates: sorted by date (stably, as
    :func:`read_predictions` sorts), a repeated date refused."""
    cols = [p[0] if len(parts) == 1 else np.concatenate(p) for p in zip(*parts, strict=True)]
    if len(cols) == 2:
        return Basin(name, cols[0], cols[1])
    qobs, qsim, dates = cols
    order = np.argsort(dates, kind="stable")
    dates, qobs, qsim = dates[order], qobs[order], qsim[order]
    if len(dates) > 1 and (np.diff(dates) == 0).any():
        raise _bad(label, path, f"repeats basin {name} on one date")
    return Basin(name, qobs, qsim, dates)
