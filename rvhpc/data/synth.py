"""Synthetic CAMELS US: a complete tree in the exact layout and formats of reference.md section 2.

Weather is seasonal and stochastic (Markov-chain precipitation occurrence with gamma amounts,
AR(1) temperature anomalies, radiation and day length from latitude). Discharge comes from a
bucket model (degree-day snow, a soil store with evapotranspiration, fast and slow linear
reservoirs, deep losses) whose parameters are functions of the generated attributes, so basins
differ strongly in how they answer the same weather and the 27 descriptors explain why. Basins
come in clusters of neighbours that share their meteorology (synth_attrs.NEIGHBOURS), so the
dynamic inputs alone cannot tell them apart: only the static attributes can.
Everything is vectorised across basins and drawn from ``numpy`` Generators seeded by the one
seed: one seed, one tree.

The files carry every trait of the published CAMELS US files that a reader meets: ``NA`` in the
text column ``geol_2nd_class`` and the numeric ``geol_porostiy`` and ``root_depth_50/99`` in
about the published shares, one basin with every hydrological signature but ``baseflow_index``
missing, leading spaces in ``dom_land_cover``, commas, periods and quote characters in gauge
names, a ``readme.txt`` next to the attribute files, tab-separated forcing whose three header
numbers are right-aligned, streamflow values right-aligned in runs of spaces with the flags
``A``, ``A:e`` and ``M`` (``-999.00``, a missing day).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from rvhpc import progress
from rvhpc.data import synth_attrs
from rvhpc.data.camels import ATTRIBUTE_DIR, CFS_TO_M3S, FORCING_DIR, STREAMFLOW_DIR
from rvhpc.errors import DataError

FORCING_COLUMNS = (
    "dayl(s)",
    "prcp(mm/day)",
    "srad(W/m2)",
    "swe(mm)",
    "tmax(C)",
    "tmin(C)",
    "vp(Pa)",
)


@dataclass
class SynthResult:
    """What :func:`synthesize` wrote."""

    root: Path
    basins: list[str]
    basin_file: Path
    dates: pd.DatetimeIndex


def _unit(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _solar(lat_deg: np.ndarray, doy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Extraterrestrial radiation (MJ/m2/day) and day length (s), FAO-56, shapes [n, T]."""
    phi = np.radians(lat_deg)[:, None]
    decl = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)[None, :]
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365.0)[None, :]
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1, 1))
    ra = (
        24
        * 60
        / np.pi
        * 0.0820
        * dr
        * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    )
    return ra, ws * 24 / np.pi * 3600.0


def _weather(rng: np.random.Generator, site: dict, dates: pd.DatetimeIndex) -> dict:
    """Daily weather [n_basins, n_days] for every basin at once; the random fields are drawn per
    cluster of neighbours (``site["region"]``) and shared by its basins."""
    n, t = len(site["lat"]), len(dates)
    reg = site["region"]
    n_reg = int(reg.max()) + 1
    doy = dates.day_of_year.to_numpy().astype(float)
    phase = 2 * np.pi * (doy - 1) / 365.25
    # temperature: lapse rate with elevation, colder and more seasonal to the north
    t_mean = (
        22.0
        - 0.55 * (site["lat"] - 30)
        - 6.0 * site["elev"] / 1000
        + rng.normal(0, 1.5, n_reg)[reg]
    )
    t_amp = 6.0 + 0.35 * (site["lat"] - 30) + rng.normal(0, 1.0, n_reg)[reg]
    anomaly = lfilter([1.0], [1.0, -0.7], rng.normal(0, 2.2, (n_reg, t)), axis=1)[reg]
    tavg = (
        t_mean[:, None]
        - t_amp[:, None] * np.cos(phase - 2 * np.pi * 15 / 365.25)[None, :]
        + anomaly
    )
    # precipitation: seasonal wet-day probability, persistence, gamma amounts
    season = 1 + site["p_season"][:, None] * np.cos(phase[None, :] - site["p_phase"][:, None])
    pi = np.clip(site["wet_frac"][:, None] * (1 + 0.5 * (season - 1)), 0.03, 0.9)
    r = site["persist"][:, None]
    p11, p01 = pi + r * (1 - pi), pi * (1 - r)
    u = rng.random((n_reg, t))[reg]
    wet = np.zeros((n, t), dtype=bool)
    state = u[:, 0] < pi[:, 0]
    for k in range(t):
        state = u[:, k] < np.where(state, p11[:, k], p01[:, k])
        wet[:, k] = state
    shape = 0.75
    amount = rng.gamma(shape, 1.0, (n_reg, t))[reg] * (
        site["p_target"][:, None] * season / pi / shape
    )
    prcp = np.where(wet, amount, 0.0)
    dtr = np.clip(
        7.0 + 6.0 * site["dryness"][:, None] - 4.0 * wet + rng.normal(0, 1.5, (n_reg, t))[reg],
        2.0,
        22.0,
    )
    tmax, tmin = tavg + dtr / 2, tavg - dtr / 2
    ra, dayl = _solar(site["lat"], doy)
    trans = np.clip(np.where(wet, 0.42, 0.72) + rng.normal(0, 0.06, (n_reg, t))[reg], 0.15, 0.8)
    srad = ra * trans * 1e6 / 86400.0
    humid = np.clip(
        0.82
        + 0.12 * wet
        + 0.1 * (1 - site["dryness"][:, None])
        + rng.normal(0, 0.04, (n_reg, t))[reg],
        0.5,
        1.0,
    )
    vp = 611.0 * np.exp(17.27 * tmin / (tmin + 237.3)) * humid
    pet = np.maximum(
        0.0023 * ra / 2.45 * (tavg + 17.8) * np.sqrt(np.maximum(tmax - tmin, 0.0)), 0.0
    )
    return dict(prcp=prcp, tmax=tmax, tmin=tmin, tavg=tavg, srad=srad, vp=vp, dayl=dayl, pet=pet)


