"""Reading a cell's ``predictions.parquet`` (validated, basin-grouped arrays) and atomic writes."""

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


def read_predictions(path: Path, label: str, with_dates: bool = False) -> Series:
    """Read and check one predictions file; rows grouped by basin (and sorted by date if
    ``with_dates``).

    Raises
    ------
    CollectError
        The file is missing, truncated/corrupt, lacks a column, or holds duplicate (basin, date)
        rows.
    """
    columns = ["basin", "qobs", "qsim"] + (["date"] if with_dates else [])
    try:
        schema = pq.read_schema(path)
        missing = [c for c in REQUIRED if c not in schema.names]
        if missing:
            raise _bad(
                label, path, f"lacks column(s) {', '.join(missing)} (needs {', '.join(REQUIRED)})"
            )
        table = pq.read_table(path, columns=columns, read_dictionary=["basin"])
    except CollectError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _bad(label, path, f"is unreadable ({first[:160]})") from None
    if table.num_rows == 0:
        raise _bad(label, path, "has no rows")
    col = table.column("basin")
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    if col.null_count:
        raise _bad(label, path, "has empty basin ids")
    for name in ("qobs", "qsim"):
        kind = table.schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise _bad(label, path, f"column {name} is {kind}, not float64 mm/day")
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
