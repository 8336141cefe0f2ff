"""Where CT-LSTM's two CPU paths cross: torch's fused LSTM on [x_t, x_s] (statics concatenated
to every step) against the hand-written recurrence with the statics projected once per sample,
over the width d of the static vector. Sets ``rvhpc.models.fused.MAX_FUSED_STATICS``.

    python -m benchmarks.bench_ct_fused [--hidden 32] [--batch-size 256] [--dims 27,64,128,256]

Prints one JSON line per d: samples/s of each path (best of ``--repeats``, one thread, a real
training step from ``rvhpc.training.bench.measure``) and fused / hand-written.
"""

from __future__ import annotations

import argparse
import json

import rvhpc.models.fused as fused
from rvhpc.training.bench import measure
from rvhpc.training.runtime import tune_cpu_allocator


def rate(d: int, fused_on: bool, args) -> float:
    fused.MAX_FUSED_STATICS = 10**9 if fused_on else -1
    kw = dict(arch="ct", hidden=args.hidden, batch_size=args.batch_size, seq_length=args.seq_length)
    kw |= dict(steps=args.steps, warmup=2, threads=1, n_static=d)
    return max(measure(**kw)["samples_per_s"] for _ in range(args.repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seq-length", type=int, default=90)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dims", default="27,64,128,256")
    args = ap.parse_args()
    tune_cpu_allocator()
    for d in (int(v) for v in args.dims.split(",")):
        on, off = rate(d, True, args), rate(d, False, args)
        row = {"n_static": d, "hidden": args.hidden, "batch_size": args.batch_size}
        print(json.dumps(row | {"fused": on, "handwritten": off, "ratio": on / off}), flush=True)


if __name__ == "__main__":
    main()