def _bucket(w: dict, par: dict, spinup: int = 730) -> dict:
    """Snow, soil, fast and slow reservoirs; returns discharge parts (mm/day) and snow water."""
    prcp, tavg, pet = w["prcp"], w["tavg"], w["pet"]
    n, t = prcp.shape
    kf, ks = 1 - np.exp(-1 / par["k_fast"]), 1 - np.exp(-1 / par["k_slow"])
    swe, soil = np.zeros(n), 0.5 * par["smax"]
    fast, slow = np.zeros(n), par["g"] * 200.0
    out = {k: np.empty((n, t)) for k in ("qf", "qs", "swe")}

    def step(k: int, record: bool) -> None:
        nonlocal swe, soil, fast, slow
        snow = np.where(tavg[:, k] < par["t_snow"], prcp[:, k], 0.0)
        swe = swe + snow
        melt = np.minimum(swe, par["ddf"] * np.maximum(tavg[:, k] - par["t_melt"], 0.0))
        swe = swe - melt
        water = prcp[:, k] - snow + melt
        runoff = water * (soil / par["smax"]) ** par["beta"]
        soil = soil + water - runoff
        over = np.maximum(soil - par["smax"], 0.0)
        soil, runoff = soil - over, runoff + over
        et = np.minimum(
            soil, pet[:, k] * par["kc"] * np.minimum(1.0, soil / (par["lp"] * par["smax"]))
        )
        soil = soil - et
        fast = fast + (1 - par["g"]) * runoff
        slow = slow + par["g"] * runoff
        qf, qs = fast * kf, slow * ks
        fast, slow = fast - qf, (slow - qs) * (1 - par["loss"])
        if record:
            out["qf"][:, k], out["qs"][:, k], out["swe"][:, k] = qf, qs, swe

    for k in range(min(spinup, t)):
        step(k, False)
    for k in range(t):
        step(k, True)
    return out


