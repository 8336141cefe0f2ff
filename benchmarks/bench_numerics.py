"""What ``--numerics portable`` costs against ``fast``, with and without flushing denormals, under
every CPU capability this machine can force, at the demo's shape and at the paper's (issue 23);
and the original code's path measured in the same processes (the 2x target).

One configuration is one process, because the kernel path is fixed when torch, MKL and numpy
load: ``fast`` under ATEN_CPU_CAPABILITY=default, avx2 and (where the CPU has it) avx512, and
``portable`` (which fixes its own path), each with denormals flushed (FTZ+DAZ) and not. Each
process measures, for every shape and arch, rvhpc's training step (rvhpc.training.bench.measure:
batch gather, forward, NSE loss, backward, clip, Adam) and the original code's in the same
process (bench_training's baseline: per-sample window-file reads, DataLoader, per-step Python
loop; "fast <the CPU's level> ieee" is the original as its users run it), then the largest
deviation of rvhpc's forward and gradients from the float64 reference equations
(tests/models/test_models.py, whose tolerances are 1e-5 and 1e-4). Rounds alternate the
configurations; the best of the rounds is kept per configuration (the CPU is shared), and every
ratio is of numbers from one round.

    python -m benchmarks.bench_numerics [--rounds 2] [--quick] [--out FILE]

One file of results per CPU vendor (``benchmarks/results/bench_numerics_amd.json``, ``_intel``);
each has a ``.log`` beside it, the run's printed output.
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

#: (name, hidden, batch, seq, threads, archs, timed steps): the demo's and the paper's shapes.
#: One thread, and the paper's shape on both cores too (run it on an idle machine: on a 2-core
#: machine shared with other work, two threads ran a paper-sized EA step at 10-38 samples/s where
#: one thread ran 145, as each of the step's thousands of parallel regions waits for a
#: descheduled thread).
SHAPES = (
    ("demo", 32, 256, 90, 1, ("ea", "lstm", "ct"), 20),
    ("paper", 256, 256, 270, 1, ("ea", "ct"), 3),
    ("paper-2t", 256, 256, 270, 2, ("ea", "ct"), 3),
)
TRAIN = ("2000-10-01", "2003-09-30")
EVAL = ("1999-01-01", "2000-09-30")


def per_vendor(stem: str, cpu: dict) -> Path:
    """``benchmarks/results/<stem>_<vendor>.json``: one result file per CPU vendor."""
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(cpu["vendor"], "other")
    return Path(f"benchmarks/results/{stem}_{vendor}.json")


def configurations(avx512: bool) -> list[dict]:
    caps = ["default", "avx2"] + (["avx512"] if avx512 else [])
    out = [{"mode": "fast", "capability": c, "flush": f} for c in caps for f in (True, False)]
    return out + [{"mode": "portable", "capability": "avx2", "flush": f} for f in (True, False)]


def label(cfg: dict) -> str:
    cap = f" {cfg['capability']}" if cfg["mode"] == "fast" else ""
    return f"{cfg['mode']}{cap} {'flush' if cfg['flush'] else 'ieee'}"


def prepare(workdir: Path) -> dict:
    """Synthetic CAMELS, the store, and the original code's window files (seq 90 and 270)."""
    import pandas as pd

    from benchmarks.bench_store import build_window_file
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store, prepare_store
    from rvhpc.data.synth import synthesize

    shutil.rmtree(workdir, ignore_errors=True)  # its own scratch folder, made fresh each run
    workdir.mkdir(parents=True)
    synth = synthesize(workdir / "camels", n_basins=8, start="1998-01-01", end=TRAIN[1], seed=0)
    store_path = prepare_store(
        synth.root, synth.basin_file, workdir / "store.h5", train_period=TRAIN, eval_period=EVAL
    )
    store = open_store(store_path, "train", warmup=269)
    attrs = build_statics("physics", store)
    pd.DataFrame(attrs.values, index=attrs.basins).to_parquet(workdir / "attributes.parquet")
    for seq in sorted({s[3] for s in SHAPES}):
        build_window_file(
            synth.root,
            synth.basins,
            workdir / f"windows{seq}.h5",
            TRAIN,
            store.x_mean,
            store.x_std,
            store.y_mean,
            store.y_std,
            seq=seq,
        )
    return {"store": str(store_path), "workdir": str(workdir)}


