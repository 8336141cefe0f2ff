"""The values and files of synthetic Caravan (rvhpc/data/synth/caravan.py): ERA5-Land-like
columns from the synthetic weather, the climate indices and HydroATLAS-like attributes, and the
CSV, netCDF-4 and netCDF-3 writers."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

BANDS = (
    "snow_depth_water_equivalent", "surface_net_solar_radiation", "surface_net_thermal_radiation",
    "surface_pressure", "temperature_2m", "dewpoint_temperature_2m", "u_component_of_wind_10m",
    "v_component_of_wind_10m", "volumetric_soil_water_layer_1", "volumetric_soil_water_layer_2",
    "volumetric_soil_water_layer_3", "volumetric_soil_water_layer_4",
)  # fmt: skip


def _band(rng, w, flows, site, i, band):
    """(mean, min, max) daily values of one ERA5-Land band for basin ``i``."""
    t = len(w["tavg"][i])
    noise = rng.normal(0, 1, t)
    if band == "temperature_2m":
        return w["tavg"][i], w["tmin"][i], w["tmax"][i]
    if band == "dewpoint_temperature_2m":
        a = np.log(np.maximum(w["vp"][i], 1.0) / 611.2)
        dew = 243.04 * a / (17.625 - a)
        return dew, dew - 1.5 - abs(noise), dew + 1.5 + abs(noise)
    if band == "surface_net_solar_radiation":
        mean = 0.8 * w["srad"][i]
        return mean, 0 * mean, 2.4 * mean
    if band == "surface_net_thermal_radiation":
        mean = -(45 + 30 * site["dryness"][i]) + 8 * noise  # ERA5's sign: mostly negative
        return mean, mean - 20, mean + 15
    if band == "surface_pressure":
        mean = 101.325 * np.exp(-site["elev"][i] / 8434) + 0.4 * noise
        return mean, mean - 0.3, mean + 0.3
    if band.startswith(("u_", "v_")):
        mean = 1.5 * noise + (0.8 if band[0] == "u" else -0.3)
        return mean, mean - 2 - abs(noise), mean + 2 + abs(noise)
    if band == "snow_depth_water_equivalent":
        swe = flows["swe"][i]
        return swe, 0.95 * swe, 1.05 * swe
    layer = int(band[-1])
    wet = pd.Series(w["prcp"][i]).rolling(10 * layer, min_periods=1).mean().to_numpy()
    mean = np.clip(0.12 + 0.06 * np.log1p(wet) + 0.02 * layer, 0.05, 0.5)
    return mean, 0.97 * mean, 1.03 * mean


def series(rng, w, flows, q, site, i: int, generation: str) -> dict[str, np.ndarray]:
    """Basin ``i``'s columns in the writer's order (means, mins, maxes, sums, FAO PET,
    streamflow), rounded to 2 decimals as Caravan's."""
    parts = {b: _band(rng, w, flows, site, i, b) for b in BANDS}
    cols = {f"{b}_{s}": parts[b][k] for k, s in enumerate(("mean", "min", "max")) for b in BANDS}
    cols["total_precipitation_sum"] = w["prcp"][i]
    pet = w["pet"][i] + rng.normal(0, 0.05, len(w["pet"][i]))  # ERA5-Land PET: not clipped
    if generation == "v1.4":
        cols["potential_evaporation_sum"] = pet
    else:
        cols["potential_evaporation_sum_ERA5_LAND"] = pet
        cols["potential_evaporation_sum_FAO_PENMAN_MONTEITH"] = np.maximum(1.08 * w["pet"][i], 0)
    cols["streamflow"] = q[i]
    return {k: np.round(np.asarray(v, np.float64), 2) for k, v in cols.items()}


def write_csv(path: Path, frame: pd.DataFrame, alphabetical: bool) -> None:
    """pandas' CSV as Caravan writes it: ``date`` first, NaN as an empty field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame[sorted(frame.columns)] if alphabetical else frame
    frame.to_csv(path, index_label="date", date_format="%Y-%m-%d")


def write_netcdf4(path: Path, frame: pd.DataFrame) -> None:
    """netCDF-4 (HDF5) with a ``date`` dimension scale in days since the first day, float32
    variables with a NaN ``_FillValue``, and Caravan's global attributes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first = frame.index[0]
    with h5py.File(path, "w") as f:
        date = f.create_dataset("date", data=(frame.index - first).days.to_numpy(np.int64))
        date.attrs["units"] = f"days since {first:%Y-%m-%d} 00:00:00"
        date.attrs["calendar"] = "proleptic_gregorian"
        date.make_scale("date")
        for name in frame.columns:
            var = f.create_dataset(name, data=frame[name].to_numpy(np.float32))
            var.attrs["_FillValue"] = np.float32(np.nan)
            var.dims[0].attach_scale(date)
        f.attrs["Units"] = "streamflow: observed streamflow [mm/d]"
        f.attrs["Timezone"] = "Etc/GMT-1"
        f.attrs["Sources"] = "rvhpc synthetic data, not a measurement"


