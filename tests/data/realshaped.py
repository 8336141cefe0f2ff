"""Hand-made CAMELS US trees shaped like the published files, one trait at a time.

:func:`make_base` writes a clean tree: the seven attribute files with every published column (no
missing value, plain text), space-separated forcing with left-aligned header numbers, streamflow
flagged ``A`` only. Each function of :data:`TRAITS` then adds one trait of the real files
(/work/shared/notes/camels-us-real-files.md) to such a tree, so a test can show rvhpc reads each
one in isolation, and :func:`make_real_shaped` adds them all.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from rvhpc.data.attributes import ATTRIBUTE_COLUMNS
from rvhpc.data.camels import DESCRIPTORS

#: three basins; the second stands for 03281100, whose signatures are missing in the real files
BASINS = ("01000001", "03281100", "12000002")
AREAS = {"01000001": 120_000_000, "03281100": 310_000_000, "12000002": 45_000_000}
START = pd.Timestamp("2000-01-01")
N_DAYS = 400
TRAIN = ("2000-06-01", "2000-12-31")
EVAL = ("2001-01-01", "2001-02-03")
TEXT = {
    "high_prec_timing": "jja",
    "low_prec_timing": "son",
    "geol_1st_class": "Siliciclastic sedimentary rocks",
    "geol_2nd_class": "Acid plutonic rocks",
    "dom_land_cover": "Mixed Forests",
    "gauge_name": "Plain Creek",
}
SIGNATURES = ATTRIBUTE_COLUMNS["hydro"]


def _value(column: str, i: int) -> float:
    """A plausible positive number per (column, basin): descriptors differ between basins."""
    if column == "area_gages2":
        return AREAS[BASINS[i]] / 1e6
    k = (DESCRIPTORS.index(column) if column in DESCRIPTORS else 31 + len(column)) + 1
    return round(0.1 * k + 0.37 * i * (1 + k % 3), 4)


def attribute_table() -> pd.DataFrame:
    rows = {}
    for cols in ATTRIBUTE_COLUMNS.values():
        for col in cols:
            if col in TEXT:
                rows[col] = [TEXT[col]] * len(BASINS)
            elif col == "huc_02":
                rows[col] = [b[:2] for b in BASINS]
            else:
                rows[col] = [_value(col, i) for i in range(len(BASINS))]
    return pd.DataFrame(rows, index=pd.Index(BASINS, name="gauge_id"), dtype=object)


def write_attributes(root: Path, table: pd.DataFrame) -> None:
    """The seven files as published: ``;``, unquoted text, ``NA`` for a missing value."""
    folder = root / "camels_attributes_v2.0"
    folder.mkdir(parents=True, exist_ok=True)
    for group, cols in ATTRIBUTE_COLUMNS.items():
        lines = [";".join(("gauge_id", *cols))]
        for basin in table.index:
            values = ["NA" if pd.isna(v) else str(v) for v in table.loc[basin, list(cols)]]
            lines.append(";".join([basin, *values]))
        (folder / f"camels_{group}.txt").write_text("\n".join(lines) + "\n")


def forcing_rows(i: int) -> list[list[str]]:
    rows = []
    for k in range(N_DAYS):
        d = START + pd.Timedelta(days=k)
        season = math.sin(2 * math.pi * k / 365.25)
        prcp = max(0.0, 3 + 4 * math.sin(0.7 * k + i) + 2 * season)
        rows.append(
            [
                f"{d.year}",
                f"{d.month:02d}",
                f"{d.day:02d}",
                "12",
                f"{40000 + 8000 * season:.2f}",
                f"{prcp:.2f}",
                f"{250 + 100 * season:.2f}",
                "0.00",
                f"{15 + 10 * season + i:.2f}",
                f"{3 + 10 * season + i:.2f}",
                f"{900 + 300 * season:.2f}",
            ]
        )
    return rows


def _forcing_path(root: Path, basin: str) -> Path:
    return (
        root
        / "basin_mean_forcing"
        / "maurer_extended"
        / basin[:2]
        / f"{basin}_lump_maurer_forcing_leap.txt"
    )


def _streamflow_path(root: Path, basin: str) -> Path:
    return root / "usgs_streamflow" / basin[:2] / f"{basin}_streamflow_qc.txt"


def write_forcing(root: Path, basin: str, tabs: bool) -> None:
    """Header numbers right-aligned and fields tab-separated (``tabs``), or plain and spaces."""
    i = BASINS.index(basin)
    head = ["44.82", "133.00", str(AREAS[basin])]
    if tabs:
        head = [f"{head[0]:>7}", f"{head[1]:>7}", f"{head[2]:>10}"]
    names = "Year Mnth Day Hr dayl(s) prcp(mm/day) srad(W/m2) swe(mm) tmax(C) tmin(C) vp(Pa)"
    sep = "\t" if tabs else " "
    lines = [*head, sep.join(names.split())] + [sep.join(r) for r in forcing_rows(i)]
    path = _forcing_path(root, basin)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def discharge_cfs(i: int, k: int) -> float:
    return round(50 + 30 * i + 20 * math.sin(2 * math.pi * k / 365.25 + 0.3 * i), 2)


def write_streamflow(root: Path, basin: str, flags: bool) -> None:
    """``A`` everywhere, or (``flags``) ``A:e`` on every 7th day and ``-999.00 M`` on days 50-54."""
    i = BASINS.index(basin)
    lines = []
    for k in range(N_DAYS):
        d = START + pd.Timedelta(days=k)
        q, flag = f"{discharge_cfs(i, k):.2f}", "A"
        if flags and 50 <= k < 55:
            q, flag = "-999.00", "M"
        elif flags and k % 7 == 3:
            flag = "A:e"
        lines.append(f"{basin} {d.year} {d.month:02d} {d.day:02d} {q:>8} {flag}")
    path = _streamflow_path(root, basin)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def make_base(root: Path) -> Path:
    """A clean tree with every published attribute column; basin list at root/basins.txt."""
    for basin in BASINS:
        write_forcing(root, basin, tabs=False)
        write_streamflow(root, basin, flags=False)
    write_attributes(root, attribute_table())
    (root / "basins.txt").write_text("".join(f"{b}\n" for b in BASINS))
    return root


def _edit_attributes(root: Path, edit) -> None:
    table = attribute_table_of(root)
    edit(table)
    write_attributes(root, table)


def attribute_table_of(root: Path) -> pd.DataFrame:
    """The tree's attributes as written (``NA`` -> missing), parsed without rvhpc."""
    frames = []
    for group in ATTRIBUTE_COLUMNS:
        path = root / "camels_attributes_v2.0" / f"camels_{group}.txt"
        lines = path.read_text().splitlines()
        header = lines[0].split(";")
        rows = [ln.split(";") for ln in lines[1:]]
        frame = pd.DataFrame(rows, columns=header, dtype=object).set_index("gauge_id")
        frames.append(frame.replace("NA", None))
    return pd.concat(frames, axis=1)


