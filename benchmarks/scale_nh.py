"""neuralhydrology's Caravan dataset on a Caravan-format tree: time until its first training batch
and the peak RSS of its process (issue 22, item 5: the baseline a plain reader pays).

neuralhydrology is an optional benchmark extra (``pip install .[bench-nh]``), never a dependency
of rvhpc, and it runs in a venv of its own (``--nh-python``, default ``.venv-nh/bin/python``):
it pins nothing that rvhpc's venv must follow. The measured child does what neuralhydrology's
trainer does before its first step (``BaseTrainer._get_dataset`` and ``_get_data_loader``): it
builds ``Caravan(cfg, is_train=True, period="train")``, which reads every basin's netCDF file
into one in-memory xarray and computes the scalers, and draws the first batch of a shuffled
``DataLoader``. The parent polls the child's RSS with :class:`benchmarks.memtools.TreePeak`.

The tree is the Caravan layout (docs: /work/shared/notes/caravan-format.md, section 1):
``attributes/<prefix>/attributes_{caravan,hydroatlas,other}_<prefix>.csv`` and
``timeseries/netcdf/<prefix>/<gauge_id>.nc`` with a ``date`` coordinate.
``benchmarks/bench_scale.py`` runs it on trees of ``rvhpc data synth --dataset caravan``
(benchmarks/scale_first_batch.py, against rvhpc on the same files); ``--write-tree`` writes a
small stand-alone one (run it with the neuralhydrology venv's python: it needs netCDF4).

Examples
--------
.venv-nh/bin/python benchmarks/scale_nh.py --write-tree /tmp/caravan-tiny --basins 4
.venv/bin/python -m benchmarks.scale_nh /tmp/caravan-tiny --json /tmp/nh.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Caravan variable names (caravan-format.md, section 2) used when --inputs is not given
INPUTS = (
    "total_precipitation_sum",
    "temperature_2m_mean",
    "potential_evaporation_sum",
    "surface_net_solar_radiation_mean",
    "surface_pressure_mean",
)
TARGET = "streamflow"
#: numeric attributes of attributes_caravan / attributes_other used when --statics is not given
STATICS = ("p_mean", "aridity", "frac_snow", "high_prec_freq", "area")


def measure(
    tree: Path,
    basins: int | None = None,
    seq_length: int = 365,
    batch_size: int = 256,
    inputs: tuple[str, ...] = INPUTS,
    statics: tuple[str, ...] = STATICS,
    nh_python: Path = REPO / ".venv-nh" / "bin" / "python",
) -> dict:
    """Run neuralhydrology's Caravan dataset on ``tree`` in a child process and measure it.

    Parameters
    ----------
    tree : Path
        Root of a Caravan-format tree (netCDF time series).
    basins : int | None
        Use the first this many gauge ids (sorted), or all of them.
    seq_length, batch_size : int
        neuralhydrology's sequence length and batch size.
    inputs, statics : tuple of str
        Dynamic inputs and static attributes; the target is ``streamflow``.
    nh_python : Path
        The python of a venv with neuralhydrology (``.[bench-nh]``).

    Returns
    -------
    dict
        ``basins``, ``days`` (of the training period), ``samples``, ``import_s``, ``dataset_s``
        (building the dataset: reading every basin, scalers, the sample index), ``first_batch_s``
        (from process start to the first batch), ``wall_s`` (of the whole child, interpreter
        start and exit included), ``peak_rss_gib`` (the child's tree, polled every 0.05 s),
        ``neuralhydrology`` (its version) and the settings.

    Raises
    ------
    SystemExit
        No neuralhydrology venv, or the child failed (its output is shown).
    """
    sys.path.insert(0, str(REPO))
    from benchmarks.memtools import GIB, run_measured

    if not Path(nh_python).exists():
        raise SystemExit(
            f"{nh_python}: no neuralhydrology venv; make one: python3 -m venv .venv-nh && "
            ".venv-nh/bin/pip install torch==2.13.0 && .venv-nh/bin/pip install "
            "neuralhydrology==1.13.0 (the bench-nh extra of pyproject.toml)"
        )
    settings = {
        "tree": str(Path(tree).resolve()),
        "basins": basins,
        "seq_length": seq_length,
        "batch_size": batch_size,
        "inputs": list(inputs),
        "statics": list(statics),
    }
    with tempfile.TemporaryDirectory(prefix="scale-nh-") as tmp:
        settings["run_dir"] = tmp
        cmd = [str(nh_python), str(Path(__file__).resolve()), "--child", json.dumps(settings)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        r = run_measured(cmd, env=env, cwd=tmp)
    if r["returncode"] != 0:
        raise SystemExit(f"neuralhydrology child failed (exit {r['returncode']}):\n{r['output']}")
    lines = [ln for ln in r["output"].splitlines() if ln.startswith("{")]
    child = json.loads(lines[-1])
    return {
        **child,
        "wall_s": round(r["wall_s"], 2),
        "peak_rss_gib": round(r["peak_rss_bytes"] / GIB, 3),
        "seq_length": seq_length,
        "batch_size": batch_size,
        "inputs": list(inputs),
        "statics": list(statics),
        "tree": settings["tree"],
    }


# ------------------------------------------------------------ the child (neuralhydrology venv)


def _child(settings: dict) -> None:
    """Build the Caravan dataset and draw one batch, as neuralhydrology's trainer does; print the
    timings as one JSON line. Runs in the neuralhydrology venv."""
    t0 = time.perf_counter()
    from importlib.metadata import version

    import pandas as pd
    import xarray
    from neuralhydrology.datasetzoo import get_dataset
    from neuralhydrology.utils.config import Config
    from torch.utils.data import DataLoader

    t_import = time.perf_counter() - t0
    tree, run_dir = Path(settings["tree"]), Path(settings["run_dir"])
    ids = sorted(p.stem for p in (tree / "timeseries" / "netcdf").glob("*/*.nc"))
    if settings["basins"]:
        ids = ids[: settings["basins"]]
    if not ids:
        raise SystemExit(f"{tree}: no timeseries/netcdf/<prefix>/<gauge_id>.nc files")
    basin_file = run_dir / "basins.txt"
    basin_file.write_text("\n".join(ids) + "\n")
    with xarray.open_dataset(
        tree / "timeseries" / "netcdf" / ids[0].split("_")[0] / f"{ids[0]}.nc"
    ) as ds:
        dates = pd.DatetimeIndex(ds["date"].values)
    first, last = dates[0].strftime("%d/%m/%Y"), dates[-1].strftime("%d/%m/%Y")
    cfg = Config(
        {
            "experiment_name": "scale_nh",
            "train_basin_file": basin_file,
            "validation_basin_file": basin_file,
            "test_basin_file": basin_file,
            "train_start_date": first,
            "train_end_date": last,
            "validation_start_date": first,
            "validation_end_date": last,
            "test_start_date": first,
            "test_end_date": last,
            "dataset": "caravan",
            "data_dir": tree,
            "dynamic_inputs": settings["inputs"],
            "target_variables": [TARGET],
            "static_attributes": settings["statics"],
            "seq_length": settings["seq_length"],
            "predict_last_n": 1,
            "model": "cudalstm",
            "hidden_size": 8,
            "output_dropout": 0.0,
            "optimizer": "Adam",
            "loss": "NSE",
            "batch_size": settings["batch_size"],
            "epochs": 1,
            "num_workers": 0,
            "device": "cpu",
            "verbose": 0,
        }
    )
    cfg.run_dir = run_dir
    cfg.train_dir = run_dir / "train_data"
    cfg.train_dir.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    dataset = get_dataset(cfg=cfg, is_train=True, period="train")
    t_dataset = time.perf_counter() - t1
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=0,
        collate_fn=dataset.collate_fn,
    )
    batch = next(iter(loader))
    first_batch = time.perf_counter() - t0
    line = {
        "neuralhydrology": version("neuralhydrology"),
        "basins": len(ids),
        "days": len(dates),
        "samples": len(dataset),
        "batch_x_d_shape": list(_x_d(batch).shape),
        "import_s": round(t_import, 2),
        "dataset_s": round(t_dataset, 2),
        "first_batch_s": round(first_batch, 2),
    }
    print(json.dumps(line), flush=True)


def _x_d(batch: dict):
    """The dynamic inputs of a batch (a tensor, or a dict of them in newer neuralhydrology)."""
    x_d = batch["x_d"]
    if isinstance(x_d, dict):
        import torch

        return torch.cat(list(x_d.values()), dim=-1)
    return x_d


# ------------------------------------------------------- a small tree (neuralhydrology venv)


def write_tree(
    root: Path,
    n_basins: int = 4,
    start: str = "2000-01-01",
    end: str = "2004-12-31",
    prefix: str = "camels",
    seed: int = 0,
) -> list[str]:
    """A small Caravan-format tree: ``n_basins`` gauges of one prefix, daily netCDF series
    (float32, NaN gaps, ``date`` as days since 1951-01-01) and the three attribute CSVs.

    A stand-in until ``rvhpc data synth --dataset caravan`` exists; it carries the layout and
    names of the real files, not their hydrology. Needs numpy, pandas and netCDF4.
    """
    import netCDF4
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="D")
    ids = [f"{prefix}_{1013500 + 7 * i:08d}" for i in range(n_basins)]
    series = root / "timeseries" / "netcdf" / prefix
    attrs = root / "attributes" / prefix
    series.mkdir(parents=True, exist_ok=True)
    attrs.mkdir(parents=True, exist_ok=True)
    season = np.sin(2 * np.pi * np.arange(len(dates)) / 365.25)
    for gauge in ids:
        rain = rng.gamma(0.5, 6.0, len(dates)) * (rng.random(len(dates)) < 0.4)
        temp = 10 + 12 * season + rng.normal(0, 3, len(dates))
        flow = np.convolve(rain, np.exp(-np.arange(30) / 8.0) / 8.0)[: len(dates)]
        flow[rng.random(len(dates)) < 0.03] = np.nan
        values = {
            "total_precipitation_sum": rain,
            "temperature_2m_mean": temp,
            "temperature_2m_min": temp - 5,
            "temperature_2m_max": temp + 5,
            "potential_evaporation_sum": np.maximum(0.1, 2 + 2 * season),
            "surface_net_solar_radiation_mean": 150 + 100 * season,
            "surface_pressure_mean": 98 + rng.normal(0, 0.5, len(dates)),
            "streamflow": flow,
        }
        with netCDF4.Dataset(series / f"{gauge}.nc", "w", format="NETCDF4") as nc:
            nc.createDimension("date", len(dates))
            var = nc.createVariable("date", "i4", ("date",))
            var.units, var.calendar = "days since 1951-01-01", "proleptic_gregorian"
            var[:] = (dates - pd.Timestamp("1951-01-01")).days.to_numpy()
            for name, data in values.items():
                v = nc.createVariable(name, "f4", ("date",), fill_value=np.float32(np.nan))
                v[:] = np.round(data, 2).astype(np.float32)
            nc.Timezone, nc.Sources = "America/New_York", "synthetic (benchmarks/scale_nh.py)"
    n = len(ids)
    frames = {
        "caravan": {
            "p_mean": rng.uniform(1, 6, n),
            "aridity": rng.uniform(0.3, 3, n),
            "frac_snow": rng.uniform(0, 0.5, n),
            "high_prec_freq": rng.uniform(0, 0.1, n),
        },
        "hydroatlas": {
            "ele_mt_sav": rng.uniform(10, 3000, n),
            "slp_dg_sav": rng.uniform(1, 300, n),
        },
        "other": {
            "area": rng.uniform(20, 5000, n),
            "country": ["United States"] * n,
            "gauge_lat": rng.uniform(30, 48, n),
            "gauge_lon": rng.uniform(-120, -70, n),
            "gauge_name": [f"gauge {i}" for i in range(n)],
        },
    }
    for kind, columns in frames.items():
        frame = pd.DataFrame({"gauge_id": ids, **columns}).set_index("gauge_id").sort_index()
        frame.to_csv(attrs / f"attributes_{kind}_{prefix}.csv")
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path, nargs="?", help="root of a Caravan-format tree")
    ap.add_argument("--basins", type=int, default=None, help="first N gauge ids (default: all)")
    ap.add_argument("--seq-length", type=int, default=365)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--inputs", default=",".join(INPUTS))
    ap.add_argument("--statics", default=",".join(STATICS))
    ap.add_argument("--nh-python", type=Path, default=REPO / ".venv-nh" / "bin" / "python")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--write-tree", type=Path, default=None, help="write a small tree and exit")
    ap.add_argument("--start", default="2000-01-01", help="--write-tree: first day")
    ap.add_argument("--end", default="2004-12-31", help="--write-tree: last day")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        _child(json.loads(args.child))
        return 0
    if args.write_tree is not None:
        ids = write_tree(args.write_tree, args.basins or 4, args.start, args.end)
        print(f"wrote {len(ids)} basins to {args.write_tree}")
        return 0
    if args.tree is None:
        ap.error("give a Caravan-format tree (or --write-tree DIR)")
    result = measure(
        args.tree,
        args.basins,
        args.seq_length,
        args.batch_size,
        tuple(args.inputs.split(",")),
        tuple(args.statics.split(",")),
        args.nh_python,
    )
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
