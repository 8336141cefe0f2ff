"""Synthetic daily weather: seasonal and stochastic (Markov-chain precipitation occurrence with
gamma amounts, AR(1) temperature anomalies, radiation and day length from latitude), vectorised
across basins; neighbours of one cluster share it (``attrs.NEIGHBOURS``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter


def unit(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def solar(lat_deg: np.ndarray, doy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def weather(rng: np.random.Generator, site: dict, dates: pd.DatetimeIndex) -> dict:
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
    ra, dayl = solar(site["lat"], doy)
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
