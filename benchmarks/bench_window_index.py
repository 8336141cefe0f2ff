"""The training windows' index (rvhpc/data/windowindex.py) against the int32 [n, 2] pairs it
replaced (baseline: that construction, frozen below as it was on ``house`` at 12be168), on one
synthetic Caravan store, baseline and new code in one run:

- **memory**: the bytes each holds, and the USS / PSS / peak RSS of 1 and 2 processes that open the
  store for training, build the windows and draw 100 batches (benchmarks/memtools.py);
- **gather**: microseconds to turn 256 positions into (basin, day) rows, rounds alternating;
- **training step**: ``rvhpc.training.bench.measure`` at the paper's shape (ea, hidden 256,
  batch 256, 270 days, 27 statics) on the store, the windows built either way, rounds
  alternating in one process; the ratio of the step times;
- **projection** to 16,000 and 22,000 basins x 70 years (every day a candidate, 90 % windows).

    python benchmarks/bench_window_index.py [--store STORE.h5 | --basins 2000 --years 40]
        [--rounds 8] [--steps 3] [--out benchmarks/results/window_index.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.memtools import MIB, hold, uss_pss  # noqa: E402

SEQ, BATCH = 270, 256


def baseline_pairs(sampler) -> np.ndarray:
    """int32 [n, 2] (basin index, target day index): ``WindowSampler.train_samples`` before the
    index (house at 12be168), basins in passes of 64."""
    days = sampler._period_days(sampler.store.train_period)
    days = days[days >= sampler.seq_length - 1]
    if len(days) == 0:
        return np.empty((0, 2), dtype=np.int32)
    out = []
    for b0 in range(0, len(sampler._rows), 64):
        rows = sampler._rows[b0 : b0 + 64]
        bad = ~np.isfinite(sampler.store.forcing[rows]).all(axis=2)
        cum = np.concatenate(
            [np.zeros((bad.shape[0], 1), np.int32), np.cumsum(bad, axis=1, dtype=np.int32)], axis=1
        )
        bad_in_window = cum[:, days + 1] - cum[:, days + 1 - sampler.seq_length]
        ok = np.isfinite(sampler.store.qobs[rows][:, days]) & (bad_in_window == 0)
        basin_idx, k = np.nonzero(ok)
        out.append(np.stack([basin_idx + b0, days[k]], axis=1).astype(np.int32))
    return np.concatenate(out)


_READER = """
import sys
import numpy as np
from benchmarks.bench_window_index import baseline_pairs
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
store = open_store(sys.argv[1], period="train", warmup=269)
sampler = WindowSampler(store, seq_length=270)
rows = sampler.train_samples() if sys.argv[2] == "index" else baseline_pairs(sampler)
rng = np.random.default_rng(0)
for _ in range(100):
    sampler.batch(rows[rng.integers(0, len(rows), 256)])
print("READY", flush=True)
sys.stdin.read()
"""


def _peak(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmHWM:"))


def memory(store: Path) -> dict:
    """USS, PSS and peak RSS of 1 and 2 training processes holding either kind of windows."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = {}
    for kind in ("pairs", "index"):
        rows = []
        for n in (1, 2):
            with hold([[sys.executable, "-c", _READER, str(store), kind]] * n, env=env) as pids:
                m, peaks = uss_pss(pids), [_peak(p) for p in pids]
            rows.append(dict(
                processes=n, uss_mib=[round(r["uss"] / MIB, 1) for r in m["per_process"]],
                pss_total_mib=round(m["pss"] / MIB, 1),
                peak_rss_mib=[round(p / MIB, 1) for p in peaks],
            ))  # fmt: skip
        out[kind] = rows
    return out


def gather(samplers: dict, rounds: int, reps: int = 300) -> dict:
    """Microseconds per batch of 256 positions -> rows, and per whole host batch (rows, windows,
    standardised), each kind in turn, rounds alternating."""
    sampler, kinds = samplers["sampler"], samplers["kinds"]
    n = len(kinds["index"])
    rng = np.random.default_rng(2)
    draws = [rng.integers(0, n, BATCH) for _ in range(reps)]
    times: dict[str, dict[str, list[float]]] = {k: {"rows": [], "batch": []} for k in kinds}
    for r in range(rounds):
        for name in sorted(kinds, reverse=bool(r % 2)):
            rows = kinds[name]
            t0 = time.perf_counter()
            for d in draws:
                rows[d]
            times[name]["rows"].append((time.perf_counter() - t0) / reps * 1e6)
            t0 = time.perf_counter()
            for d in draws[:50]:
                sampler.batch(rows[d])
            times[name]["batch"].append((time.perf_counter() - t0) / 50 * 1e6)
    best = {k: {part: round(min(v), 1) for part, v in t.items()} for k, t in times.items()}
    return dict(best_round=best, rounds=rounds, how="fastest round of each, microseconds")


