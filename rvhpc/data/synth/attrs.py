"""Attributes of the synthetic CAMELS US basins: sites (ids, locations, climate drivers) and the
attribute table under the real CAMELS v2.0 column names. The climate and hydrology signatures
computed from the generated series are in signatures.py; the published files' missing values and
the files themselves in camels_attrfiles.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.data.synth.signatures import climate

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


#: gauges per cluster of neighbours that share one meteorology (like nested and adjacent CAMELS
#: gauges): their dynamic inputs are all but identical, so only their attributes tell them apart
NEIGHBOURS = 4


def sites(rng: np.random.Generator, n: int) -> dict:
    """Location, elevation and climate drivers of ``n`` basins, sorted by their 8-digit id.

    Basins come in clusters of up to :data:`NEIGHBOURS` neighbours (``region``) that share their
    climate drivers (up to tiny jitters) and their daily weather; soils, geology and vegetation are
    drawn per basin in :func:`attributes`.

    Parameters
    ----------
    rng : np.random.Generator
        The tree's generator (its first draws: a tree's ids are known from its seed alone).
    n : int
        Basins.

    Returns
    -------
    dict
        ``id`` (str), ``huc``, ``region``, ``lat``, ``lon``, ``elev``, ``p_target``, ``dryness``,
        ``p_season``, ``p_phase``, ``wet_frac``, ``persist``: one value per basin each.
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


def attributes(
    rng: np.random.Generator, site: dict, weather: dict, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """All attribute columns but the hydrological signatures.

    Parameters
    ----------
    rng : np.random.Generator
        The tree's generator, after :func:`sites` and the weather.
    site : dict
        :func:`sites`.
    weather : dict
        The generated weather (for the climate signatures).
    dates : pd.DatetimeIndex
        The days of the series.

    Returns
    -------
    pd.DataFrame
        Index ``gauge_id`` (str); the climate signatures, geology, soils, topography and
        vegetation columns.
    """
    n = len(site["id"])
    clim = climate(weather, dates)
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