def worker(cfg: dict, data: dict, quick: bool) -> dict:
    """One configuration's measurements (runs in a process of its own)."""
    from rvhpc import numerics

    numerics.enter(cfg["mode"], flush=cfg["flush"])  # first: before torch and numpy load
    import pandas as pd
    import torch

    from benchmarks.bench_training import baseline_throughput
    from rvhpc import kernels, progress
    from rvhpc.training.bench import measure
    from rvhpc.training.runtime import tune_cpu_allocator

    progress.set_quiet(True)
    tune_cpu_allocator()
    attributes = pd.read_parquet(Path(data["workdir"]) / "attributes.parquet")
    out = {"config": cfg, "kernels": kernels.record(torch.device("cpu"), cfg["mode"]), "runs": {}}
    for name, hidden, batch, seq, threads, archs, steps in SHAPES:
        steps = 2 if quick else steps
        torch.set_num_threads(threads)
        for arch in archs:
            ours = measure(
                arch=arch,
                hidden=hidden,
                batch_size=batch,
                steps=steps,
                warmup=1,
                seq_length=seq,
                device="cpu",
                store=Path(data["store"]),
                threads=threads,
            )
            base = baseline_throughput(  # the original code's path, in the same process
                arch,
                Path(data["workdir"]) / f"windows{seq}.h5",
                attributes,
                steps,
                1,
                0,
                torch.device("cpu"),
                hidden=hidden,
                batch=batch,
            )
            run = {
                "rvhpc": ours["samples_per_s"],
                "baseline": base["samples_per_s"],
                "ratio": ours["samples_per_s"] / base["samples_per_s"],
                "threads": threads,
            }
            out["runs"][f"{name}/{arch}"] = run
            print(f"  {label(cfg)} {name}/{arch}: {run}", file=sys.stderr, flush=True)
    out["reference_deviation"] = reference_deviation()
    return out


def reference_deviation() -> dict:
    """Largest |rvhpc - float64 reference| of the forward pass and of the gradients (relative to
    1 + |reference|), per arch, with the inputs of tests/models/test_models.py."""
    import torch

    from rvhpc.models import from_reference
    from tests.models.test_models import (
        ARCHS,
        N_DYN,
        gradients_and_reference,
        inputs,
        random_reference_dict,
        reference_forward,
    )

    out = {}
    for arch in ARCHS:
        sd = random_reference_dict(arch)
        model = from_reference(sd, arch, n_dynamic=N_DYN).eval()
        x_d, x_s = inputs(arch, steps=30)
        with torch.no_grad():
            fwd = (model(x_d, x_s).double() - reference_forward(sd, arch, x_d, x_s)).abs().max()
        ours, ref = gradients_and_reference(arch)
        grad = max(
            float(((ours[k].double() - v.grad).abs() / (1 + v.grad.abs())).max())
            for k, v in ref.items()
        )
        out[arch] = {"forward": float(fwd), "gradient": grad}
    return out


