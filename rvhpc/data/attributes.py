"""The seven CAMELS US attribute files (``camels_attributes_v2.0/camels_<group>.txt``): their
published columns and a reader that keeps ``NA`` missing and text as written.

Every problem a user can cause raises :class:`~rvhpc.errors.DataError` naming the file.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from rvhpc.data.camels import ATTRIBUTE_DIR, DESCRIPTORS
from rvhpc.errors import DataError

ATTRIBUTE_GROUPS = ("clim", "geol", "hydro", "name", "soil", "topo", "vege")
#: the columns of each published attribute file after ``gauge_id``, in file order (note the
#: published misspelling ``geol_porostiy``)
ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "clim": (
        "p_mean",
        "pet_mean",
        "p_seasonality",
        "frac_snow",
        "aridity",
        "high_prec_freq",
        "high_prec_dur",
        "high_prec_timing",
        "low_prec_freq",
        "low_prec_dur",
        "low_prec_timing",
    ),
    "geol": (
        "geol_1st_class",
        "glim_1st_class_frac",
        "geol_2nd_class",
        "glim_2nd_class_frac",
        "carbonate_rocks_frac",
        "geol_porostiy",
        "geol_permeability",
    ),
    "hydro": (
        "q_mean",
        "runoff_ratio",
        "slope_fdc",
        "baseflow_index",
        "stream_elas",
        "q5",
        "q95",
        "high_q_freq",
        "high_q_dur",
        "low_q_freq",
        "low_q_dur",
        "zero_q_freq",
        "hfd_mean",
    ),
    "name": ("huc_02", "gauge_name"),
    "soil": (
        "soil_depth_pelletier",
        "soil_depth_statsgo",
        "soil_porosity",
        "soil_conductivity",
        "max_water_content",
        "sand_frac",
        "silt_frac",
        "clay_frac",
        "water_frac",
        "organic_frac",
        "other_frac",
    ),
    "topo": (
        "gauge_lat",
        "gauge_lon",
        "elev_mean",
        "slope_mean",
        "area_gages2",
        "area_geospa_fabric",
    ),
    "vege": (
        "frac_forest",
        "lai_max",
        "lai_diff",
        "gvf_max",
        "gvf_diff",
        "dom_land_cover_frac",
        "dom_land_cover",
        "root_depth_50",
        "root_depth_99",
    ),
}
#: columns read as text whatever they hold (ids and codes with leading zeros)
TEXT_COLUMNS = ("gauge_id", "huc_02")


def attribute_file(root: str | os.PathLike, group: str) -> Path:
    """Path of the attribute file of ``group`` (one of :data:`ATTRIBUTE_GROUPS`)."""
    return Path(root) / ATTRIBUTE_DIR / f"camels_{group}.txt"


def read_attribute_file(path: str | os.PathLike) -> pd.DataFrame:
    """One ``camels_<group>.txt``: ``;``-separated, index ``gauge_id`` (str), ``NA`` = missing.

    Fields are never quoted in the published files: a quote character inside a gauge name is
    text, and commas are text too. Text is kept as written (leading spaces included)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: attribute file missing")
    try:
        df = pd.read_csv(
            path,
            sep=";",
            dtype={c: str for c in TEXT_COLUMNS},
            quoting=csv.QUOTE_NONE,
            encoding_errors="replace",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise malformed(path, exc) from None
    return by_gauge_id(df, [c.strip() for c in df.columns], path)


def malformed(path: Path, exc: Exception) -> DataError:
    """The one line of an attribute file pandas cannot parse."""
    return DataError(f"{path}: malformed attribute file ({str(exc).splitlines()[0][:120]})")


def by_gauge_id(df: pd.DataFrame, columns: list[str], path: Path) -> pd.DataFrame:
    """An attribute table with ``columns`` as its names, indexed by its stripped ``gauge_id``
    (refused when that column is missing or an id appears twice)."""
    df.columns = columns
    if "gauge_id" not in df.columns:
        raise DataError(f"{path}: no 'gauge_id' column in the first line")
    df["gauge_id"] = df["gauge_id"].astype(str).str.strip()
    df = df.set_index("gauge_id")
    if df.index.has_duplicates:
        raise DataError(f"{path}: gauge_id {df.index[df.index.duplicated()][0]} appears twice")
    return df


def read_attributes(root: str | os.PathLike, basins: list[str] | None = None) -> pd.DataFrame:
    """The seven ``camels_*.txt`` files joined on ``gauge_id`` (a string index); with ``basins``,
    DataError naming the first file that lacks one of them. Other files of the folder (the
    published ``readme.txt``) are never read."""
    joined: pd.DataFrame | None = None
    for group in ATTRIBUTE_GROUPS:
        path = attribute_file(root, group)
        df = read_attribute_file(path)
        absent = [b for b in basins or () if b not in df.index]
        if absent:
            more = f" ({len(absent)} basins missing)" if len(absent) > 1 else ""
            raise DataError(f"{path}: basin {absent[0]} is missing from the attribute file{more}")
        df = df.drop(columns=[c for c in df.columns if joined is not None and c in joined.columns])
        joined = df if joined is None else joined.join(df, how="outer")
    assert joined is not None
    return joined


def descriptor_table(
    attributes: pd.DataFrame, basins: list[str], names: tuple[str, ...] = DESCRIPTORS
) -> pd.DataFrame:
    """The descriptors (default: the study's 27) of ``basins`` (rows in that order) as float64."""
    from rvhpc.data.storeattrs import descriptor_values

    return descriptor_values(attributes, basins, list(names))
