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

from rvhpc import progress
from rvhpc.config_io import check_seed
from rvhpc.data.camels import (
    ATTRIBUTE_DIR,
    CFS_TO_M3S,
    FORCING_DIR,
    FORCING_HEADER,
    STREAMFLOW_DIR,
)
from rvhpc.data.synth import attrs as synth_attrs
from rvhpc.data.synth import camels_attrfiles, signatures
from rvhpc.data.synth.hydrology import bucket, gaps, parameters
from rvhpc.data.synth.target import refuse_occupied
from rvhpc.data.synth.weather import weather as make_weather
from rvhpc.errors import DataError
from rvhpc.runfiles import BASIN_LIST

FORCING_COLUMNS = FORCING_HEADER[4:]  # the columns after Year Mnth Day Hr


@dataclass
class SynthResult:
    """What :func:`synthesize` wrote."""

    root: Path
    basins: list[str]
    basin_file: Path
    dates: pd.DatetimeIndex


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


BASIN_FILE = BASIN_LIST  # the name lives in rvhpc.runfiles
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
    refuse_occupied(root, CAMELS_MARKERS, "CAMELS US", overwrite)


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
    check_seed("--seed", seed)
    try:
        dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    except (ValueError, TypeError) as exc:
        raise DataError(f"invalid --start/--end ({exc}); use YYYY-MM-DD") from None
    if len(dates) < 60:
        raise DataError(f"--start {start} .. --end {end} gives {len(dates)} days; need at least 60")
    rng = np.random.default_rng(seed)
    site = synth_attrs.sites(rng, n_basins)
    weather = make_weather(rng, site, dates)
    attrs = synth_attrs.attributes(rng, site, weather, dates)
    par = parameters(attrs)
    flows = bucket(weather, par)
    q_true = flows["qf"] + flows["qs"]
    q_obs = q_true * np.exp(rng.normal(0, 0.08, q_true.shape))
    missing = gaps(rng, n_basins, len(dates))
    estimated = rng.random(q_true.shape) < 0.03
    attrs = signatures.add_hydro(attrs, weather, flows, q_true, dates)
    # a generator of its own: the published files' missing values change no other number
    attrs = camels_attrfiles.add_missing(attrs, np.random.default_rng([seed, 671]))
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
    camels_attrfiles.write_attribute_files(root / ATTRIBUTE_DIR, attrs)
    basin_file = root / BASIN_FILE
    basin_file.write_text("".join(f"{b}\n" for b in basins), encoding="utf-8")
    return SynthResult(root, basins, basin_file, dates)
