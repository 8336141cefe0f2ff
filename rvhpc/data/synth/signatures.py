"""Climate and hydrological signatures of the synthetic CAMELS US basins, computed from the
generated series as the published camels_clim and camels_hydro columns are: no random draws, so
they change no other number of a tree."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

_SEASONS = np.array(["djf", "mam", "jja", "son"])


def _mean_run(mask: np.ndarray) -> np.ndarray:
    starts = mask & ~np.concatenate([np.zeros((mask.shape[0], 1), bool), mask[:, :-1]], axis=1)
    return mask.sum(1) / np.maximum(starts.sum(1), 1)


def _timing(mask: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    season = (dates.month.to_numpy() % 12) // 3
    counts = np.stack([mask[:, season == s].sum(1) for s in range(4)], axis=1)
    return _SEASONS[counts.argmax(1)]


def climate(w: dict, dates: pd.DatetimeIndex) -> dict:
    """The climate signatures (camels_clim) of the generated weather.

    Parameters
    ----------
    w : dict
        The weather of :func:`rvhpc.data.synth.weather.weather` (``prcp``, ``tavg``, ``pet``:
        [basins, days]).
    dates : pd.DatetimeIndex
        The days of the series.

    Returns
    -------
    dict
        Column name -> one value per basin (means, seasonality, snow fraction, aridity, the
        frequency, duration and season of high and low precipitation).
    """
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


def add_hydro(
    attrs: pd.DataFrame, w: dict, flows: dict, q: np.ndarray, dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Hydrological signatures (camels_hydro) of the noise-free simulated discharge.

    Parameters
    ----------
    attrs : pd.DataFrame
        The attribute table (its ``p_mean`` is used); not changed.
    w : dict
        The weather (``prcp``).
    flows : dict
        The bucket model's flows (``qs``, the slow flow, for the baseflow index).
    q : np.ndarray
        Noise-free discharge [basins, days], mm/day.
    dates : pd.DatetimeIndex
        The days of the series.

    Returns
    -------
    pd.DataFrame
        A copy of ``attrs`` with the signature columns added.
    """
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
