"""Packed training throughput: K members as one batched model (K = 1, 2, 5, 10) for every
architecture, against today's single-cell path, measured in the same run (issue 12).

Today's path is the rvhpc of commit BASELINE_REF (the last commit before packed training: one
model per process, ``nn.LSTM`` for CT/FM/LSTM, CT concatenating its statics at every step),
exported with ``git archive`` into a temporary folder and run from there. Both sides are timed by
their own ``rvhpc.training.bench.measure`` (a real training step: batch gather, forward, NSE*,
backward, clip, Adam) in alternating subprocesses, arch by arch, so load drifts hit both; with
``--repeats R`` each rate is the best of R alternating rounds (the machine is a shared VM).

    python -m benchmarks.bench_packed [--device cpu|cuda] [--hidden 64] [--batch-size 64]
        [--seq-length 90] [--steps 4] [--members 1,2,5,10] [--out FILE] [--precision fp32|tf32]
        [--threads N] [--repeats R]

Reported per arch (and CT with n_static = 531, one-hot on the paper's basins): samples/s of today
(K = 1) and of the pack at each K (aggregate and per member), and the ratios
``pack_K / today``. Targets on CPU: K=5 aggregate >= 0.95x K=1; CT at d=531 >= 1.8x today's;
no arch slower than today at K=1. ``--out`` (JSON) feeds ``rvhpc grid show --estimate --rates``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE_REF = "c6b1485"  # main before packed training (issue 12)
ARCHS = (("ea", 27), ("sr", 27), ("fm", 27), ("lstm", 0), ("ct", 27), ("ct", 531))

_MEASURE = """
import json, sys
import torch
tf32 = sys.argv[2] == "tf32"
torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
try:
    from rvhpc.training.runtime import tune_cpu_allocator
except ImportError:  # the baseline commit kept it in rvhpc.models
    from rvhpc.models import tune_cpu_allocator
from rvhpc.training.bench import measure
tune_cpu_allocator()
for kw in json.loads(sys.argv[1]):
    print(json.dumps(measure(**kw)), flush=True)
"""


def export_baseline(ref: str, into: Path) -> Path:
    """``git archive REF rvhpc`` unpacked into ``into``; returns the folder to put on sys.path."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "rvhpc"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_measure(pythonpath: Path, jobs: list[dict], precision: str = "fp32") -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(jobs), precision],
        capture_output=True,
        text=True,
        env=env,
        cwd=pythonpath,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measure failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seq-length", type=int, default=90)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--members", default="1,2,5,10")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--baseline-ref", default=BASELINE_REF)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--precision", choices=("fp32", "tf32"), default="fp32")
    ap.add_argument(
        "--repeats", type=int, default=1, help="alternating rounds; each rate is the best round"
    )
    args = ap.parse_args()
    ks = [int(k) for k in args.members.split(",")]
    common = dict(
        hidden=args.hidden,
        batch_size=args.batch_size,
        seq_length=args.seq_length,
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
        threads=args.threads,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = export_baseline(args.baseline_ref, Path(tmp))
        for arch, n_static in ARCHS:
            kw = dict(common, arch=arch, n_static=n_static)
            rounds = [
                (
                    run_measure(base, [kw], args.precision)[0],
                    run_measure(REPO, [dict(kw, members=k) for k in ks], args.precision),
                )
                for _ in range(args.repeats)
            ]
            today = max((r[0] for r in rounds), key=lambda m: m["samples_per_s"])
            packs = [
                max((r[1][j] for r in rounds), key=lambda m: m["samples_per_s"])
                for j in range(len(ks))
            ]
            k1 = packs[0]["samples_per_s"] if ks[0] == 1 else None
            row = {
                "arch": arch,
                "n_static": n_static,
                "today_samples_per_s": today["samples_per_s"],
                "packs": packs,
                "ratio_to_today": {
                    p["members"]: p["samples_per_s"] / today["samples_per_s"] for p in packs
                },
                "ratio_to_k1": {p["members"]: p["samples_per_s"] / k1 for p in packs} if k1 else {},
            }
            rows.append(row)
            line = ", ".join(
                f"K={p['members']} {p['samples_per_s']:.0f}/s "
                f"({row['ratio_to_today'][p['members']]:.2f}x)"
                for p in packs
            )
            print(f"{arch} d={n_static}: today {today['samples_per_s']:.0f}/s; {line}", flush=True)
    result = {
        "device": rows[0]["packs"][0]["device"],
        "torch": rows[0]["packs"][0]["torch"],
        "settings": common | {"precision": args.precision},
        "baseline_ref": args.baseline_ref,
        "rows": rows,
        "rates": [p for r in rows for p in r["packs"]],
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({r["arch"] + f"/d{r['n_static']}": r["ratio_to_today"] for r in rows}))


if __name__ == "__main__":
    main()
