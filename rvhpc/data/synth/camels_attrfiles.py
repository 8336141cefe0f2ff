"""The synthetic CAMELS US attribute files as published: missing values where the published files
have them, and the seven ``camels_<group>.txt`` files with their ``readme.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data.attributes import ATTRIBUTE_COLUMNS

#: the published files' share of missing values per column (671 basins: 138, 3 and 24 basins);
#: every synthetic tree holds at least one missing value per column, however few its basins
MISSING_SHARE = {
    ("geol_2nd_class",): 138 / 671,
    ("geol_porostiy",): 3 / 671,
    ("root_depth_50", "root_depth_99"): 24 / 671,
}
#: the hydrological signatures that are NA for one basin (all but baseflow_index, as 03281100)
SIGNATURES_MISSING = tuple(c for c in ATTRIBUTE_COLUMNS["hydro"] if c != "baseflow_index")


def add_missing(attrs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Missing values where the published files have them: in ``geol_2nd_class`` (text; its
    ``glim_2nd_class_frac`` then 0), ``geol_porostiy``, ``root_depth_50/99`` (the same basins)
    and every signature but ``baseflow_index`` of one basin. None of the 27 descriptors.

    Parameters
    ----------
    attrs : pd.DataFrame
        The complete attribute table; not changed.
    rng : np.random.Generator
        A generator of its own, so that the missing values change no other number.

    Returns
    -------
    pd.DataFrame
        A copy with the missing values (:data:`MISSING_SHARE`, :data:`SIGNATURES_MISSING`).
    """
    out = attrs.copy()
    n = len(out)
    for columns, share in MISSING_SHARE.items():
        rows = rng.choice(n, min(n, max(1, round(share * n))), replace=False)
        for col in columns:
            values = out[col].astype(object) if col == "geol_2nd_class" else out[col]
            values.iloc[np.sort(rows)] = None if col == "geol_2nd_class" else np.nan
            out[col] = values
        if columns == ("geol_2nd_class",):
            out.iloc[np.sort(rows), out.columns.get_loc("glim_2nd_class_frac")] = 0.0
    out.loc[out.index[int(rng.integers(0, n))], list(SIGNATURES_MISSING)] = np.nan
    return out


README = """Synthetic CAMELS US attributes written by `rvhpc data synth` (not the published data).

Like the published camels_attributes_v2.0 folder, this one holds this readme.txt next to the seven
camels_<group>.txt files: ';'-separated, first column gauge_id, missing values written NA, text
unquoted (gauge names hold commas and quote characters, dom_land_cover leading spaces).
"""


def _field(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "NA"
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


def write_attribute_files(folder: Path, attrs: pd.DataFrame) -> list[Path]:
    """The seven ``camels_<group>.txt`` files as published (``;``-separated, first column
    ``gauge_id``, missing values ``NA``, text unquoted) plus ``readme.txt``.

    Parameters
    ----------
    folder : Path
        The attribute folder (made when missing).
    attrs : pd.DataFrame
        Every column of :data:`rvhpc.data.attributes.ATTRIBUTE_COLUMNS`, index ``gauge_id``.

    Returns
    -------
    list[Path]
        The files written, ``readme.txt`` last.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for group, cols in ATTRIBUTE_COLUMNS.items():
        lines = [";".join(("gauge_id", *cols))]
        table = attrs.loc[:, list(cols)].astype(object)
        for gauge, row in zip(attrs.index, table.itertuples(index=False), strict=True):
            lines.append(";".join([gauge, *map(_field, row)]))
        path = folder / f"camels_{group}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        written.append(path)
    (folder / "readme.txt").write_text(README, encoding="ascii")
    return [*written, folder / "readme.txt"]
