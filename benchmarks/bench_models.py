"""Model-only speed: forward + backward time per batch of rvhpc's models and the original code's
per-step models (benchmarks/baseline_models.py), side by side, interleaved, in one process.

    python -m benchmarks.bench_models [--hidden 256] [--batch 256] [--seq 270] [--reps 3]
        [--threads N] [--tune-allocator] [--out FILE]

Prints one line per model (min and median seconds per batch, speed-up over the baseline of the
same architecture) and writes the numbers as JSON (``--out``). Data loading is not included; the
end-to-end training benchmark is separate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from benchmarks.baseline_models import baseline_model
from rvhpc.models import MODELS, build_model
from rvhpc.training.runtime import tune_cpu_allocator

N_DYNAMIC, N_STATIC = 5, 27


def _step(model: torch.nn.Module, x_d: torch.Tensor, x_s: torch.Tensor | None) -> None:
    model.zero_grad(set_to_none=True)
    model(x_d, x_s).square().mean().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq", type=int, default=270)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--archs", default=",".join(MODELS))
    parser.add_argument(
        "--tune-allocator",
        action="store_true",
        help="call rvhpc.training.runtime.tune_cpu_allocator() first (affects both sides)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="benchmarks/results/models.json")
    args = parser.parse_args()
    tuned = tune_cpu_allocator() if args.tune_allocator else False
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x_d = torch.randn(args.batch, args.seq, N_DYNAMIC)
    x_st = torch.randn(args.batch, N_STATIC)
    runs = {}
    for arch in args.archs.split(","):
        n_stat = N_STATIC if MODELS[arch].uses_static else 0
        runs[arch] = (
            build_model(arch, N_DYNAMIC, n_stat, hidden=args.hidden),
            x_st if n_stat else None,
        )
        if arch in ("ea", "ct", "lstm"):
            runs[f"baseline_{arch}"] = (
                baseline_model(arch, N_DYNAMIC, n_stat, hidden=args.hidden),
                x_st if n_stat else None,
            )
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _name, (model, x_s) in runs.items():  # warm-up
        _step(model, x_d, x_s)
    for _ in range(args.reps):  # interleaved, so load from other processes hits all alike
        for name, (model, x_s) in runs.items():
            t0 = time.perf_counter()
            _step(model, x_d, x_s)
            times[name].append(time.perf_counter() - t0)
    result = {
        "hidden": args.hidden,
        "batch": args.batch,
        "seq": args.seq,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "allocator_tuned": tuned,
        "models": {},
    }
    for name, ts in times.items():
        entry = {"min_s": min(ts), "median_s": statistics.median(ts)}
        base = f"baseline_{name}"
        if base in times:
            entry["speedup_min"] = min(times[base]) / min(ts)
        result["models"][name] = entry
        extra = f"  x{entry['speedup_min']:.2f} vs baseline" if "speedup_min" in entry else ""
        print(f"{name:14s} min {entry['min_s']:.3f} s  median {entry['median_s']:.3f} s{extra}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=os.path.dirname(args.out) or ".", delete=False, suffix=".tmp"
    ) as fh:
        json.dump(result, fh, indent=2)
    os.replace(fh.name, args.out)


if __name__ == "__main__":
    main()
