"""CAMELS US reader: forcings, streamflow, the seven attribute files and basin lists.

Layout and formats follow reference.md section 2. Files are found by the first 8 characters of
their name, in huc subfolders or directly in the forcing / streamflow folder. Every problem a user
can cause raises :class:`~rvhpc.errors.DataError` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.errors import DataError

#: the five dynamic inputs, in model order (column names of the forcing files)
DYNAMIC_INPUTS = ("prcp(mm/day)", "srad(W/m2)", "tmax(C)", "tmin(C)", "vp(Pa)")

#: the 27 physical descriptors, reference.md section 2 order
DESCRIPTORS = (
    "p_mean",
    "pet_mean",
    "p_seasonality",
    "frac_snow",
    "aridity",
    "high_prec_freq",
    "high_prec_dur",
    "low_prec_freq",
    "low_prec_dur",
    "carbonate_rocks_frac",
    "geol_permeability",
    "soil_depth_pelletier",
    "soil_depth_statsgo",
    "soil_porosity",
    "soil_conductivity",
    "max_water_content",
    "sand_frac",
    "silt_frac",
    "clay_frac",
    "elev_mean",
    "slope_mean",
    "area_gages2",
    "frac_forest",
    "lai_max",
    "lai_diff",
    "gvf_max",
    "gvf_diff",
)

#: forcing folders under ``basin_mean_forcing`` (same file format, other product)
FORCINGS = ("maurer_extended", "maurer", "daymet", "daymet_extended", "nldas", "nldas_extended")
ATTRIBUTE_DIR = "camels_attributes_v2.0"
FORCING_DIR = "basin_mean_forcing"
STREAMFLOW_DIR = "usgs_streamflow"
CFS_TO_M3S = 0.0283168466
FORCING_HEADER = (
    "Year",
    "Mnth",
    "Day",
    "Hr",
    "dayl(s)",
    "prcp(mm/day)",
    "srad(W/m2)",
    "swe(mm)",
    "tmax(C)",
    "tmin(C)",
    "vp(Pa)",
)


@dataclass
class Forcing:
    """One basin's forcing file: daily table (DatetimeIndex, lower-case column names) + header."""

    path: Path
    data: pd.DataFrame
    latitude: float
    elevation: float
    area_m2: float


def cfs_to_mm_per_day(q_cfs: np.ndarray, area_m2: float) -> np.ndarray:
    """Discharge in cubic feet per second to mm/day over ``area_m2``."""
    return np.asarray(q_cfs, dtype=np.float64) * CFS_TO_M3S * 86400.0 / area_m2 * 1000.0