def run_config(cfg: dict, data: dict, quick: bool) -> dict:
    """Start a worker process with the configuration's environment; its JSON result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "RVHPC_"))}
    for key in ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE"):
        env.pop(key, None)
    if cfg["mode"] == "fast":
        env["ATEN_CPU_CAPABILITY"] = cfg["capability"]
    argv = [sys.executable, "-m", "benchmarks.bench_numerics", "--worker", json.dumps(cfg)]
    argv += ["--data", json.dumps(data)] + (["--quick"] if quick else [])
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=env, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"{label(cfg)} failed (its stderr is above)")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(rounds: list[list[dict]]) -> dict:
    """Best rvhpc and baseline per configuration and run; ratios portable/fast and flush/ieee
    within each round, then their range over the rounds."""
    by_label: dict[str, dict] = {}
    for results in rounds:
        for r in results:
            entry = by_label.setdefault(label(r["config"]), {"config": r["config"], "runs": {}})
            entry["kernels"] = r["kernels"]
            entry["reference_deviation"] = r["reference_deviation"]
            for run, v in r["runs"].items():
                best = entry["runs"].setdefault(run, {"rvhpc": 0.0})
                best["rvhpc"] = max(best["rvhpc"], v["rvhpc"])
                if "baseline" in v:
                    best["baseline"] = max(best.get("baseline", 0.0), v["baseline"])
                    best["ratio_vs_baseline"] = best["rvhpc"] / best["baseline"]
                    best.setdefault("ratios_per_round", []).append(v["ratio"])
    ratios: dict[str, dict[str, list[float]]] = {}
    for results in rounds:
        got = {label(r["config"]): r["runs"] for r in results}
        for name, runs in got.items():
            cfg = next(r["config"] for r in results if label(r["config"]) == name)
            pairs = []
            if cfg["mode"] == "fast":
                portable = f"portable {'flush' if cfg['flush'] else 'ieee'}"
                pairs.append((f"portable / {name}", portable, name))
            if cfg["flush"]:
                pairs.append((f"{name} flush / ieee", name, name.replace("flush", "ieee")))
            for key, num, den in pairs:
                if num in got and den in got:
                    for run in runs:
                        value = got[num][run]["rvhpc"] / got[den][run]["rvhpc"]
                        ratios.setdefault(key, {}).setdefault(run, []).append(value)
    return {"configs": by_label, "ratios": ratios}


def against_original(summary: dict, top: str) -> dict[str, dict[str, float]]:
    """Each configuration's best samples/s over the original code's path as its users run it
    (``fast <top> ieee``: the CPU's best level, IEEE denormals), per shape and arch."""
    original = summary["configs"][f"fast {top} ieee"]["runs"]
    return {
        name: {run: v["rvhpc"] / original[run]["baseline"] for run, v in entry["runs"].items()}
        for name, entry in summary["configs"].items()
    }


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 timed steps (a smoke run)")
    parser.add_argument(
        "--out", type=Path, help="default: benchmarks/results/bench_numerics_<vendor>.json"
    )
    parser.add_argument("--workdir", type=Path, default=Path("bench-out/bench_numerics_work"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), json.loads(args.data), args.quick)))
        return None
    from rvhpc import progress
    from rvhpc.kernels import cpu_flags

    progress.set_quiet(True)
    data = prepare(args.workdir)
    cpu = cpu_flags()
    configs = configurations(cpu["avx512f"])
    rounds, loads = [], []
    for k in range(args.rounds):
        results = []
        for cfg in configs if k % 2 == 0 else configs[::-1]:
            loads.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            results.append(run_config(cfg, data, args.quick))
            runs = results[-1]["runs"]
            shown = ", ".join(
                f"{run} {v['rvhpc']:.0f}" + (f" ({v['ratio']:.2f}x base)" if "ratio" in v else "")
                for run, v in runs.items()
            )
            print(f"round {k + 1} {label(cfg)} [{time.perf_counter() - t0:.0f} s]: {shown}")
        rounds.append(results)
    summary = summarise(rounds)
    summary |= {"cpu": cpu, "load_average_1min": loads, "shapes": SHAPES, "rounds": args.rounds}
    top = "avx512" if cpu["avx512f"] else "avx2"  # the original as its users run it
    summary["against_original"] = against_original(summary, top)
    args.out = args.out or per_vendor("bench_numerics", cpu)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    for key, runs in summary["ratios"].items():
        print(key + ": " + ", ".join(f"{r} {min(v):.2f}-{max(v):.2f}" for r, v in runs.items()))
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    main()
