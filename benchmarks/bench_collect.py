"""Benchmark ``rvhpc collect``: 200 cells x 531 basins x 10 years of daily predictions (issue 5).

Generates the cells once (kept in --data and reused by later runs; cells already DONE are not
rewritten), then runs ``rvhpc collect`` from an empty results dir with each worker count while a
thread polls the RSS of the whole process tree (driver, scheduler, nannies, workers). The baseline
is the naive pandas approach (read whole files, groupby-apply, ensemble by concatenating the seeds)
on the first --baseline-experiments experiments, side by side per cell. Targets: peak < 2 GiB,
wall < 5 min. Prints a table with ratios and writes a JSON result.

Example: nice .venv/bin/python benchmarks/bench_collect.py --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.memtools and tests/support when run as a script
from benchmarks.memtools import GIB, TreePeak  # noqa: E402


def generate(data: Path, cells: int, basins: int, years: float) -> float:
    from tests.support.fake_runs import synth_runs  # test code, not part of the package

    if cells % 5:
        raise SystemExit("--cells must be a multiple of 5 (5 seeds per experiment)")
    t0 = time.perf_counter()
    done = [0]

    def tick(_):
        done[0] += 1
        if done[0] % 20 == 0:
            print(
                f"  generated {done[0]}/{cells} cells ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )

    synth_runs(data, cells // 5, 5, basins, years, seed=0, on_cell=tick)
    return time.perf_counter() - t0


def run_collect(data: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)  # cold: no cache
    cmd = [
        str(REPO / ".venv" / "bin" / "rvhpc"),
        "--quiet",
        "collect",
        str(data),
        "--out",
        str(out),
        "--workers",
        str(workers),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with TreePeak(proc.pid) as peak:
        output, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"collect failed (exit {proc.returncode}):\n{output}")
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak.peak / GIB, 3),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "output_tail": output.strip().splitlines()[-1],
    }


def naive_baseline(data: Path, n_experiments: int) -> dict:
    """Read every seed of an experiment whole with pandas, groupby-apply metrics, concat to
    ensemble."""
    import pandas as pd

    from rvhpc.collect.discover import scan_runs_dir
    from rvhpc.evaluation.metrics import all_metrics

    def per_basin(df):
        return pd.DataFrame(
            [
                {"basin": b, **all_metrics(g["qobs"].to_numpy(), g["qsim"].to_numpy())}
                for b, g in df.groupby("basin", sort=True)
            ]
        )

    groups = list(scan_runs_dir(data).experiments().items())[:n_experiments]
    ncells = sum(len(c) for _, c in groups)
    with TreePeak(os.getpid()) as peak:
        t0 = time.perf_counter()
        for _, cells in groups:
            frames = [pd.read_parquet(c.predictions) for c in cells]
            for f in frames:
                per_basin(f)
            ens = (
                pd.concat(frames)
                .groupby(["basin", "date"], sort=True)
                .agg(qobs=("qobs", "first"), qsim=("qsim", "mean"))
                .reset_index()
            )
            per_basin(ens)
            del frames, ens
        wall = time.perf_counter() - t0
    return {
        "cells": ncells,
        "wall_s": round(wall, 1),
        "s_per_cell": round(wall / ncells, 3),
        "peak_rss_gib": round(peak.peak / GIB, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--basins", type=int, default=531)
    ap.add_argument("--years", type=float, default=10)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "rvhpc-bench-collect"
    )
    ap.add_argument(
        "--baseline-experiments",
        type=int,
        default=2,
        help="experiments for the naive baseline (0: skip)",
    )
    ap.add_argument(
        "--json", type=Path, default=REPO / "benchmarks" / "results" / "bench_collect.json"
    )
    args = ap.parse_args()

    data = args.data / f"c{args.cells}_b{args.basins}_y{args.years:g}"
    print(f"data: {data}", flush=True)
    gen_s = generate(data, args.cells, args.basins, args.years)
    size = sum(p.stat().st_size for p in data.rglob("predictions.parquet"))
    print(
        f"generate: {gen_s:.0f} s, predictions {size / GIB:.2f} GiB on disk, "
        f"{args.cells * args.basins * round(args.years * 365.25) / 1e6:.0f} M rows",
        flush=True,
    )
    runs = [run_collect(data, args.data / f"results_w{w}", int(w)) for w in args.workers.split(",")]
    base = naive_baseline(data, args.baseline_experiments) if args.baseline_experiments else None

    print(
        f"\n{'workers':>7} {'wall s':>8} {'peak GiB':>9} {'s/cell':>7} "
        f"{'vs naive s/cell':>16}  load(1m)"
    )
    for r in runs:
        per_cell = r["wall_s"] / args.cells
        ratio = f"{base['s_per_cell'] / per_cell:.2f}x" if base else "-"
        r["s_per_cell"] = round(per_cell, 3)
        print(
            f"{r['workers']:>7} {r['wall_s']:>8.1f} {r['peak_rss_gib']:>9.3f} {per_cell:>7.3f} "
            f"{ratio:>16}"
            f"  {r['load_avg_1m_after']}"
        )
    if base:
        print(
            f"naive pandas baseline on {base['cells']} cells: {base['s_per_cell']:.3f} s/cell, "
            f"peak {base['peak_rss_gib']:.3f} GiB (holds one experiment's seeds at once)"
        )
    ok = all(r["peak_rss_gib"] < 2 and r["wall_s"] < 300 for r in runs)
    print(f"targets (peak < 2 GiB, wall < 300 s): {'met' if ok else 'NOT met'}")
    result = {
        "cells": args.cells,
        "basins": args.basins,
        "years": args.years,
        "generate_s": round(gen_s, 1),
        "predictions_gib": round(size / GIB, 2),
        "runs": runs,
        "naive_baseline": base,
        "cpus": os.cpu_count(),
        "targets_met": ok,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
