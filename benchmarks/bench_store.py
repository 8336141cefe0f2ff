"""Basin store vs the original code's per-run window file (issue 2 performance targets).

Baseline: Kratzert's ``CamelsH5`` approach (the EA-LSTM code that Li et al. build on): every
training run writes every 270-day training window of every basin into a gzip-compressed,
chunked HDF5 file (datasets input_data [n,270,5] float32, target_data [n,1], q_stds [n,1],
sample_2_basin), and its fast mode loads all of them into memory. rvhpc: one store per data set,
a period slice in memory, windows gathered by index. Both read the same synthetic CAMELS US files.

    python benchmarks/bench_store.py [--basins 531] [--years 10] [--out bench-out/bench_store.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc import progress
from rvhpc.data import camels
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store, prepare_store
from rvhpc.data.synth import synthesize

SEQ = 270


def build_window_file(
    root: Path,
    basins: list[str],
    out: Path,
    train: tuple,
    x_mean,
    x_std,
    y_mean,
    y_std,
    seq: int = SEQ,
) -> int:
    """The original code's per-run training file of ``seq``-day windows; returns the number of
    samples."""
    f_index = camels.index_files(root / camels.FORCING_DIR / "maurer_extended")
    q_index = camels.index_files(root / camels.STREAMFLOW_DIR)
    start = pd.Timestamp(train[0]) - pd.Timedelta(days=seq - 1)
    n_total = 0
    with h5py.File(out, "w") as f:
        x_ds = f.create_dataset(
            "input_data",
            shape=(0, seq, 5),
            maxshape=(None, seq, 5),
            chunks=True,
            dtype=np.float32,
            compression="gzip",
        )
        y_ds = f.create_dataset(
            "target_data",
            shape=(0, 1),
            maxshape=(None, 1),
            chunks=True,
            dtype=np.float32,
            compression="gzip",
        )
        s_ds = f.create_dataset(
            "q_stds",
            shape=(0, 1),
            maxshape=(None, 1),
            chunks=True,
            dtype=np.float32,
            compression="gzip",
        )
        b_ds = f.create_dataset(
            "sample_2_basin",
            shape=(0,),
            maxshape=(None,),
            chunks=True,
            dtype="S10",
            compression="gzip",
        )
        for basin in basins:
            forcing = camels.read_forcing(f_index[basin])
            q = camels.read_streamflow(q_index[basin], forcing.area_m2)
            days = pd.date_range(start, train[1], freq="D")
            x = forcing.data.reindex(days)[list(camels.DYNAMIC_INPUTS)].to_numpy(np.float64)
            y = q.reindex(days).to_numpy(np.float64)
            x = (x - x_mean) / x_std
            # reshape_data of the original code: one copy per window, then drop missing targets
            n = len(days) - seq + 1
            xw = np.zeros((n, seq, 5), dtype=np.float32)
            for i in range(n):
                xw[i] = x[i : i + seq]
            yw = y[seq - 1 :]
            keep = np.isfinite(yw)
            xw, yw = xw[keep], ((yw[keep] - y_mean) / y_std).astype(np.float32)[:, None]
            q_std = np.nanstd(y[seq - 1 :])
            m = len(yw)
            for ds, data in (
                (x_ds, xw),
                (y_ds, yw),
                (s_ds, np.full((m, 1), q_std, np.float32)),
                (b_ds, np.array([basin.encode()] * m, dtype="S10")),
            ):
                ds.resize(n_total + m, axis=0)
                ds[n_total : n_total + m] = data
            n_total += m
    return n_total


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--basins", type=int, default=531)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench-out/bench_store.json"))
    parser.add_argument(
        "--workdir", type=Path, default=None, help="scratch folder (default: next to --out)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = parser.parse_args(argv)
    progress.set_quiet(True)
    work = args.workdir or args.out.parent / "bench_store_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    train = (
        "1999-10-01",
        str(
            (
                pd.Timestamp("1999-10-01") + pd.DateOffset(years=args.years) - pd.Timedelta(days=1)
            ).date()
        ),
    )
    evaluation = ("1998-10-01", "1999-09-30")
    t0 = time.perf_counter()
    synth = synthesize(
        work / "camels", n_basins=args.basins, start="1998-10-01", end=train[1], seed=0
    )
    print(
        f"synthetic data: {args.basins} basins, {train[0]}..{train[1]} training, "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    t0 = time.perf_counter()
    store_path = prepare_store(
        synth.root, synth.basin_file, work / "store.h5", train_period=train, eval_period=evaluation
    )
    store_build_s = time.perf_counter() - t0
    print(f"rvhpc store built in {store_build_s:.1f} s", flush=True)

    tracemalloc.start()
    store = open_store(store_path, "train", warmup=SEQ - 1)
    sampler = WindowSampler(store, SEQ)
    rows = sampler.train_samples()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rng = np.random.default_rng(0)
    draws = [rows[rng.integers(0, len(rows), 256)] for _ in range(300)]
    for r in draws[:20]:
        sampler.batch(r)
    times = []
    for r in draws[20:]:
        t = time.perf_counter()
        sampler.batch(r)
        times.append(time.perf_counter() - t)
    print(
        f"rvhpc training memory {held / 1e6:.1f} MB, batch {np.median(times) * 1e3:.3f} ms",
        flush=True,
    )

    t0 = time.perf_counter()
    window_path = work / "windows.h5"
    n_samples = build_window_file(
        synth.root,
        synth.basins,
        window_path,
        train,
        store.x_mean,
        store.x_std,
        store.y_mean,
        store.y_std,
    )
    window_build_s = time.perf_counter() - t0
    with h5py.File(window_path, "r") as f:
        cache_bytes = sum(
            int(np.prod(f[k].shape)) * f[k].dtype.itemsize
            for k in ("input_data", "target_data", "q_stds", "sample_2_basin")
        )
    print(f"baseline window file: {n_samples} samples in {window_build_s:.1f} s", flush=True)

    store_bytes, window_bytes = store_path.stat().st_size, window_path.stat().st_size
    result = dict(
        basins=args.basins,
        train_years=args.years,
        train_period=train,
        seq_length=SEQ,
        train_samples_rvhpc=int(len(rows)),
        train_samples_baseline=int(n_samples),
        memory=dict(
            rvhpc_bytes=int(held),
            rvhpc_how="measured with tracemalloc: open_store(train slice) + "
            "WindowSampler + train_samples()",
            rvhpc_peak_bytes=int(peak),
            baseline_cache_bytes=int(cache_bytes),
            baseline_how=(
                "computed from the window file's dataset shapes (what the fast mode loads)"
            ),
            ratio=cache_bytes / held,
            target=">= 100",
        ),
        disk=dict(
            store_bytes=store_bytes,
            window_file_bytes=window_bytes,
            ratio_one_run=window_bytes / store_bytes,
            grid_100_runs_ratio=100 * window_bytes / store_bytes,
            target="store smaller; grid >= 100",
        ),
        build=dict(
            store_s=store_build_s,
            window_file_s=window_build_s,
            ratio=window_build_s / store_build_s,
            target=">= 10",
        ),
        batch=dict(
            batch_size=256,
            median_ms=float(np.median(times) * 1e3),
            mean_ms=float(np.mean(times) * 1e3),
            p95_ms=float(np.percentile(times, 95) * 1e3),
            target="< 2 ms",
        ),
    )
    print(
        f"memory  rvhpc {held / 1e6:9.1f} MB  vs all-windows cache {cache_bytes / 1e9:7.2f} GB: "
        f"{result['memory']['ratio']:.0f}x smaller (target >= 100x)"
    )
    print(
        f"disk    store {store_bytes / 1e6:9.1f} MB  vs window file {window_bytes / 1e9:7.2f} GB: "
        f"{result['disk']['ratio_one_run']:.0f}x smaller; "
        f"100-run grid {result['disk']['grid_100_runs_ratio']:.0f}x"
    )
    print(
        f"build   store {store_build_s:9.1f} s   vs window file {window_build_s:7.1f} s : "
        f"{result['build']['ratio']:.1f}x faster (target >= 10x)"
    )
    print(
        f"batch   256 x {SEQ} x 5: median {result['batch']['median_ms']:.3f} ms, p95 "
        f"{result['batch']['p95_ms']:.3f} ms (target < 2 ms)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