def _na_text(t: pd.DataFrame) -> None:
    t.loc[BASINS[0], "geol_2nd_class"] = None


def _na_numeric(t: pd.DataFrame) -> None:
    t.loc[BASINS[2], "geol_porostiy"] = None
    t.loc[BASINS[0], ["root_depth_50", "root_depth_99"]] = None


def _signatures(t: pd.DataFrame) -> None:
    t.loc[BASINS[1], [c for c in SIGNATURES if c != "baseflow_index"]] = None


def _leading_spaces(t: pd.DataFrame) -> None:
    t["dom_land_cover"] = ["    Mixed Forests", "    Croplands", "    Evergreen Needleleaf Forest"]


def _names(t: pd.DataFrame) -> None:
    t["gauge_name"] = [
        "Fish River near Fort Kent, Maine",
        'Bear Creek at "Old Mill" Bridge, nr. Salem, Oreg.',
        "Coeur d'Alene River at Enaville, Idaho",
    ]


def _readme(root: Path) -> None:
    (root / "camels_attributes_v2.0" / "readme.txt").write_text(
        "CAMELS attributes v2.0; see camels_*.txt\ngauge_id;not;an;attribute;file\n"
    )


def _tabs(root: Path) -> None:
    for basin in BASINS:
        write_forcing(root, basin, tabs=True)


def _flags(root: Path) -> None:
    for basin in BASINS:
        write_streamflow(root, basin, flags=True)


#: each trait of the real files as a function adding it to a tree
TRAITS = {
    "na_text": lambda r: _edit_attributes(r, _na_text),
    "na_numeric": lambda r: _edit_attributes(r, _na_numeric),
    "signatures_missing": lambda r: _edit_attributes(r, _signatures),
    "leading_spaces": lambda r: _edit_attributes(r, _leading_spaces),
    "commas_and_quotes": lambda r: _edit_attributes(r, _names),
    "readme": _readme,
    "tab_forcing": _tabs,
    "flags": _flags,
}


def make_real_shaped(root: Path) -> Path:
    """A tree with every trait of the real files at once."""
    make_base(root)
    for add in TRAITS.values():
        add(root)
    return root
