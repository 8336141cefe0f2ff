"""How fast a 1,200-point sweep expands, shows and submits (``grid show``, ``grid show --json``,
``submit --dry-run``), against a grid of the same 1,200 cells without a sweep (1,200 seeds of one
experiment), and against another rvhpc source tree (``--baseline-src``) on that same grid, in
alternating rounds. Each command is the real CLI in a fresh process, so the times include
Python's start-up and imports, as a user sees them.

    python benchmarks/bench_sweep.py [--rounds 3] [--baseline-src /path/to/other/checkout]
        [--out bench-out/bench_sweep.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from rvhpc.resources import builtin_grid, profiles_dir

COMMANDS = {
    "grid show": ["grid", "show", "{grid}"],
    "grid show --json": ["grid", "show", "{grid}", "--json"],
    "submit --dry-run": ["submit", "{grid}", "--profile", "{profile}", "--dry-run"],
}


def grids(folder: Path) -> dict[str, Path]:
    """The two 1,200-cell grids: ``sweep`` (40 x 30 points, one seed) and ``seeds`` (one
    experiment, 1,200 seeds: what a grid without sweeps could already express)."""
    base = yaml.safe_load(builtin_grid("smoke").read_text())
    out = {}
    for name, exp, sweep in (
        ("seeds", {"arch": "ea", "static": "physics", "seeds": list(range(1200))}, None),
        (
            "sweep",
            {"arch": "ea", "static": "physics", "seeds": [0]},
            {"hidden": list(range(4, 44)), "dropout": [round(0.01 * i, 2) for i in range(30)]},
        ),
    ):
        data = {**base, "name": name, "runs_dir": f"runs/{name}", "experiments": [exp]}
        data["data"] = {**base["data"], "store": f"runs/{name}/data/store.h5"}
        if sweep:
            data["sweep"] = sweep
        out[name] = folder / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr[-2000:]}")
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-out/bench_sweep.json"))
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    paths = grids(folder)
    profile = folder / "site.yaml"
    profile.write_text((profiles_dir() / "local.yaml").read_text() + "max_array_size: 1001\n")
    env = {**os.environ, "COLUMNS": "200"}
    variants = {"new sweep": ("sweep", env), "new seeds": ("seeds", env)}
    if args.baseline_src is not None:
        variants["baseline seeds"] = ("seeds", {**env, "PYTHONPATH": str(args.baseline_src)})
    times: dict[str, dict[str, list[float]]] = {v: {c: [] for c in COMMANDS} for v in variants}
    for _ in range(args.rounds):  # alternating: every variant once per round
        for command, template in COMMANDS.items():
            for variant, (grid, venv) in variants.items():
                cmd = [t.format(grid=paths[grid], profile=profile) for t in template]
                times[variant][command].append(
                    timed([sys.executable, "-m", "rvhpc", "--quiet", *cmd], venv)
                )
    result = {
        "cells": 1200,
        "rounds": args.rounds,
        "load": os.getloadavg(),
        "median_s": {
            v: {c: statistics.median(t) for c, t in ts.items()} for v, ts in times.items()
        },
    }
    med = result["median_s"]
    result["ratio_sweep_to_seeds"] = {
        c: med["new sweep"][c] / med["new seeds"][c] for c in COMMANDS
    }
    if "baseline seeds" in med:
        result["ratio_new_to_baseline_seeds"] = {
            c: med["new seeds"][c] / med["baseline seeds"][c] for c in COMMANDS
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
