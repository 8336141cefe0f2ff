"""The synthetic basins' hydrology: a bucket model (degree-day snow, a soil store with
evapotranspiration, fast and slow linear reservoirs, deep losses) whose parameters are functions of
the generated attributes, and the gaps of an observed record."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.data.synth.weather import unit


def bucket(w: dict, par: dict, spinup: int = 730) -> dict:
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


def parameters(a: pd.DataFrame) -> dict:
    """Bucket-model parameters as functions of the attributes (the descriptors explain them)."""
    perm = unit(a["geol_permeability"].to_numpy(), -16.5, -11.0)
    depth = unit(np.log(a["soil_depth_pelletier"].to_numpy()), np.log(0.3), np.log(50.0))
    cond = unit(np.log(a["soil_conductivity"].to_numpy()), np.log(0.4), np.log(14.0))
    slope = unit(np.log(a["slope_mean"].to_numpy()), np.log(1.0), np.log(250.0))
    area = unit(np.log(a["area_gages2"].to_numpy()), np.log(5.0), np.log(25000.0))
    carb = a["carbonate_rocks_frac"].to_numpy()
    clay = a["clay_frac"].to_numpy() / 100
    forest = a["frac_forest"].to_numpy()
    elev = unit(a["elev_mean"].to_numpy(), 0.0, 3500.0)
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


def gaps(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
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
