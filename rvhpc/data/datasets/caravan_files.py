"""Caravan's files (../shared/notes/caravan-format.md): names of both naming generations, the
defaults and their reasons, and the reading of one basin's time series (CSV or netCDF) and of one
attribute file.

Naming generations: Caravan v1.5 renamed the ERA5-Land PET band and the climate indices built on
it; v1.4 files are read under the v1.5 names (:data:`RENAMED`), so one store can hold basins of
both generations and ``--inputs``/``--descriptors`` accept either spelling.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data import netcdf
from rvhpc.data.attributes import by_gauge_id, malformed
from rvhpc.data.datasets.base import BasinRecord
from rvhpc.data.textparse import unique_days
from rvhpc.errors import DataError

#: v1.4 name -> v1.5 name (time series and climate indices)
RENAMED = {
    "potential_evaporation_sum": "potential_evaporation_sum_ERA5_LAND",
    "pet_mean": "pet_mean_ERA5_LAND",
    "aridity": "aridity_ERA5_LAND",
    "moisture_index": "moisture_index_ERA5_LAND",
    "seasonality": "seasonality_ERA5_LAND",
}
TARGET = "streamflow"
DATE = "date"
FORMATS = ("netcdf", "csv")
SUFFIX = {"netcdf": ".nc", "csv": ".csv"}
#: attribute columns that are text, whatever they hold (never numbers, never descriptors)
TEXT_COLUMNS = ("gauge_id", "gauge_name", "country")

#: Default dynamic inputs: the ERA5-Land counterparts of the study's five Maurer forcings
#: (precipitation, shortwave radiation, daily maximum and minimum temperature, humidity: the dew
#: point stands for the vapour pressure it determines), so that a Caravan run asks the study's
#: question with the same kind of information; add PET, snow, soil water or wind with --inputs.
DEFAULT_INPUTS = (
    "total_precipitation_sum",
    "surface_net_solar_radiation_mean",
    "temperature_2m_max",
    "temperature_2m_min",
    "dewpoint_temperature_2m_mean",
)
#: Default ``physics`` descriptors: Caravan's 10 climate indices that both generations hold (v1.5
#: names), and HydroATLAS columns for the groups of the study's 27 CAMELS descriptors: elevation,
#: slope, soil texture and organic carbon, forest and crop cover, groundwater table depth, stream
#: gradient, and the catchment area. Caravan computes every one for every sub-dataset. The
#: HydroATLAS names follow HydroATLAS's scheme and third-party Caravan readers; rvhpc has not
#: seen the released files, so ``data check`` names any that a download lacks.
DEFAULT_DESCRIPTORS = (
    "p_mean", "pet_mean_ERA5_LAND", "aridity_ERA5_LAND", "frac_snow", "moisture_index_ERA5_LAND",
    "seasonality_ERA5_LAND", "high_prec_freq", "high_prec_dur", "low_prec_freq", "low_prec_dur",
    "ele_mt_sav", "slp_dg_sav", "cly_pc_sav", "slt_pc_sav", "snd_pc_sav", "soc_th_sav",
    "for_pc_sse", "crp_pc_sse", "gwt_cm_sav", "sgr_dk_sav", "area",
)  # fmt: skip


def v15(name: str) -> str:
    """The v1.5 spelling of a column name."""
    return RENAMED.get(name, name)


class MissingColumns(DataError):
    """A basin's file lacks requested columns (gathered into one finding per column)."""


def _missing(path: Path, absent: list[str]) -> tuple:
    return ("missing", str(path), tuple(absent))


def read_series(path: Path, fmt: str, inputs: tuple[str, ...]) -> BasinRecord | tuple:
    """One basin's time-series file as a record, or ``("missing", file, columns)`` when it lacks
    inputs or the streamflow column. Negative streamflow counts as missing (an invalid reading)."""
    raw = path.read_bytes()
    wanted = [*inputs, TARGET]
    if fmt == "csv":
        days, columns, present = _read_csv(path, raw, wanted)
    else:
        table, names = netcdf.read_table(path, [*names_in_file(wanted)])
        present = [v15(n) for n in names]
        days = unique_days(path, table.days)
        columns = {v15(k): v for k, v in table.columns.items()}
    absent = [c for c in wanted if c not in present]
    if absent:
        return _missing(path, absent)
    x = np.stack([np.asarray(columns[c], np.float32) for c in inputs], axis=1)
    q = np.asarray(columns[TARGET], np.float32)
    q = np.where(q < 0, np.float32(np.nan), q)
    return BasinRecord(
        days=days,
        x=x.reshape(len(days), len(inputs)),
        q_days=days,
        q=q,
        hashes={str(path): hashlib.sha256(raw).hexdigest()},
    )


def names_in_file(wanted: list[str]) -> list[str]:
    """Every spelling (v1.4 and v1.5) of the wanted columns."""
    old = {new: old for old, new in RENAMED.items()}
    return [n for c in wanted for n in ((c, old[c]) if c in old else (c,))]


def _read_csv(path: Path, raw: bytes, wanted: list[str]) -> tuple[np.ndarray, dict, list[str]]:
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    header = [h.strip().strip('"') for h in header]
    if DATE not in header:
        raise DataError(f"{path}: no '{DATE}' column in the header line")
    present = [v15(h) for h in header]
    use = [h for h in header if v15(h) in wanted]
    try:
        df = pd.read_csv(
            io.BytesIO(raw),
            usecols=[DATE, *use],
            dtype={DATE: str, **{h: np.float64 for h in use}},
            engine="c",
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: malformed CSV ({str(exc).splitlines()[0][:120]})") from None
    try:
        days = np.asarray(df[DATE].to_numpy(str), dtype="datetime64[D]").astype(np.int64)
    except ValueError:
        bad = next(k for k, d in enumerate(df[DATE]) if not _is_date(d))
        raise DataError(
            f"{path}:{bad + 2}: date {df[DATE].iloc[bad]!r} is not YYYY-MM-DD"
        ) from None
    return unique_days(path, days), {v15(h): df[h].to_numpy() for h in use}, present


def _is_date(text) -> bool:
    try:
        np.datetime64(str(text), "D")
        return len(str(text)) == 10
    except ValueError:
        return False


def series_span(path: Path, fmt: str, inputs: tuple = ()) -> tuple[int, int] | None:
    """(first, last) day of a file's rows without reading its values (None: unknown)."""
    try:
        if fmt == "netcdf":
            days = netcdf.read_table(path, [])[0].days
            return (int(days.min()), int(days.max())) if len(days) else None
        with open(path, "rb") as fh:
            head = fh.read(4096).split(b"\n")
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 4096))
            tail = [ln for ln in fh.read().split(b"\n") if ln.strip()]
        col = [h.strip().strip(b'"') for h in head[0].split(b",")].index(DATE.encode())
        first, last = (
            int(np.datetime64(row.split(b",")[col].decode(), "D").astype(np.int64))
            for row in (head[1], tail[-1])
        )
        return first, last
    except (OSError, ValueError, IndexError, DataError):
        return None


def read_attribute_csv(path: Path) -> pd.DataFrame:
    """One ``attributes_*_<prefix>.csv``: comma-separated (pandas quoting: a gauge name may hold
    commas and quotes), index ``gauge_id`` as text, text columns as text, v1.4 names renamed."""
    try:
        df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, encoding_errors="replace")
    except (ValueError, pd.errors.ParserError) as exc:
        raise malformed(path, exc) from None
    return by_gauge_id(df, [v15(str(c).strip()) for c in df.columns], path)
