"""Daily time-series files in netCDF: netCDF-4 (HDF5, read with h5py) and netCDF-3 (classic and
64-bit offset, read with scipy), the two forms a Caravan file takes on a user's disk (the
published files are netCDF-4; one re-saved with xarray's defaults may be netCDF-3).

The ``date`` coordinate is decoded from its own ``units`` (``days since 1951-01-01``, ``hours since
...``) and ``calendar``, never from an assumed epoch; a date that is not a whole day, a calendar
other than the Gregorian one, or a file in another format (netCDF-3 with 64-bit data, ``CDF\\x05``)
is refused with one line naming the file. Values masked by ``_FillValue``/``missing_value`` become
NaN, packed ones are unpacked with ``scale_factor``/``add_offset``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.errors import DataError

_UNITS = re.compile(r"^\s*(days?|hours?|minutes?|seconds?)\s+since\s+(.+?)\s*$", re.I)
_SECONDS = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
GREGORIAN = ("standard", "gregorian", "proleptic_gregorian")
#: the first day on which the standard (Julian/Gregorian) and proleptic calendars agree
_GREGORIAN_START = np.datetime64("1582-10-15", "D")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class NcTable:
    """One file's variables along ``date``: days since 1970-01-01 [T] and 1-D float columns."""

    path: Path
    days: np.ndarray
    columns: dict[str, np.ndarray]


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value)


def decode_dates(path: Path, values: np.ndarray, units: str | None, calendar: str | None):
    """int64 days since 1970-01-01 of a ``date`` variable (module docstring for the rules)."""
    match = _UNITS.match(units or "")
    if match is None:
        raise DataError(
            f"{path}: variable 'date' has units {units!r}, not '<days|hours|...> since <date>'; "
            "rvhpc decodes dates from their units and will not guess an epoch"
        )
    cal = (calendar or "standard").strip().lower()
    if cal not in GREGORIAN:
        raise DataError(
            f"{path}: variable 'date' uses calendar {calendar!r}; rvhpc reads only the "
            f"Gregorian calendars ({', '.join(GREGORIAN)})"
        )
    try:
        ref = pd.Timestamp(match.group(2))
    except ValueError:
        raise DataError(
            f"{path}: variable 'date' has units {units!r} with an unreadable date"
        ) from None
    if ref.tzinfo is not None:
        ref = ref.tz_convert(None)
    step = _SECONDS[match.group(1).lower().rstrip("s")]
    seconds = np.asarray(values, dtype=np.float64) * step
    if not np.isfinite(seconds).all():
        raise DataError(f"{path}: variable 'date' holds missing values")
    ref_s = (ref - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    total = seconds + ref_s
    days = np.floor(total / 86400)
    if (days * 86400 != total).any():
        k = int(np.flatnonzero(days * 86400 != total)[0])
        raise DataError(
            f"{path}: date {k + 1} ({values[k]} {units}) is not a whole day; rvhpc reads daily "
            "series with dates at midnight"
        )
    days = days.astype(np.int64)
    if cal != "proleptic_gregorian" and len(days) and days.min() < _GREGORIAN_START.astype(int):
        raise DataError(f"{path}: dates before 1582-10-15 in calendar {cal!r} are not supported")
    return days


def _unpack(raw: np.ndarray, attrs: dict) -> np.ndarray:
    values = np.asarray(raw)
    masked = np.zeros(values.shape, bool)
    for key in ("_FillValue", "missing_value"):
        if key in attrs:
            for fill in np.atleast_1d(np.asarray(attrs[key])):
                masked |= np.isnan(values) if np.isnan(float(fill)) else values == fill
    scale, offset = attrs.get("scale_factor"), attrs.get("add_offset")
    if scale is not None or offset is not None:
        values = values.astype(np.float64) * float(np.asarray(scale if scale is not None else 1))
        values = values + float(np.asarray(offset if offset is not None else 0))
    out = values.astype(np.float32 if values.dtype == np.float32 else np.float64)
    if masked.any():
        out = out.copy()
        out[masked] = np.nan
    return out


def _read_hdf5(path: Path, names: list[str]) -> tuple[dict, dict, list[str]]:
    import h5py

    with h5py.File(path, "r") as f:
        if "date" not in f:
            raise DataError(f"{path}: no variable 'date' (the daily time axis of a Caravan file)")
        date = f["date"]
        attrs = {k: _text(v) for k, v in date.attrs.items() if k in ("units", "calendar")}
        present = [k for k, v in f.items() if isinstance(v, h5py.Dataset) and k != "date"]
        data = {n: (f[n][()], dict(f[n].attrs)) for n in names if n in present}
        return {"date": (date[()], attrs)}, data, present


def _read_cdf(path: Path, names: list[str]) -> tuple[dict, dict, list[str]]:
    from scipy.io import netcdf_file

    try:
        f = netcdf_file(path, "r", mmap=False, maskandscale=False)
    except (TypeError, ValueError, OSError) as exc:
        raise DataError(f"{path}: unreadable netCDF-3 file ({exc})") from None
    with f:
        if "date" not in f.variables:
            raise DataError(f"{path}: no variable 'date' (the daily time axis of a Caravan file)")
        date = f.variables["date"]
        attrs = {k: _text(v) for k, v in date._attributes.items() if k in ("units", "calendar")}
        present = [k for k in f.variables if k != "date"]
        data = {
            n: (f.variables[n].data.copy(), dict(f.variables[n]._attributes))
            for n in names
            if n in present
        }
        return {"date": (date.data.copy(), attrs)}, data, present


def read_table(path: Path, names: list[str]) -> tuple[NcTable, list[str]]:
    """The variables ``names`` of a netCDF file (those it holds) and the names of all its
    variables.

    Raises
    ------
    DataError
        Not netCDF-4 or netCDF-3 (classic, 64-bit offset), no ``date``, undecodable dates, a
        variable that is not one value per date.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if magic == HDF5_SIGNATURE:
        dates, data, present = _read_hdf5(path, names)
    elif magic[:4] in (b"CDF\x01", b"CDF\x02"):
        dates, data, present = _read_cdf(path, names)
    else:
        kind = "netCDF-3 with 64-bit data (CDF-5)" if magic[:4] == b"CDF\x05" else "not netCDF"
        raise DataError(
            f"{path}: {kind} (file signature {magic[:4]!r}); rvhpc reads netCDF-4 and netCDF-3 "
            "classic or 64-bit offset files: re-save it as one of those, or use the CSV tree"
        )
    raw, attrs = dates["date"]
    days = decode_dates(
        path, np.asarray(raw).reshape(-1), attrs.get("units"), attrs.get("calendar")
    )
    columns = {}
    for name, (values, var_attrs) in data.items():
        values = np.asarray(values)
        if values.shape != (len(days),):
            raise DataError(
                f"{path}: variable {name!r} has shape {values.shape}, not one value per date "
                f"({len(days)} dates)"
            )
        columns[name] = _unpack(values, var_attrs)
    return NcTable(path, days, columns), present
