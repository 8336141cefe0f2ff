"""Size of rvhpc's scaler departures from the original code, on rvhpc's synthetic CAMELS US.

rvhpc's store scalers: mean/std (ddof=0) over the training samples (days with observed discharge).
The original's (``calculate_mean_and_std``): pandas mean/std (ddof=1) over every training-period
day, missing discharge (-999 cfs) converted to mm/day and kept. This script prepares a store with
the paper's periods and prints both, for the output (``output_stats: observed | original``) and for
the inputs (which rvhpc always takes from the store; ``evaluate --reference-run`` uses the
original's). No training: the numbers are the scalers themselves.

    python benchmarks/bench_scalers.py [--basins 16] [--seed 0] [--out bench-out/bench_scalers.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from rvhpc import progress
from rvhpc.data.camels import DYNAMIC_INPUTS
from rvhpc.data.scalers import original_input_stats, original_output_stats
from rvhpc.data.store import open_store, prepare_store
from rvhpc.data.synth import synthesize

TRAIN = ("1999-10-01", "2008-09-30")
EVAL = ("1989-10-01", "1999-09-30")


def measure(basins: int, seed: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench_scalers_"))
    try:
        data = synthesize(
            tmp / "camels", n_basins=basins, start="1988-01-01", end="2008-12-31", seed=seed
        )
        path = prepare_store(
            data.root, data.basin_file, tmp / "store.h5", train_period=TRAIN, eval_period=EVAL
        )
        store = open_store(path, period="train")
        lo, hi = store.day_index(TRAIN[0]), store.day_index(TRAIN[1]) + 1
        missing = float(np.isnan(store.qobs[:, lo:hi]).mean())
        o_mean, o_std = original_output_stats(store)
        xi_mean, xi_std = original_input_stats(store)
        return {
            "basins": basins,
            "seed": seed,
            "train_period": TRAIN,
            "missing_fraction": missing,
            "output": {
                "observed": {"mean": store.y_mean, "std": store.y_std},
                "original": {"mean": o_mean, "std": o_std},
                "mean_shift_in_observed_std": (o_mean - store.y_mean) / store.y_std,
                "std_ratio_original_over_observed": o_std / store.y_std,
            },
            "inputs": {
                name: {
                    "observed_mean": float(store.x_mean[i]),
                    "original_mean": float(xi_mean[i]),
                    "observed_std": float(store.x_std[i]),
                    "original_std": float(xi_std[i]),
                    "std_ratio": float(xi_std[i] / store.x_std[i]),
                }
                for i, name in enumerate(DYNAMIC_INPUTS)
            },
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--basins", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-out/bench_scalers.json"))
    args = parser.parse_args(argv)
    progress.set_quiet(True)
    result = measure(args.basins, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
