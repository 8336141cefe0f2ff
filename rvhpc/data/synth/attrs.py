"""Attributes of the synthetic CAMELS US basins: sites, the seven attribute tables (the real
CAMELS v2.0 column names), climate and hydrology signatures computed from the generated series."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data.attributes import ATTRIBUTE_COLUMNS

_SEASONS = np.array(["djf", "mam", "jja", "son"])
_GEOL = np.array(
    [
        "Siliciclastic sedimentary rocks",
        "Carbonate sedimentary rocks",
        "Metamorphics",
        "Unconsolidated sediments",
        "Acid plutonic rocks",
        "Basic volcanic rocks",
    ]
)
_COVER = np.array(
    [
        "    Evergreen Needleleaf Forest",
        "    Deciduous Broadleaf Forest",
        "    Mixed Forests",
        "    Croplands",
        "    Grasslands",
        "    Open Shrublands",
    ]
)


_RIVERS = (
    "Fish River",
    "Bear Creek",
    "St. Croix River",
    "Coeur d'Alene River",
    "Big Sandy Creek",
    "N.F. Clearwater River",
    "Mill Brook",
    "Rio Grande",
)
_PLACES = (
    "near Fort Kent, Maine",
    "at Salem, Oregon",
    "bl Dam nr Ashland, Ky.",
    "near Hope, Arkansas",
    "at Spring Valley, Minn.",
    "abv Lake Placid, NY",
)


def gauge_names(n: int) -> list[str]:
    """Gauge names as the published ones are written: free text with commas and periods; the first
    holds a double quote and some an apostrophe (``'``), so no reader may take quotes as quoting."""
    names = [f"{_RIVERS[i % len(_RIVERS)]} {_PLACES[(3 * i) % len(_PLACES)]}" for i in range(n)]
    names[0] = 'Bear Creek at "Old Mill" Bridge, near Salem, Oregon'
    return names


#: the published files' share of missing values per column (671 basins: 138, 3 and 24 basins);
#: every synthetic tree holds at least one missing value per column, however few its basins
MISSING_SHARE = {
    ("geol_2nd_class",): 138 / 671,
    ("geol_porostiy",): 3 / 671,
    ("root_depth_50", "root_depth_99"): 24 / 671,
}
#: the hydrological signatures that are NA for one basin (all but baseflow_index, as 03281100)
SIGNATURES_MISSING = (
    "q_mean",
    "runoff_ratio",
    "slope_fdc",
    "stream_elas",
    "q5",
    "q95",
    "high_q_freq",
    "high_q_dur",
    "low_q_freq",
    "low_q_dur",
    "zero_q_freq",
    "hfd_mean",
)


def add_missing(attrs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Missing values where the published files have them: in ``geol_2nd_class`` (text; its
    ``glim_2nd_class_frac`` then 0), ``geol_porostiy``, ``root_depth_50/99`` (the same basins)
    and every signature but ``baseflow_index`` of one basin. None of the 27 descriptors."""
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


#: gauges per cluster of neighbours that share one meteorology (like nested and adjacent CAMELS
#: gauges): their dynamic inputs are all but identical, so only their attributes tell them apart
NEIGHBOURS = 4


def sites(rng: np.random.Generator, n: int) -> dict:
    """Location, elevation and climate drivers of ``n`` basins, sorted by their 8-digit id.

    Basins come in clusters of up to :data:`NEIGHBOURS` neighbours (``region``) that share their
    climate drivers (up to tiny jitters) and their daily weather; soils, geology and vegetation are
    drawn per basin in :func:`attributes`.
    """
    n_regions = max(1, -(-n // NEIGHBOURS))
    region = rng.permutation(n) % n_regions
    p_target_r = np.clip(np.exp(rng.normal(np.log(2.8), 0.5, n_regions)), 0.8, 9.0)
    p_target = p_target_r[region] * np.exp(rng.normal(0, 0.02, n))
    dryness = np.clip((np.log(8.0) - np.log(p_target)) / (np.log(8.0) - np.log(0.6)), 0, 1)
    huc = rng.integers(1, 19, n_regions)[region]
    serial = rng.choice(np.arange(100000, 999999), n, replace=False)
    ids = np.array([f"{h:02d}{s:06d}" for h, s in zip(huc, serial, strict=False)])
    wet_noise = rng.normal(0, 0.04, n_regions)[region]
    site = dict(
        id=ids,
        huc=huc,
        region=region,
        lat=rng.uniform(30.0, 48.5, n_regions)[region] + rng.normal(0, 0.02, n),
        lon=rng.uniform(-123.5, -68.5, n_regions)[region] + rng.normal(0, 0.02, n),
        elev=np.clip(
            np.exp(rng.normal(np.log(550.0), 0.9, n_regions))[region]
            * np.exp(rng.normal(0, 0.02, n)),
            15.0,
            3500.0,
        ),
        p_target=p_target,
        dryness=dryness,
        p_season=rng.uniform(0.0, 0.8, n_regions)[region],
        p_phase=rng.uniform(0, 2 * np.pi, n_regions)[region],
        wet_frac=np.clip(0.12 + 0.4 * (1 - dryness) + wet_noise, 0.08, 0.7),
        persist=rng.uniform(0.15, 0.5, n_regions)[region],
    )
    order = np.argsort(ids)
    return {k: v[order] for k, v in site.items()}


def _mean_run(mask: np.ndarray) -> np.ndarray:
    starts = mask & ~np.concatenate([np.zeros((mask.shape[0], 1), bool), mask[:, :-1]], axis=1)
    return mask.sum(1) / np.maximum(starts.sum(1), 1)


def _timing(mask: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    season = (dates.month.to_numpy() % 12) // 3
    counts = np.stack([mask[:, season == s].sum(1) for s in range(4)], axis=1)
    return _SEASONS[counts.argmax(1)]


def _climate(w: dict, dates: pd.DatetimeIndex) -> dict:
    prcp, tavg = w["prcp"], w["tavg"]
    years = len(dates) / 365.25
    p_mean, pet_mean = prcp.mean(1), w["pet"].mean(1)
    phase = 2 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25
    harm = np.exp(-1j * phase)[None, :]
    cp, ct = (prcp * harm).mean(1), (tavg * harm).mean(1)
    high, low = prcp >= 5 * p_mean[:, None], prcp < 1.0
    return dict(
        p_mean=p_mean,
        pet_mean=pet_mean,
        p_seasonality=2 * np.abs(cp) / p_mean * np.cos(np.angle(cp) - np.angle(ct)),
        frac_snow=(prcp * (tavg < 0)).sum(1) / prcp.sum(1),
        aridity=pet_mean / p_mean,
        high_prec_freq=high.sum(1) / years,
        high_prec_dur=_mean_run(high),
        high_prec_timing=_timing(high, dates),
        low_prec_freq=low.sum(1) / years,
        low_prec_dur=_mean_run(low),
        low_prec_timing=_timing(low, dates),
    )


def attributes(
    rng: np.random.Generator, site: dict, weather: dict, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """All attribute columns but the hydrological signatures, index ``gauge_id`` (str)."""
    n = len(site["id"])
    clim = _climate(weather, dates)
    wet = 1 - site["dryness"]
    slope = np.clip(
        np.exp(rng.normal(np.log(18.0) + 1.1 * (site["elev"] / 1000 - 0.6), 0.75, n)), 0.8, 255.0
    )
    carbonate = np.where(rng.random(n) < 0.3, rng.uniform(0.05, 1.0, n), 0.0)
    texture = rng.dirichlet([3.0, 2.5, 1.5], n) * 100
    statsgo = np.clip(0.35 + 1.15 * rng.beta(2, 2, n), 0.3, 1.5)
    porosity = 0.36 + 0.14 * rng.beta(2, 2, n)
    forest = np.clip(1.1 / (1 + np.exp(-4 * (wet - 0.45))) + rng.normal(0, 0.12, n), 0, 1)
    lai_max = np.clip(
        0.5 + 4.8 * forest * rng.uniform(0.7, 1.1, n) + rng.normal(0, 0.3, n), 0.3, 6.0
    )
    gvf_max = np.clip(0.3 + 0.62 * (1 - np.exp(-lai_max / 2)) + rng.normal(0, 0.03, n), 0.15, 0.95)
    area = np.clip(np.exp(rng.normal(np.log(350.0), 1.3, n)), 4.0, 25000.0)
    geol1 = rng.integers(0, len(_GEOL), n)
    geol1 = np.where(carbonate > 0.5, 1, geol1)
    a = dict(clim)
    a.update(
        geol_1st_class=_GEOL[geol1],
        glim_1st_class_frac=rng.uniform(0.4, 1.0, n),
        geol_2nd_class=_GEOL[(geol1 + 1 + rng.integers(0, 4, n)) % len(_GEOL)],
        glim_2nd_class_frac=rng.uniform(0.0, 0.4, n),
        carbonate_rocks_frac=carbonate,
        geol_porostiy=rng.uniform(0.01, 0.25, n),
        geol_permeability=np.clip(rng.normal(-14.0, 1.1, n) + 1.6 * carbonate, -16.5, -10.9),
        huc_02=np.array([f"{h:02d}" for h in site["huc"]]),
        gauge_name=np.array(gauge_names(n)),
        soil_depth_pelletier=np.clip(
            np.exp(rng.normal(np.log(6.0) - 0.8 * np.log(slope / 18.0), 0.9, n)), 0.3, 50.0
        ),
        soil_depth_statsgo=statsgo,
        soil_porosity=porosity,
        soil_conductivity=np.clip(
            1.6 * np.exp(0.045 * (texture[:, 0] - 40)) * rng.uniform(0.7, 1.3, n), 0.4, 14.0
        ),
        max_water_content=statsgo * porosity * (0.35 + 0.9 * (texture[:, 1] + texture[:, 2]) / 100),
        sand_frac=texture[:, 0],
        silt_frac=texture[:, 1],
        clay_frac=texture[:, 2],
        water_frac=rng.uniform(0, 2, n),
        organic_frac=rng.uniform(0, 3, n),
        other_frac=rng.uniform(0, 5, n),
        gauge_lat=site["lat"],
        gauge_lon=site["lon"],
        elev_mean=site["elev"],
        slope_mean=slope,
        area_gages2=area,
        area_geospa_fabric=area * rng.uniform(0.97, 1.03, n),
        frac_forest=forest,
        lai_max=lai_max,
        lai_diff=lai_max * rng.uniform(0.3, 0.85, n),
        gvf_max=gvf_max,
        gvf_diff=gvf_max * rng.uniform(0.1, 0.6, n),
        dom_land_cover_frac=rng.uniform(0.4, 1.0, n),
        dom_land_cover=_COVER[np.where(forest > 0.5, rng.integers(0, 3, n), rng.integers(3, 6, n))],
        root_depth_50=rng.uniform(0.12, 0.25, n),
        root_depth_99=rng.uniform(1.2, 2.2, n),
    )
    return pd.DataFrame(a, index=pd.Index(site["id"], name="gauge_id"))


def add_hydro(
    attrs: pd.DataFrame, w: dict, flows: dict, q: np.ndarray, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Hydrological signatures (camels_hydro) of the noise-free simulated discharge."""
    years = len(dates) / 365.25
    q_mean = q.mean(1)
    median = np.median(q, axis=1)
    high, low = q > 9 * median[:, None], q < 0.2 * q_mean[:, None]
    q33, q66 = np.percentile(q, 67, axis=1), np.percentile(q, 34, axis=1)
    wy = (dates + pd.DateOffset(months=3)).year.to_numpy()
    yq = pd.DataFrame(q.T).groupby(wy).mean().to_numpy()
    yp = pd.DataFrame(w["prcp"].T).groupby(wy).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # one water year: no elasticity (NaN)
        elas = np.nanmedian(
            ((yq - q_mean) / q_mean) / ((yp - w["prcp"].mean(1)) / w["prcp"].mean(1)), axis=0
        )
    hfd = []
    for year in np.unique(wy):
        cum = np.cumsum(q[:, wy == year], axis=1)
        hfd.append(np.argmax(cum >= 0.5 * cum[:, -1:], axis=1))
    out = attrs.copy()
    out["q_mean"] = q_mean
    out["runoff_ratio"] = q_mean / attrs["p_mean"].to_numpy()
    out["slope_fdc"] = (np.log(np.maximum(q33, 1e-3)) - np.log(np.maximum(q66, 1e-3))) / 0.33
    out["baseflow_index"] = flows["qs"].sum(1) / q.sum(1)
    out["stream_elas"] = elas
    out["q5"], out["q95"] = np.percentile(q, 5, axis=1), np.percentile(q, 95, axis=1)
    out["high_q_freq"], out["high_q_dur"] = high.sum(1) / years, _mean_run(high)
    out["low_q_freq"], out["low_q_dur"] = low.sum(1) / years, _mean_run(low)
    out["zero_q_freq"] = (q < 5e-4).mean(1)
    out["hfd_mean"] = np.mean(hfd, axis=0)
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
    ``gauge_id``, missing values ``NA``, text unquoted) plus ``readme.txt``; returns the paths."""
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
