"""CAMELS US reader: forcings, streamflow, the seven attribute files and basin lists.

Layout and formats follow reference.md section 2. Files are found by the first 8 characters of
their name, in huc subfolders or directly in the forcing / streamflow folder. Every problem a user
can cause raises :class:`~rvhpc.errors.DataError` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data import basinlist
from rvhpc.data.textparse import day_index, fast_numbers, numbers, parse_table, ymd_days
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


def is_camels_id(basin: str) -> bool:
    """A CAMELS US gauge id: 8 digits (leading zeros kept)."""
    return len(basin) == 8 and basin.isdigit()


def read_basin_list(path: str | os.PathLike) -> list[str]:
    """Basin ids (8 digits, one per line; blanks stripped, blank lines skipped)."""
    return basinlist.read_basin_list(path, is_camels_id, "8-digit basin id")


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


def forcing_span(path: Path) -> tuple[int, int] | None:
    """(first, last) day (days since 1970-01-01) of a forcing file from its first and last data
    rows, without parsing the rest; None when those rows are not dates (the full read says why).

    The store build sizes its date axis with it before reading any basin."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).split(b"\n")
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 4096))
            tail = [ln for ln in fh.read().split(b"\n") if ln.strip()]
        rows = (head[4].split()[:3], tail[-1].split()[:3])
        first, last = (
            int(np.datetime64(f"{int(y):04d}-{int(m):02d}-{int(d):02d}", "D").astype(np.int64))
            for y, m, d in rows
        )
    except (OSError, ValueError, IndexError):
        return None
    return first, last


@dataclass
class ForcingArrays:
    """A forcing file as plain arrays: days since 1970-01-01 [T], values [T, columns] (float64)."""

    columns: list[str]
    days: np.ndarray
    values: np.ndarray
    latitude: float
    elevation: float
    area_m2: float


def read_forcing_arrays(
    path: str | os.PathLike,
    content: bytes | None = None,
    required: tuple[str, ...] = DYNAMIC_INPUTS,
) -> ForcingArrays:
    """:func:`read_forcing` without the pandas objects (what the store build needs); the header
    must hold the columns ``required``."""
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
    missing = [c for c in required if c.lower() not in names]
    if missing:
        raise DataError(f"{path}:4: column header lacks {', '.join(missing)}")
    values = fast_numbers(parts[4], len(names), list(range(len(names))))
    if values is None:
        values = numbers(
            path, parse_table(path, parts[4], names, first_line=5), names, first_line=5
        )
    days = ymd_days(path, values[:, :3], first_line=5)
    keep = [k for k, n in enumerate(names) if n not in ("year", "mnth", "day", "hr")]
    spelled = {c.lower(): c for c in FORCING_HEADER}
    columns = [spelled.get(names[k], names[k]) for k in keep]
    return ForcingArrays(columns, days, values[:, keep], head[0], head[1], head[2])


def read_forcing(path: str | os.PathLike, content: bytes | None = None) -> Forcing:
    """One basin's forcing file: lines 1-3 latitude, elevation, area (m^2), line 4 the header
    (``content``: the file's bytes when the caller already read them)."""
    f = read_forcing_arrays(path, content)
    data = pd.DataFrame(f.values, index=day_index(f.days), columns=f.columns)
    return Forcing(Path(path), data, f.latitude, f.elevation, f.area_m2)


def read_streamflow_arrays(
    path: str | os.PathLike, area_m2: float, content: bytes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_streamflow` as (days since 1970-01-01 [T], mm/day [T])."""
    path = Path(path)
    names = ["basin", "year", "month", "day", "q", "flag"]
    body = path.read_bytes() if content is None else content
    values = fast_numbers(body, len(names), [1, 2, 3, 4])
    if values is None:
        df = parse_table(path, body, names, first_line=1, dtypes={"basin": str, "flag": str})
        if df.empty:
            raise DataError(f"{path}: streamflow file has no rows")
        values = numbers(path, df, ["year", "month", "day", "q"], first_line=1)
    days = ymd_days(path, values[:, :3], first_line=1)
    q = values[:, 3]
    q = np.where(q < 0, np.nan, q)  # -999 marks missing; other negatives are invalid readings
    return days, cfs_to_mm_per_day(q, area_m2)


def read_streamflow(
    path: str | os.PathLike, area_m2: float, content: bytes | None = None
) -> pd.Series:
    """Daily discharge in mm/day (NaN where -999 or negative) from a ``*_streamflow_qc.txt``."""
    days, q = read_streamflow_arrays(path, area_m2, content)
    return pd.Series(q, index=day_index(days), name="qobs(mm/day)")