def training(store: Path, rounds: int, steps: int) -> dict:
    """Seconds per paper-shape training step, the windows built either way, rounds alternating."""
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.training.bench import measure

    new = WindowSampler.train_samples
    builders = {"index": new, "pairs": baseline_pairs}
    out: dict[str, list[float]] = {k: [] for k in builders}
    data: dict[str, list[float]] = {k: [] for k in builders}
    try:
        for r in range(rounds):
            for name in sorted(builders, reverse=bool(r % 2)):
                WindowSampler.train_samples = builders[name]
                res = measure("ea", 256, BATCH, steps=steps, warmup=1, seq_length=SEQ,
                              store=store, threads=1, numerics=None)  # fmt: skip
                out[name].append(res["seconds_per_step"])
                data[name].append(res["data_seconds_per_step"])
    finally:
        WindowSampler.train_samples = new
    paired = sorted(i / p for i, p in zip(out["index"], out["pairs"], strict=True))
    return dict(
        seconds_per_step={k: [round(v, 4) for v in vs] for k, vs in out.items()},
        data_seconds_per_step={k: [round(v, 5) for v in vs] for k, vs in data.items()},
        step_time_ratio_index_over_pairs=round(float(np.median(paired)), 4),
        ratio_how="median over rounds of (index step time / pairs step time), same round",
        fastest_round_ratio=round(min(out["index"]) / min(out["pairs"]), 4),
        data_time_ratio=round(float(np.median(data["index"]) / np.median(data["pairs"])), 4),
        threads=1,
    )


def projection() -> list[dict]:
    from rvhpc.data.windowindex import WindowIndex

    rows = []
    for basins in (2_000, 16_000, 22_000):
        days = 70 * 365 + 17
        windows = int(0.9 * basins * days)
        rows.append(dict(
            basins=basins, years=70, windows=windows, pairs_mb=round(8 * windows / 1e6, 1),
            index_mb=round(WindowIndex.footprint(basins, days) / 1e6, 1),
            formula="pairs: 8 B x windows; index: (1/8 + 1/64) B x basins x days + 8 B x days",
        ))  # fmt: skip
    return rows


def _store(args) -> Path:
    if args.store is not None:
        return args.store
    from benchmarks.scale_trees import caravan_tree
    from rvhpc import progress
    from rvhpc.data.store import prepare_store

    progress.set_quiet(True)
    out = args.work / f"caravan-{args.basins}-{args.years}y.h5"
    if not out.is_file():
        tree = caravan_tree(args.work, args.basins, args.years)
        (t0, t1), (e0, e1) = tree["periods"]
        prepare_store(tree["root"], tree["basins"], out, dataset="caravan", format="csv",
                      train_period=(t0, t1), eval_period=(e0, e1))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a Caravan store to use")
    parser.add_argument("--basins", type=int, default=2000)
    parser.add_argument("--years", type=int, default=40)
    parser.add_argument("--work", type=Path, default=Path("bench-out/window_index"))
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=["memory", "gather", "training"])
    parser.add_argument("--out", type=Path, default=Path("bench-out/window_index.json"))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    store = _store(args)
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.store import open_store

    sampler = WindowSampler(open_store(store, period="train", warmup=SEQ - 1), SEQ)
    index, pairs = sampler.train_samples(), baseline_pairs(sampler)
    same = bool(np.array_equal(index.pairs(), pairs))
    result: dict = dict(
        machine=dict(cpus=len(os.sched_getaffinity(0)), load_before=os.getloadavg()),
        store=str(store), basins=len(sampler.store.basins), candidate_days=index.n_days,
        windows=len(index), same_windows=same,
        bytes=dict(index=index.nbytes, pairs=pairs.nbytes,
                   index_per_window=round(index.nbytes / max(1, len(index)), 4),
                   pairs_per_window=8),
    )  # fmt: skip
    if "memory" in args.parts:
        result["memory"] = memory(store)
    if "gather" in args.parts:
        kinds = {"index": index, "pairs": pairs}
        result["gather_us"] = gather({"sampler": sampler, "kinds": kinds}, args.rounds)
    if "training" in args.parts:
        result["training"] = training(store, args.rounds, args.steps)
    result["projection"] = projection()
    result["machine"]["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