def write_netcdf3(path: Path, frame: pd.DataFrame) -> None:
    """netCDF-3 (64-bit offset), as xarray re-saves a file: ``date`` int32 days since
    1951-01-01, float32 variables with a NaN ``_FillValue``."""
    from scipy.io import netcdf_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with netcdf_file(path, "w", version=2) as f:
        f.createDimension("date", len(frame))
        date = f.createVariable("date", "i4", ("date",))
        date[:] = (frame.index - pd.Timestamp("1951-01-01")).days.to_numpy(np.int32)
        date.units, date.calendar = "days since 1951-01-01", "proleptic_gregorian"
        for name in frame.columns:
            var = f.createVariable(name, "f4", ("date",))
            var[:] = frame[name].to_numpy(np.float32)
            var._FillValue = np.float32(np.nan)


def _run(mask: np.ndarray) -> float:
    starts = mask & ~np.concatenate([[False], mask[:-1]])
    return float(mask.sum() / max(starts.sum(), 1))


def _climate(frame: pd.DataFrame, generation: str) -> dict:
    p = frame["total_precipitation_sum"].to_numpy()
    t = frame["temperature_2m_mean"].to_numpy()
    era5 = "potential_evaporation_sum" if generation == "v1.4" else (
        "potential_evaporation_sum_ERA5_LAND"
    )  # fmt: skip
    pets = {"ERA5_LAND": frame[era5].to_numpy()}
    if generation != "v1.4":
        pets["FAO_PM"] = frame["potential_evaporation_sum_FAO_PENMAN_MONTEITH"].to_numpy()
    out = dict(p_mean=p.mean(), frac_snow=p[t < 0].sum() / p.sum())
    high, low = p >= 5 * p.mean(), p < 1
    out.update(
        high_prec_freq=high.mean(), high_prec_dur=_run(high),
        low_prec_freq=low.mean(), low_prec_dur=_run(low),
    )  # fmt: skip
    month = frame.index.month
    for key, pet in pets.items():
        suffix = "" if generation == "v1.4" else f"_{key}"
        monthly = pd.DataFrame({"p": p, "e": pet}).groupby(month).mean()
        mi = ((monthly.p - monthly.e) / np.maximum(monthly.p, monthly.e)).to_numpy()
        out[f"pet_mean{suffix}"] = pet.mean()
        out[f"aridity{suffix}"] = pet.mean() / p.mean()
        out[f"moisture_index{suffix}"] = mi.mean()
        out[f"seasonality{suffix}"] = mi.max() - mi.min()
    return out


def attribute_rows(gid, frame, a, generation, country, name, blank) -> dict[str, dict]:
    """The three attribute rows of a basin (``blank``: the all-NaN basin, its soil unknown)."""
    soil = np.nan if blank else 1.0
    hydro = dict(
        ele_mt_sav=a["elev_mean"], slp_dg_sav=10 * np.degrees(np.arctan(a["slope_mean"] / 1000)),
        cly_pc_sav=a["clay_frac"] * soil, slt_pc_sav=a["silt_frac"] * soil,
        snd_pc_sav=a["sand_frac"] * soil, soc_th_sav=200 * a["max_water_content"] * soil,
        for_pc_sse=100 * a["frac_forest"], crp_pc_sse=100 * (1 - a["gvf_max"]),
        gwt_cm_sav=100 * a["soil_depth_pelletier"], sgr_dk_sav=-10 * a["geol_permeability"],
        kar_pc_sse=100 * a["carbonate_rocks_frac"], pst_pc_sse=5.0, nli_ix_sav=12.0,
        glc_cl_smj=int(1 + 10 * a["frac_forest"]), clz_cl_smj=int(3 + a["elev_mean"] // 800),
        wet_cl_smj=13, dis_m3_pyr=a["p_mean"] * a["area_gages2"] / 86.4 / 3,
        area_fraction_used_for_aggregation=0.97,
    )  # fmt: skip
    other = dict(
        area=a["area_gages2"], country=country, gauge_lat=a["gauge_lat"],
        gauge_lon=a["gauge_lon"], gauge_name=name,
    )  # fmt: skip
    return {
        "caravan": dict(gauge_id=gid, **_climate(frame, generation)),
        "hydroatlas": dict(gauge_id=gid, **hydro),
        "other": dict(gauge_id=gid, **other),
    }


def write_attribute_files(folder: Path, tables: dict) -> None:
    """``<folder>/<prefix>/attributes_<kind>_<prefix>.csv``: rows and columns sorted, gauge_id
    first, as Caravan's processing writes them."""
    for (prefix, kind), rows in tables.items():
        frame = pd.DataFrame(rows).set_index("gauge_id").sort_index()
        frame = frame[sorted(frame.columns)]
        path = folder / prefix / f"attributes_{kind}_{prefix}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path)
