"""Synthetic Caravan: a root in Caravan's layout (../shared/notes/caravan-format.md) with every
trait of the published files a reader meets, built from the CAMELS US synthesis (the same
weather, bucket hydrology and attributes, so the descriptors explain each basin's response).

- Four sub-datasets: ``camels`` (8-digit ids with leading zeros), ``camelsaus`` (ids such as
  ``camelsaus_102101A``), ``lamah`` (short ids, the v1.4 naming generation: one PET column
  ``potential_evaporation_sum`` and climate indices without ``_ERA5_LAND``, its columns in
  alphabetical order) and GRDC (upper-case ids ``GRDC_1159100`` in the folder ``grdc``).
- Both trees: ``timeseries/netcdf`` (netCDF-4, ``date`` as days since the first day) and
  ``timeseries/csv`` (pandas' CSV: empty fields for NaN, shortest float text), values rounded to
  2 decimals, 39 (v1.4) or 40 (v1.5) data columns; one basin's netCDF file is netCDF-3 (64-bit
  offset, ``days since 1951-01-01``), as a user may have re-saved it.
- NaN streamflow stretches in every basin; one basin whose streamflow is all NaN (and whose soil
  attributes are missing; listed only in ``basin_list_all.txt``); one record that starts a year
  late and one that ends a year early; negative values where ERA5-Land has them (thermal
  radiation, wind, temperatures).
- Attribute files ``attributes_{caravan,hydroatlas,other}_<prefix>.csv`` with rows and columns
  sorted, HydroATLAS class codes (``*_cl_smj``), a gauge name with a comma and quotes, an empty
  gauge name, ``country`` text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc import progress
from rvhpc.data.synth import attrs as synth_attrs
from rvhpc.data.synth import caravan_values as cv
from rvhpc.data.synth.camels import SynthResult
from rvhpc.data.synth.hydrology import bucket, gaps, parameters
from rvhpc.data.synth.target import refuse_occupied
from rvhpc.data.synth.weather import weather as make_weather
from rvhpc.errors import DataError
from rvhpc.runfiles import BASIN_LIST

#: (folder, naming generation, country) of the sub-datasets, in basin order
SUBDATASETS = (
    ("camels", "v1.5", "United States of America"),
    ("camelsaus", "v1.5", "Australia"),
    ("lamah", "v1.4", "Austria"),
    ("grdc", "v1.5", "Germany"),
)
BASIN_FILE, ALL_BASINS_FILE = BASIN_LIST, "basin_list_all.txt"
MARKERS = (BASIN_FILE, ALL_BASINS_FILE, "attributes", "timeseries")
LATE_DAYS = 366


def gauge_id(folder: str, site_id: str) -> str:
    """A sub-dataset's form of a synthetic 8-digit site id."""
    if folder == "camels":
        return f"camels_{site_id}"
    if folder == "camelsaus":
        return f"camelsaus_{site_id[2:]}{'AB'[int(site_id[-1]) % 2]}"
    if folder == "lamah":
        return f"lamah_{int(site_id[2:])}"
    return f"GRDC_{site_id[1:]}"


def _draw(seed: int, n_basins: int) -> tuple[np.random.Generator, dict, list]:
    """The generator after the sites, the sites of the usable basins and the all-NaN one, and
    each basin's sub-dataset (the first draws: :func:`caravan_ids` repeats them)."""
    rng = np.random.default_rng([seed, 2023])
    site = synth_attrs.sites(rng, n_basins + 1)
    return rng, site, [SUBDATASETS[k % len(SUBDATASETS)] for k in range(n_basins + 1)]


def caravan_ids(n_basins: int, seed: int) -> list[str]:
    """The usable basins ``rvhpc data synth --dataset caravan`` lists (``basin_list.txt``)."""
    _, site, folders = _draw(seed, n_basins)
    ids = [gauge_id(f[0], s) for f, s in zip(folders, site["id"], strict=True)]
    return sorted(ids[:-1])


