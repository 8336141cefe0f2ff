"""Whitespace-separated tables of numbers (CAMELS US forcing and streamflow files) parsed fast,
with a careful second pass that names the first bad row; dates from year, month, day columns.

Every problem raises :class:`~rvhpc.errors.DataError` with ``file:line`` and what is wrong.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.errors import DataError


def parse_table(
    path: Path,
    body: bytes,
    names: list[str],
    first_line: int,
    dtypes: dict[str, type] | None = None,
) -> pd.DataFrame:
    """Whitespace table (tabs, runs of spaces, trailing blanks) with a precise error on bad rows."""
    try:
        df = pd.read_csv(
            io.BytesIO(body),
            sep=r"\s+",
            header=None,
            names=names,
            dtype=dtypes,
            engine="c",
            skip_blank_lines=True,
            encoding_errors="replace",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        text_cols = {names.index(c) for c in (dtypes or {})}
        row = first_bad_row(body.decode("utf-8", "replace"), len(names), text_cols)
        where = f"{path}:{first_line + row}" if row is not None else str(path)
        raise DataError(
            f"{where}: malformed row ({str(exc).splitlines()[0][:120]}); expected "
            f"{len(names)} whitespace-separated fields"
        ) from None
    return df


def fast_numbers(body: bytes, n_fields: int, numeric: list[int]) -> np.ndarray | None:
    """The common case in one C-parser pass: fields ``numeric`` as float64 [rows, len(numeric)],
    or None when any row is off (then the careful path parses again and names the bad row).

    Every row must have at most ``n_fields`` fields and numbers in every numeric field, so this
    accepts only tables the careful path accepts, with the same values (same C converter)."""
    dtypes = {k: (np.float64 if k in numeric else object) for k in range(n_fields)}
    try:
        df = pd.read_csv(
            io.BytesIO(body),
            sep=r"\s+",
            header=None,
            names=range(n_fields),
            dtype=dtypes,
            engine="c",
            skip_blank_lines=True,
        )
    except (ValueError, OverflowError):  # ParserError, EmptyDataError, UnicodeDecodeError included
        return None
    values = (
        df.to_numpy(np.float64)
        if len(numeric) == n_fields
        else df.iloc[:, numeric].to_numpy(np.float64)
    )
    if not len(values) or np.isnan(values).any():
        return None
    return values


def first_bad_row(text: str, n_fields: int, text_cols: set[int]) -> int | None:
    """0-based index of the first non-blank row with too many fields or a field not a number."""
    numeric = [i for i in range(n_fields) if i not in text_cols]
    for k, line in enumerate(text.splitlines()):
        fields = line.split()
        if not fields:
            continue
        if len(fields) > n_fields:
            return k
        try:
            [float(fields[i]) for i in numeric if i < len(fields)]
        except ValueError:
            return k
    return None


def numbers(path: Path, df: pd.DataFrame, columns: list[str], first_line: int) -> np.ndarray:
    """``df[columns]`` as float64 [rows, columns]; DataError naming the first row that is not
    numbers."""
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col].dtype):
            values = pd.to_numeric(df[col], errors="coerce")
            bad = int(np.flatnonzero(values.isna().to_numpy() & df[col].notna().to_numpy())[0])
            raise DataError(
                f"{path}:{first_line + bad}: malformed row, field {col!r} is "
                f"{df[col].iloc[bad]!r}, not a number"
            )
    values = df[columns].to_numpy(np.float64)
    missing = np.isnan(values).any(axis=1)
    if missing.any():
        bad = int(np.flatnonzero(missing)[0])
        col = columns[int(np.flatnonzero(np.isnan(values[bad]))[0])]
        raise DataError(f"{path}:{first_line + bad}: malformed row, field {col!r} is missing")
    return values


def ymd_days(path: Path, ymd: np.ndarray, first_line: int) -> np.ndarray:
    """Days since 1970-01-01 (int64) from float columns year, month, day (vectorised; DataError on
    an invalid or repeated date)."""
    y, m, d = (ymd[:, k].astype(np.int64) for k in range(3))
    months = (y - 1970) * 12 + (m - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (d - 1)
    bad = (
        (m < 1)
        | (m > 12)
        | (d < 1)
        | (days.astype("datetime64[M]") != months.astype("datetime64[M]"))
    )
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}:{first_line + k}: invalid date {y[k]}-{m[k]:02d}-{d[k]:02d}")
    return unique_days(path, days.astype(np.int64))


def unique_days(path: Path, days: np.ndarray) -> np.ndarray:
    """``days`` (int64 days since 1970-01-01) unchanged; DataError naming a repeated date."""
    if len(days) > 1 and not (np.diff(days) > 0).all():
        order = np.argsort(days, kind="stable")
        repeats = order[1:][np.diff(days[order]) == 0]
        if len(repeats):
            first = days[int(repeats.min())].astype("datetime64[D]")
            raise DataError(f"{path}: date {first} appears twice")
    return days


def day_index(days: np.ndarray) -> pd.DatetimeIndex:
    """A ``date`` DatetimeIndex of int64 days since 1970-01-01."""
    return pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]"), name="date")
