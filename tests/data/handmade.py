"""Helpers: hand-made CAMELS US trees with the quirks of the real files (tabs, runs of spaces,
trailing blanks, flags such as ``A:e``, -999 and negative discharge)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rvhpc.data.camels import DESCRIPTORS

BASINS = ("01000001", "12000002")
AREAS = {"01000001": 100_000_000, "12000002": 250_000_000}
START = pd.Timestamp("2000-01-01")
N_DAYS = 40


def forcing_text(basin: str, area: int | None = 100_000_000, n_days: int = N_DAYS) -> str:
    """Forcing file text; day k has prcp = k/10, srad 100+k, tmax 10+k/100, tmin -1-k/100,
    vp 500+k."""
    lines = ["  44.5 ", "250.5\t"]
    if area is not None:
        lines.append(f"{area}   ")
    lines.append(
        "Year Mnth Day Hr\tdayl(s)\tprcp(mm/day)\tsrad(W/m2)\tswe(mm)\ttmax(C)\ttmin(C)\tvp(Pa)"
    )
    for k in range(n_days):
        d = START + pd.Timedelta(days=k)
        sep = "\t" if k % 2 else "   "  # alternate tabs and runs of spaces
        trail = "  " if k % 3 == 0 else ""  # trailing blanks on some rows
        lines.append(
            sep.join(
                [
                    f"{d.year} {d.month:02d} {d.day:02d} 12",
                    "36000.00",
                    f"{k / 10:.2f}",
                    f"{100 + k:.2f}",
                    "0.00",
                    f"{10 + k / 100:.2f}",
                    f"{-1 - k / 100:.2f}",
                    f"{500 + k:.2f}",
                ]
            )
            + trail
        )
    return "\n".join(lines) + "\n"


def streamflow_text(basin: str, n_days: int = N_DAYS) -> str:
    """Q = 100 + k cfs, except day 3 (-999, M), day 5 (-5.0, negative) and flags A:e on day 7."""
    lines = []
    for k in range(n_days):
        d = START + pd.Timedelta(days=k)
        q, flag = f"{100 + k:.2f}", "A"
        if k == 3:
            q, flag = "-999.00", "M"
        elif k == 5:
            q = "-5.00"
        elif k == 7:
            flag = "A:e"
        sep = "\t" if k % 2 else " "
        lines.append(
            f"{basin} {d.year} {d.month:02d}\t{d.day:02d}{sep}  {q} {flag}"
            + (" " if k % 4 == 0 else "")
        )
    return "\n".join(lines) + "\n"


def attribute_frames(basins) -> dict[str, pd.DataFrame]:
    groups = {
        "clim": DESCRIPTORS[:9] + ("high_prec_timing",),
        "geol": ("geol_1st_class",) + DESCRIPTORS[9:11],
        "hydro": ("q_mean", "runoff_ratio"),
        "name": ("huc_02", "gauge_name"),
        "soil": DESCRIPTORS[11:19],
        "topo": ("gauge_lat", "gauge_lon") + DESCRIPTORS[19:22],
        "vege": DESCRIPTORS[22:],
    }
    frames = {}
    for g, cols in groups.items():
        data = {}
        for j, c in enumerate(cols):
            if c in ("high_prec_timing", "geol_1st_class", "gauge_name"):
                data[c] = [f"text {b}" for b in basins]
            elif c == "huc_02":
                data[c] = [b[:2] for b in basins]
            else:
                data[c] = [
                    float(DESCRIPTORS.index(c) if c in DESCRIPTORS else j) + i * 0.5
                    for i, _ in enumerate(basins)
                ]
        frames[g] = pd.DataFrame(data, index=pd.Index(list(basins), name="gauge_id"))
    return frames


def make_tree(
    root: Path, basins=BASINS, flat: bool = False, forcing: str = "maurer_extended"
) -> Path:
    """Write a small CAMELS US tree by hand; returns ``root`` (basin list at root/basins.txt)."""
    for basin in basins:
        huc = "" if flat else basin[:2]
        fdir = root / "basin_mean_forcing" / forcing / huc
        qdir = root / "usgs_streamflow" / huc
        fdir.mkdir(parents=True, exist_ok=True)
        qdir.mkdir(parents=True, exist_ok=True)
        (fdir / f"{basin}_lump_maurer_forcing_leap.txt").write_text(
            forcing_text(basin, AREAS[basin])
        )
        (qdir / f"{basin}_streamflow_qc.txt").write_text(streamflow_text(basin))
    adir = root / "camels_attributes_v2.0"
    adir.mkdir(parents=True, exist_ok=True)
    for g, df in attribute_frames(basins).items():
        df.to_csv(adir / f"camels_{g}.txt", sep=";")
    (root / "basins.txt").write_text("".join(f" {b}  \n" for b in basins) + "\n")
    return root


HAND_TRAIN = ("2000-01-20", "2000-02-09")
HAND_EVAL = ("2000-01-05", "2000-01-19")


def q_mm(q_cfs: float, area_m2: float) -> float:
    return q_cfs * 0.0283168466 * 86400 / area_m2 * 1000