def check_target(root: Path, overwrite: bool) -> None:
    """Refuse a file, or a folder already holding Caravan files unless ``overwrite``."""
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder; choose a folder for the synthetic tree")
    refuse_occupied(root, MARKERS, "Caravan", overwrite)


def synthesize_caravan(
    out, n_basins: int = 12, start: str = "1990-01-01", end: str = "2005-12-31", seed: int = 0,
    overwrite: bool = False,
) -> SynthResult:  # fmt: skip
    """Write a synthetic Caravan root under ``out`` (module docstring).

    Parameters
    ----------
    out : folder to create, or an empty one
    n_basins : usable basins (at least 4, one per sub-dataset; the all-NaN basin comes on top)
    start, end : first and last day of the records
    seed : seed of every draw: same seed, same files
    overwrite : write into a folder holding Caravan files, replacing only the files synth writes

    Returns
    -------
    SynthResult with the root, the usable basins, ``basin_list.txt`` and the date axis.

    Raises
    ------
    DataError : bad options or target
    """
    root = Path(out)
    check_target(root, overwrite)
    if n_basins < len(SUBDATASETS):
        raise DataError(
            f"--basins {n_basins}: synthetic Caravan needs at least {len(SUBDATASETS)} basins "
            "(one per sub-dataset)"
        )
    try:
        dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    except (ValueError, TypeError) as exc:
        raise DataError(f"invalid --start/--end ({exc}); use YYYY-MM-DD") from None
    if len(dates) < 2 * LATE_DAYS + 365:
        raise DataError(f"--start {start} .. --end {end}: synthetic Caravan needs 3 years or more")
    rng, site, folders = _draw(seed, n_basins)
    n = n_basins + 1  # the last one is the all-NaN basin
    w = make_weather(rng, site, dates)
    a = synth_attrs.attributes(rng, site, w, dates)
    flows = bucket(w, parameters(a))
    q = (flows["qf"] + flows["qs"]) * np.exp(rng.normal(0, 0.08, flows["qf"].shape))
    q = np.where(gaps(rng, n, len(dates)), np.nan, q)
    ids = [gauge_id(f[0], s) for f, s in zip(folders, site["id"], strict=True)]
    q[-1] = np.nan
    spans = [(0, len(dates))] * n
    spans[1], spans[2] = (LATE_DAYS, len(dates)), (0, len(dates) - LATE_DAYS)
    names = synth_attrs.gauge_names(n)  # commas, periods, a quote in the first
    names[2] = ""  # an empty gauge name
    tables = {}
    with progress.task("writing synthetic Caravan", total=n) as bar:
        for i, (gid, (folder, gen, country)) in enumerate(zip(ids, folders, strict=True)):
            series = cv.series(rng, w, flows, q, site, i, gen)
            lo, hi = spans[i]
            frame = pd.DataFrame(series, index=dates)[lo:hi]
            cv.write_csv(root / "timeseries/csv" / folder / f"{gid}.csv", frame, folder == "lamah")
            nc = root / "timeseries/netcdf" / folder / f"{gid}.nc"
            (cv.write_netcdf3 if i == 3 else cv.write_netcdf4)(nc, frame)
            rows = cv.attribute_rows(gid, frame, a.iloc[i], gen, country, names[i], i == n - 1)
            for kind, row in rows.items():
                tables.setdefault((folder, kind), []).append(row)
            bar.advance(info=gid)
    cv.write_attribute_files(root / "attributes", tables)
    basins = sorted(ids[:-1])
    (root / BASIN_FILE).write_text("".join(f"{b}\n" for b in basins), encoding="utf-8")
    (root / ALL_BASINS_FILE).write_text("".join(f"{b}\n" for b in sorted(ids)), encoding="utf-8")
    return SynthResult(root, basins, root / BASIN_FILE, dates)