def _parameters(a: pd.DataFrame) -> dict:
    """Bucket-model parameters as functions of the attributes (the descriptors explain them)."""
    perm = _unit(a["geol_permeability"].to_numpy(), -16.5, -11.0)
    depth = _unit(np.log(a["soil_depth_pelletier"].to_numpy()), np.log(0.3), np.log(50.0))
    cond = _unit(np.log(a["soil_conductivity"].to_numpy()), np.log(0.4), np.log(14.0))
    slope = _unit(np.log(a["slope_mean"].to_numpy()), np.log(1.0), np.log(250.0))
    area = _unit(np.log(a["area_gages2"].to_numpy()), np.log(5.0), np.log(25000.0))
    carb = a["carbonate_rocks_frac"].to_numpy()
    clay = a["clay_frac"].to_numpy() / 100
    forest = a["frac_forest"].to_numpy()
    elev = _unit(a["elev_mean"].to_numpy(), 0.0, 3500.0)
    g = 0.08 + 0.84 / (
        1 + np.exp(-6.0 * (0.45 * perm + 0.3 * cond + 0.25 * depth + 0.3 * carb - 0.55))
    )
    return dict(
        g=g,
        k_fast=1.0 + 7.0 * (1 - slope) + 3.0 * area,
        k_slow=12.0 + 320.0 * depth * (1.2 - 0.6 * perm),
        smax=40.0 + 700.0 * a["max_water_content"].to_numpy(),
        beta=1.0 + 5.0 * clay / 0.5,
        kc=0.55 + 0.5 * a["gvf_max"].to_numpy(),
        lp=np.full(len(a), 0.7),
        ddf=1.5 + 4.0 * (1 - forest),
        t_snow=-1.0 + 2.5 * elev,
        t_melt=-0.5 + 1.0 * forest,
        loss=0.004 * carb,
    )


