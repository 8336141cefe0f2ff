"""The data layer at scale (issue 22 items 1 and 2), baseline and new code in one run, as ratios.

- **Build memory**: peak RSS of the whole process tree of ``rvhpc data prepare`` at two sizes
  (150 and 600 basins x 40 years); target: it grows by at most a third of what the store's arrays
  grow. Measured on a synthetic Caravan CSV tree (new code) and on a synthetic CAMELS US tree
  (new code, and the baseline: rvhpc at 4605e86, which built the store in memory).
- **Build time** against parsing the same CSV files with pandas (``pd.read_csv`` of every file, in
  one process: the floor a plain reader pays), rounds alternating; target: at most 2x.
- **CAMELS US values**: the stores of the baseline and the new build hold the same values (the
  sha256 of every value dataset).
- **One copy per node**: 1, 2 and 4 processes open a store of ``--readers`` basins for training
  (the training slice with its warm-up), draw batches, and report their USS and PSS
  (/proc/PID/smaps_rollup) and the PSS of the store file's pages; baseline: every process copies
  the slice into memory, as ``open_store`` at 4605e86 did. Targets: each extra process adds at most
  300 MB of USS; the data are counted once in PSS.
- **Sampling throughput** from the mapped store against an in-memory copy, page cache warm,
  rounds alternating; target: at least 0.9x.

Synthetic trees of many basins are made from a small synthesized one by hard links (the files do
not hold their ids) with attribute rows copied under new ids, so they cost no disk and no time.

    python benchmarks/scale_store.py [--sizes 150 600] [--years 40] [--readers 2000]
        [--baseline /path/to/a/4605e86/worktree] [--out bench-out/scale_store.json]

``run(...)`` returns the JSON-ready results (the scale benchmark's driver calls it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.scale_trees import (  # noqa: E402
    camels_tree,
    caravan_tree,
    value_digests,
)

MB = 1e6


def _tree_rss(pid: int) -> int:
    """Sum of VmRSS of ``pid`` and all its descendants (bytes)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def measured(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run ``cmd``; its peak process-tree RSS (sampled every 10 ms), wall time and last line."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.01)
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed: {err[-2000:]}")
    lines = out.strip().splitlines()
    return dict(peak_rss=peak, wall_s=time.perf_counter() - start, last=lines[-1] if lines else "")


_BUILD = """
import sys, time
from rvhpc import progress
from rvhpc.data.store import prepare_store
progress.set_quiet(True)
root, listed, out, dataset, t0, t1, e0, e1 = sys.argv[1:9]
kw = {} if dataset == "camels_us" else dict(dataset=dataset, format="csv")
start = time.perf_counter()
prepare_store(root, listed, out, train_period=(t0, t1), eval_period=(e0, e1), **kw)
print(time.perf_counter() - start)
"""
_PARSE = """
import sys, time
import pandas as pd
files = open(sys.argv[1]).read().split()
start = time.perf_counter()
for f in files:
    pd.read_csv(f)
print(time.perf_counter() - start)
"""


def build_rounds(python: str, cwd: Path, tree: dict, dataset: str, out: Path) -> dict:
    """One prepare of ``tree`` into a fresh ``out`` with ``python`` (new or baseline code)."""
    out.unlink(missing_ok=True)
    for lock in out.parent.glob(out.name + ".lock"):
        lock.unlink()
    (t0, t1), (e0, e1) = tree["periods"]
    cmd = [python, "-c", _BUILD, str(tree["root"]), str(tree["basins"]), str(out), dataset,
           t0, t1, e0, e1]  # fmt: skip
    r = measured(cmd, cwd)
    return dict(peak_rss=r["peak_rss"], build_s=float(r["last"]), wall_s=r["wall_s"])


def build_part(work: Path, sizes, years, rounds, baseline: Path | None) -> dict:
    new_py, results = sys.executable, {}
    for dataset in ("caravan", "camels_us"):
        part: dict = {}
        for n in sizes:
            tree = (caravan_tree if dataset == "caravan" else camels_tree)(work, n, years)
            entry = dict(basins=n, arrays_bytes=tree["arrays_bytes"], new=[], baseline=[], parse=[])
            listing = work / f"{dataset}-{n}-files.txt"
            listing.write_text("\n".join(map(str, tree["csv_files"])))
            for _ in range(rounds):  # alternating: parse, new build, baseline build
                if dataset == "caravan":
                    parse = measured([new_py, "-c", _PARSE, str(listing)])
                    entry["parse"].append(float(parse["last"]))
                out = work / f"{dataset}-{n}-new.h5"
                entry["new"].append(build_rounds(new_py, REPO, tree, dataset, out))
                if baseline is not None and dataset == "camels_us":
                    old = work / f"{dataset}-{n}-old.h5"
                    py = str(baseline / ".venv" / "bin" / "python")
                    entry["baseline"].append(build_rounds(py, baseline, tree, dataset, old))
            if dataset == "camels_us" and baseline is not None and n == sizes[0]:
                new = work / f"{dataset}-{n}-new.h5"
                a, b = value_digests(new), value_digests(old)
                part["camels_us_same_values"] = dict(
                    same=a == b, datasets=sorted(a), basins=n, differing=sorted(
                        k for k in a if a[k] != b.get(k)),
                    same_fingerprint=fingerprint_of(new) == fingerprint_of(old),
                )  # fmt: skip
            part[str(n)] = entry
        results[dataset] = part
    return results


def fingerprint_of(path: Path) -> str:
    import h5py

    with h5py.File(path, "r") as f:
        return str(f.attrs["fingerprint"])


def _growth(part: dict, sizes, key: str) -> dict | None:
    small, big = part[str(sizes[0])], part[str(sizes[-1])]
    if not small[key] or not big[key]:
        return None
    peak = {n: min(r["peak_rss"] for r in part[str(n)][key]) for n in (sizes[0], sizes[-1])}
    grow_rss = peak[sizes[-1]] - peak[sizes[0]]
    grow_arrays = big["arrays_bytes"] - small["arrays_bytes"]
    return dict(
        peak_rss_mb={str(k): round(v / MB, 1) for k, v in peak.items()},
        rss_growth_mb=round(grow_rss / MB, 1),
        arrays_growth_mb=round(grow_arrays / MB, 1),
        ratio=round(grow_rss / grow_arrays, 3),
        target="<= 0.333",
        met=grow_rss <= grow_arrays / 3,
    )


def summarise(build: dict, sizes) -> dict:
    out = {}
    for dataset, part in build.items():
        summary = {}
        for key in ("new", "baseline"):
            g = _growth(part, sizes, key)
            if g is not None:
                summary[f"memory_{key}"] = g
        if dataset == "caravan":
            times = {}
            for n in sizes:
                entry = part[str(n)]
                build_s = sorted(r["build_s"] for r in entry["new"])[len(entry["new"]) // 2]
                parse_s = sorted(entry["parse"])[len(entry["parse"]) // 2]
                times[str(n)] = dict(build_s=round(build_s, 2), pandas_parse_s=round(parse_s, 2),
                                     ratio=round(build_s / parse_s, 3), target="<= 2",
                                     met=build_s <= 2 * parse_s)  # fmt: skip
            summary["time_vs_pandas_parse"] = times
        if "camels_us_same_values" in part:
            summary["camels_us_same_values"] = part["camels_us_same_values"]
        out[dataset] = summary
    return out


def run(
    work: Path,
    sizes: tuple[int, ...] = (150, 600),
    years: int = 40,
    readers: int = 2000,
    reader_counts: tuple[int, ...] = (1, 2, 4),
    rounds: int = 2,
    baseline: Path | None = None,
    parts: tuple[str, ...] = ("build", "readers"),
) -> dict:
    """Every measurement of the module docstring; JSON-ready results with ratios and targets."""
    from benchmarks.scale_readers import reader_part

    work.mkdir(parents=True, exist_ok=True)
    info = dict(
        cpus=len(os.sched_getaffinity(0)), load_before=os.getloadavg(), sizes=list(sizes),
        years=years, readers=readers, rounds=rounds,
        baseline=str(baseline) if baseline else None, started=time.strftime("%Y-%m-%d %H:%M:%S"),
    )  # fmt: skip
    result: dict = dict(machine=info)
    if "build" in parts:
        build = build_part(work, sizes, years, rounds, baseline)
        result["build"], result["build_summary"] = build, summarise(build, sizes)
    if "readers" in parts:
        result["readers"] = reader_part(work, readers, years, reader_counts, rounds)
    info["load_after"] = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 600])
    parser.add_argument("--years", type=int, default=40)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=["build", "readers"])
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a worktree of 4605e86 with .venv"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/scale_store.json"))
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = parser.parse_args(argv)
    work = args.work or args.out.parent / "scale_store_work"
    result = run(work, tuple(args.sizes), args.years, args.readers, rounds=args.rounds,
                 baseline=args.baseline, parts=tuple(args.parts))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "build"}, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
