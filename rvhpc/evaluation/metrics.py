"""Per-basin hydrological metrics, as in Kratzert et al. (2019) / neuralhydrology.

All functions take observed and simulated discharge of one basin (1-d arrays, same length) and
score only the days where the observation is finite.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = ("NSE", "KGE", "alpha_NSE", "beta_NSE", "FHV", "FLV", "FMS")


def _clean(obs: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obs = np.asarray(obs, dtype=np.float64)
    sim = np.asarray(sim, dtype=np.float64)
    if obs.shape != sim.shape:
        raise ValueError(f"obs and sim differ in shape: {obs.shape} vs {sim.shape}")
    mask = np.isfinite(obs) & np.isfinite(sim)
    return obs[mask], sim[mask]


def nse(obs: np.ndarray, sim: np.ndarray) -> float:
    """Nash-Sutcliffe efficiency: 1 - sum((sim-obs)^2) / sum((obs-mean(obs))^2)."""
    obs, sim = _clean(obs, sim)
    denom = np.sum((obs - obs.mean()) ** 2) if obs.size else 0.0
    if obs.size < 2 or denom == 0:
        return float("nan")
    return float(1.0 - np.sum((sim - obs) ** 2) / denom)


def alpha_nse(obs: np.ndarray, sim: np.ndarray) -> float:
    """Ratio of standard deviations std(sim) / std(obs)."""
    obs, sim = _clean(obs, sim)
    if obs.size < 2 or obs.std() == 0:
        return float("nan")
    return float(sim.std() / obs.std())


def beta_nse(obs: np.ndarray, sim: np.ndarray) -> float:
    """Mean bias normalised by the observed std: (mean(sim) - mean(obs)) / std(obs)."""
    obs, sim = _clean(obs, sim)
    if obs.size < 2 or obs.std() == 0:
        return float("nan")
    return float((sim.mean() - obs.mean()) / obs.std())


def kge(obs: np.ndarray, sim: np.ndarray) -> float:
    """Kling-Gupta efficiency: 1 - sqrt((r-1)^2 + (alpha-1)^2 + (beta-1)^2)."""
    obs, sim = _clean(obs, sim)
    if obs.size < 2 or obs.std() == 0 or obs.mean() == 0:
        return float("nan")
    r = np.corrcoef(obs, sim)[0, 1] if sim.std() > 0 else 0.0
    alpha = sim.std() / obs.std()
    beta = sim.mean() / obs.mean()
    return float(1.0 - np.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2))


def fhv(obs: np.ndarray, sim: np.ndarray, h: float = 0.02) -> float:
    """Percent bias of the peak flow segment (top ``h`` of the flow duration curve)."""
    obs, sim = _clean(obs, sim)
    n = int(np.round(h * obs.size))
    if n < 1:
        return float("nan")
    obs_top, sim_top = -np.sort(-obs)[:n], -np.sort(-sim)[:n]
    if obs_top.sum() == 0:
        return float("nan")
    return float(np.sum(sim_top - obs_top) / np.sum(obs_top) * 100)


def flv(obs: np.ndarray, sim: np.ndarray, low: float = 0.3) -> float:
    """Percent bias of the low flow segment (bottom ``low`` of the FDC, in log space)."""
    obs, sim = _clean(obs, sim)
    n = int(np.round(low * obs.size))
    if n < 1:
        return float("nan")
    obs = np.where(obs <= 0, 1e-6, obs)
    sim = np.where(sim <= 0, 1e-6, sim)
    obs_low = np.log(-np.sort(-obs)[-n:])
    sim_low = np.log(-np.sort(-sim)[-n:])
    qsl = np.sum(sim_low - sim_low.min())
    qol = np.sum(obs_low - obs_low.min())
    return float(-1 * (qsl - qol) / (qol + 1e-6) * 100)


def fms(obs: np.ndarray, sim: np.ndarray, lower: float = 0.2, upper: float = 0.7) -> float:
    """Percent bias of the FDC mid-segment slope between the ``lower`` and ``upper`` exceedances."""
    obs, sim = _clean(obs, sim)
    if obs.size < 2:
        return float("nan")
    obs = -np.sort(-np.where(obs <= 0, 1e-6, obs))
    sim = -np.sort(-np.where(sim <= 0, 1e-6, sim))
    lo = min(int(np.round(lower * obs.size)), obs.size - 1)
    up = min(int(np.round(upper * obs.size)), obs.size - 1)
    qsm = np.log(sim[lo]) - np.log(sim[up])
    qom = np.log(obs[lo]) - np.log(obs[up])
    return float((qsm - qom) / (qom + 1e-6) * 100)


_FUNCS = {
    "NSE": nse,
    "KGE": kge,
    "alpha_NSE": alpha_nse,
    "beta_NSE": beta_nse,
    "FHV": fhv,
    "FLV": flv,
    "FMS": fms,
}


def all_metrics(obs: np.ndarray, sim: np.ndarray) -> dict[str, float]:
    """Every metric of METRIC_NAMES for one basin."""
    return {name: _FUNCS[name](obs, sim) for name in METRIC_NAMES}