def _gaps(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    """Missing-value mask: a few percent per basin, mostly in blocks, some single days."""
    mask = np.zeros((n, t), dtype=bool)
    frac = rng.uniform(0.0, 0.05, n)
    for i in range(n):
        budget = int(frac[i] * t)
        while budget > 0:
            length = min(int(rng.geometric(1 / 12)), budget)
            start = int(rng.integers(0, max(t - length, 1)))
            mask[i, start : start + length] = True
            budget -= length
        mask[i, rng.integers(0, t, max(1, t // 500))] = True
    return mask


def _write_forcing(
    path: Path, lat: float, elev: float, area_m2: int, prefix: list[str], cols: list[list]
) -> None:
    rows = "".join(
        [
            f"{p}{a:.2f}\t{b:.2f}\t{c:.2f}\t{d:.2f}\t{e:.2f}\t{f:.2f}\t{g:.2f}\n"
            for p, a, b, c, d, e, f, g in zip(prefix, *cols, strict=False)
        ]
    )
    header = "Year Mnth Day Hr\t" + "\t".join(FORCING_COLUMNS)
    # as published: the three header numbers right-aligned with leading spaces, then tabs
    path.write_text(f"{lat:7.2f}\n{elev:7.2f}\n{area_m2:>10d}\n{header}\n{rows}", encoding="utf-8")


def _write_streamflow(
    path: Path, basin: str, prefix: list[str], q: np.ndarray, flags: list[str]
) -> None:
    rows = "".join(
        [f"{basin} {p} {v:9.2f} {f}\n" for p, v, f in zip(prefix, q.tolist(), flags, strict=False)]
    )
    path.write_text(rows, encoding="utf-8")


BASIN_FILE = "basin_list.txt"
#: what marks a folder as holding a CAMELS US tree (synth writes into none without --overwrite)
CAMELS_MARKERS = (BASIN_FILE, ATTRIBUTE_DIR, FORCING_DIR, STREAMFLOW_DIR)


def check_target(root: Path, overwrite: bool) -> None:
    """Refuse a target that is a file, holds a file where synth needs a folder, or already holds
    CAMELS US files (unless ``overwrite``: then synth replaces only the files it writes)."""
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder; choose a folder for the synthetic tree")
    for sub in (FORCING_DIR, f"{FORCING_DIR}/maurer_extended", STREAMFLOW_DIR, ATTRIBUTE_DIR):
        if (root / sub).exists() and not (root / sub).is_dir():
            raise DataError(
                f"{root / sub}: is a file where the synthetic tree needs a folder; move it away "
                "or choose another folder"
            )
    if (root / BASIN_FILE).is_dir():
        raise DataError(f"{root / BASIN_FILE}: is a folder where synth writes the basin list")
    held = [m for m in CAMELS_MARKERS if (root / m).exists()]
    if held and not overwrite:
        raise DataError(
            f"{root}: already holds CAMELS US files ({', '.join(held)}); choose an empty folder, "
            "or pass --overwrite to replace the files synth writes (nothing else is touched)"
        )


def synthesize(
    out: str | os.PathLike,
    n_basins: int = 16,
    start: str = "1980-01-01",
    end: str = "2008-12-31",
    seed: int = 0,
    overwrite: bool = False,
) -> SynthResult:
    """Write a synthetic CAMELS US tree under ``out`` (plus ``out/basin_list.txt``) with the
    traits of the published files (module docstring).

    Parameters
    ----------
    out : folder to create or an empty one
    n_basins : number of basins
    start, end : first and last day of the daily series
    seed : seed of the random generators; same seed, same tree
    overwrite : write into a folder that already holds CAMELS US files, replacing only the files
        of the names synth writes

    Returns
    -------
    SynthResult with the root, basin ids (sorted), the basin list file and the date axis.

    Raises
    ------
    DataError : bad options, or a target that holds CAMELS files (without ``overwrite``) or a file
        where a folder is needed
    """
    root = Path(out)
    check_target(root, overwrite)
    try:
        return _synthesize(root, n_basins, start, end, seed)
    except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
        raise DataError(
            f"{exc.filename}: {exc.strerror}; a file stands where the synthetic tree needs a "
            "folder (or the reverse): move it away or choose another folder"
        ) from None


def _synthesize(root: Path, n_basins: int, start: str, end: str, seed: int) -> SynthResult:
    if n_basins < 1:
        raise DataError(f"--basins must be at least 1, got {n_basins}")
    try:
        dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    except (ValueError, TypeError) as exc:
        raise DataError(f"invalid --start/--end ({exc}); use YYYY-MM-DD") from None
    if len(dates) < 60:
        raise DataError(f"--start {start} .. --end {end} gives {len(dates)} days; need at least 60")
    rng = np.random.default_rng(seed)
    site = synth_attrs.sites(rng, n_basins)
    weather = _weather(rng, site, dates)
    attrs = synth_attrs.attributes(rng, site, weather, dates)
    par = _parameters(attrs)
    flows = _bucket(weather, par)
    q_true = flows["qf"] + flows["qs"]
    q_obs = q_true * np.exp(rng.normal(0, 0.08, q_true.shape))
    missing = _gaps(rng, n_basins, len(dates))
    estimated = rng.random(q_true.shape) < 0.03
    attrs = synth_attrs.add_hydro(attrs, weather, flows, q_true, dates)
    # a generator of its own: the published files' missing values change no other number
    attrs = synth_attrs.add_missing(attrs, np.random.default_rng([seed, 671]))
    area_m2 = np.round(
        attrs["area_gages2"].to_numpy() * 1e6 * rng.uniform(0.98, 1.02, n_basins)
    ).astype(np.int64)

    forcing_dir = root / FORCING_DIR / "maurer_extended"
    ymd = [f"{d.year} {d.month:02d} {d.day:02d}" for d in dates]
    prefix = [f"{s} 12\t" for s in ymd]
    basins = list(attrs.index)
    with progress.task("writing synthetic CAMELS US", total=n_basins) as bar:
        for i, basin in enumerate(basins):
            huc = attrs.loc[basin, "huc_02"]
            for folder in (forcing_dir / huc, root / STREAMFLOW_DIR / huc):
                folder.mkdir(parents=True, exist_ok=True)
            cols = [
                weather["dayl"][i],
                weather["prcp"][i],
                weather["srad"][i],
                flows["swe"][i],
                weather["tmax"][i],
                weather["tmin"][i],
                weather["vp"][i],
            ]
            _write_forcing(
                forcing_dir / huc / f"{basin}_lump_maurer_forcing_leap.txt",
                site["lat"][i],
                attrs.loc[basin, "elev_mean"],
                int(area_m2[i]),
                prefix,
                [c.tolist() for c in cols],
            )
            q_cfs = q_obs[i] * area_m2[i] / 1000.0 / 86400.0 / CFS_TO_M3S
            q_cfs = np.where(missing[i], -999.0, q_cfs)
            flags = np.where(missing[i], "M", np.where(estimated[i], "A:e", "A")).tolist()
            _write_streamflow(
                root / STREAMFLOW_DIR / huc / f"{basin}_streamflow_qc.txt", basin, ymd, q_cfs, flags
            )
            bar.advance()
    synth_attrs.write_attribute_files(root / ATTRIBUTE_DIR, attrs)
    basin_file = root / BASIN_FILE
    basin_file.write_text("".join(f"{b}\n" for b in basins), encoding="utf-8")
    return SynthResult(root, basins, basin_file, dates)