def read_basin_list(path: str | os.PathLike) -> list[str]:
    """Basin ids (8 digits, one per line; blanks stripped, blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: basin list not found")
    basins: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(
        path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
    ):
        basin = line.strip()
        if not basin or basin.startswith("#"):
            continue
        if len(basin) != 8 or not basin.isdigit():
            raise DataError(f"{path}:{number}: {basin!r} is not an 8-digit basin id")
        if basin in first_line:
            raise DataError(
                f"{path}:{number}: basin {basin} is listed twice (first on line "
                f"{first_line[basin]}); remove the duplicate"
            )
        first_line[basin] = number
        basins.append(basin)
    if not basins:
        raise DataError(f"{path}: basin list is empty; put one 8-digit basin id per line")
    return basins


def check_root(root: str | os.PathLike, forcing: str = "maurer_extended") -> Path:
    """Check that ``root`` holds the CAMELS US folders; return it as a Path."""
    root = Path(root)
    if forcing not in FORCINGS:
        raise DataError(
            f"--forcing: unknown forcing {forcing!r} (a folder under {root / FORCING_DIR}): "
            f"choose one of {', '.join(FORCINGS)}"
        )
    if not root.is_dir():
        raise DataError(f"{root}: CAMELS root folder not found (pass --camels-root DIR)")
    for sub in (Path(FORCING_DIR) / forcing, Path(STREAMFLOW_DIR), Path(ATTRIBUTE_DIR)):
        if not (root / sub).is_dir():
            raise DataError(f"{root / sub}: folder missing from the CAMELS root {root}")
    return root


def index_files(folder: Path) -> dict[str, Path]:
    """Map the first 8 characters of every file name to its path (flat or one huc level deep)."""
    found: dict[str, Path] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir():
                with os.scandir(entry.path) as sub:
                    for f in sorted(sub, key=lambda e: e.name):
                        if f.is_file() and f.name.endswith(".txt"):
                            found.setdefault(f.name[:8], Path(f.path))
            elif entry.is_file() and entry.name.endswith(".txt"):
                found.setdefault(entry.name[:8], Path(entry.path))
    return found


def _parse_table(
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
        row = _first_bad_row(body.decode("utf-8", "replace"), len(names), text_cols)
        where = f"{path}:{first_line + row}" if row is not None else str(path)
        raise DataError(
            f"{where}: malformed row ({str(exc).splitlines()[0][:120]}); expected "
            f"{len(names)} whitespace-separated fields"
        ) from None
    return df


def _fast_numbers(body: bytes, n_fields: int, numeric: list[int]) -> np.ndarray | None:
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


def _first_bad_row(text: str, n_fields: int, text_cols: set[int]) -> int | None:
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


def _numbers(path: Path, df: pd.DataFrame, columns: list[str], first_line: int) -> np.ndarray:
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


def _days(path: Path, ymd: np.ndarray, first_line: int) -> np.ndarray:
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
    days = days.astype(np.int64)
    if len(days) > 1 and not (np.diff(days) > 0).all():
        order = np.argsort(days, kind="stable")
        repeats = order[1:][np.diff(days[order]) == 0]
        if len(repeats):
            first = days[int(repeats.min())].astype("datetime64[D]")
            raise DataError(f"{path}: date {first} appears twice")
    return days


def _index(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]"), name="date")


def _dates(path: Path, ymd: np.ndarray, first_line: int) -> pd.DatetimeIndex:
    """Dates from float columns year, month, day (vectorised; DataError on an invalid date)."""
    return _index(_days(path, ymd, first_line))


@dataclass
class ForcingArrays:
    """A forcing file as plain arrays: days since 1970-01-01 [T], values [T, columns] (float64)."""

    columns: list[str]
    days: np.ndarray
    values: np.ndarray
    latitude: float
    elevation: float
    area_m2: float


def read_forcing_arrays(path: str | os.PathLike, content: bytes | None = None) -> ForcingArrays:
    """:func:`read_forcing` without the pandas objects (what the store build needs)."""
    path = Path(path)
    parts = (path.read_bytes() if content is None else content).split(b"\n", 4)
    if len(parts) < 5:
        raise DataError(
            f"{path}: forcing file is too short (needs 3 header values, a column "
            f"header and daily rows)"
        )
    lines = [p.decode("utf-8", "replace") for p in parts[:4]]
    head = []
    for number, what in ((1, "latitude"), (2, "elevation"), (3, "catchment area (m^2)")):
        try:
            head.append(float(lines[number - 1].split()[0]))
        except (ValueError, IndexError):
            raise DataError(
                f"{path}:{number}: expected the {what} on line {number}, found "
                f"{lines[number - 1].strip()[:40]!r}"
            ) from None
    if not head[2] > 0:
        raise DataError(f"{path}:3: catchment area must be positive, found {head[2]}")
    names = [n.lower() for n in lines[3].split()]
    if names[:3] != ["year", "mnth", "day"]:
        raise DataError(f"{path}:4: expected the column header 'Year Mnth Day Hr ...' on line 4")
    missing = [c for c in DYNAMIC_INPUTS if c.lower() not in names]
    if missing:
        raise DataError(f"{path}:4: column header lacks {', '.join(missing)}")
    values = _fast_numbers(parts[4], len(names), list(range(len(names))))
    if values is None:
        values = _numbers(
            path, _parse_table(path, parts[4], names, first_line=5), names, first_line=5
        )
    days = _days(path, values[:, :3], first_line=5)
    keep = [k for k, n in enumerate(names) if n not in ("year", "mnth", "day", "hr")]
    columns = [{c.lower(): c for c in DYNAMIC_INPUTS}.get(names[k], names[k]) for k in keep]
    return ForcingArrays(columns, days, values[:, keep], head[0], head[1], head[2])


def read_forcing(path: str | os.PathLike, content: bytes | None = None) -> Forcing:
    """One basin's forcing file: lines 1-3 latitude, elevation, area (m^2), line 4 the header
    (``content``: the file's bytes when the caller already read them)."""
    f = read_forcing_arrays(path, content)
    data = pd.DataFrame(f.values, index=_index(f.days), columns=f.columns)
    return Forcing(Path(path), data, f.latitude, f.elevation, f.area_m2)


def read_streamflow_arrays(
    path: str | os.PathLike, area_m2: float, content: bytes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_streamflow` as (days since 1970-01-01 [T], mm/day [T])."""
    path = Path(path)
    names = ["basin", "year", "month", "day", "q", "flag"]
    body = path.read_bytes() if content is None else content
    values = _fast_numbers(body, len(names), [1, 2, 3, 4])
    if values is None:
        df = _parse_table(path, body, names, first_line=1, dtypes={"basin": str, "flag": str})
        if df.empty:
            raise DataError(f"{path}: streamflow file has no rows")
        values = _numbers(path, df, ["year", "month", "day", "q"], first_line=1)
    days = _days(path, values[:, :3], first_line=1)
    q = values[:, 3]
    q = np.where(q < 0, np.nan, q)  # -999 marks missing; other negatives are invalid readings
    return days, cfs_to_mm_per_day(q, area_m2)


def read_streamflow(
    path: str | os.PathLike, area_m2: float, content: bytes | None = None
) -> pd.Series:
    """Daily discharge in mm/day (NaN where -999 or negative) from a ``*_streamflow_qc.txt``."""
    days, q = read_streamflow_arrays(path, area_m2, content)
    return pd.Series(q, index=_index(days), name="qobs(mm/day)")
