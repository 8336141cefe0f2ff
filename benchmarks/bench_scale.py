"""Issue 22 in one run: the data layer at scale on synthetic Caravan trees, baseline and new code
side by side, and a projection to full Caravan.

The parts are the modules that measure them; this driver runs them in one process tree and one
sitting, and writes ``<out>.json`` (every number) and ``<out>.md`` (targets, tables, projection):

- ``build`` and ``readers``: :func:`benchmarks.scale_store.run` (store build time against the
  pandas parse and its peak RSS at two sizes, CAMELS US values against 4605e86; USS and PSS of
  1, 2 and 4 reader processes, mapped against copied as 4605e86 did; sampling throughput mapped
  against in memory);
- ``first_batch``: :func:`benchmarks.scale_first_batch.first_batch_part` (neuralhydrology's
  Caravan dataset and rvhpc on the same tree: time to the first training batch and peak RSS);
- ``collect``: :func:`benchmarks.scale_collect.measure` (collect of 10 cells at two basin counts);
- the projection (:mod:`benchmarks.scale_project`) to 16,000 and 22,000 basins x 70 years, with
  the formula of each column, and the issue's targets (:mod:`benchmarks.scale_report`).

The baseline is rvhpc at 4605e86, a checkout with its own ``.venv`` (``--baseline``); without it
the baseline's columns are left out. neuralhydrology runs from its own venv (``--nh-python``, the
``bench-nh`` extra); without it that column is left out and the report says so.

    python -m benchmarks.bench_scale --baseline ../scale-base --nh-python .venv-nh/bin/python
    python -m benchmarks.bench_scale --tiny --out /tmp/bs   # every part at tiny sizes
    python -m benchmarks.bench_scale --from-json benchmarks/results/bench_scale.json \
        --out /tmp/p --index-bytes 4 --train-years 30 --samples-per-epoch 10000000

The full run (150/600 basins x 40 years for the build, 2,000 basins x 40 years for the readers,
50/200 x 20 years for neuralhydrology, 200/2,000 basins x 10 years for collect) took 9 to 10
minutes on the 2 shared CPUs of the development machine (load average 0.5 to 5); ``--tiny``
takes about 40 s of CPU (tests/benchmarks/test_bench_scale.py runs it). ``--from-json``
re-renders the report and projection of an earlier run under other projection parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import scale_collect, scale_store  # noqa: E402
from benchmarks.scale_first_batch import first_batch_part  # noqa: E402
from benchmarks.scale_project import Params, project  # noqa: E402
from benchmarks.scale_report import markdown, targets  # noqa: E402

PARTS = ("build", "readers", "first_batch", "collect")
FULL = dict(sizes=[150, 600], years=40, readers=2000, reader_counts=[1, 2, 4], nh_sizes=[50, 200],
            nh_years=20, collect_sizes=[200, 2000], collect_years=10.0, rounds=2)  # fmt: skip
TINY = dict(sizes=[3, 6], years=4, readers=6, reader_counts=[2], nh_sizes=[3], nh_years=4,
            collect_sizes=[2, 4], collect_years=0.5, rounds=1)  # fmt: skip


def uptime() -> str:
    """``uptime``'s line (the load of the shared machine), or the load averages."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _parts(args: argparse.Namespace) -> dict:
    """Each part's name and the call that measures it (``build``/``readers``: dict to merge)."""
    work = args.work

    def store(part: str):
        return lambda: scale_store.run(
            work / "store", tuple(args.sizes), args.years, args.readers,
            tuple(args.reader_counts), rounds=args.rounds, baseline=args.baseline,
            parts=(part,),
        )  # fmt: skip

    return dict(
        build=store("build"),
        readers=store("readers"),
        first_batch=lambda: first_batch_part(
            work / "first_batch", args.nh_sizes, args.nh_years, args.nh_python
        ),
        collect=lambda: scale_collect.measure(
            tuple(args.collect_sizes),
            args.collect_years,
            1,
            args.rounds,
            args.baseline,
            work / "collect",
        ),
    )


def params(args: argparse.Namespace) -> Params:
    """The projection's parameters from the command line."""
    return Params(index_bytes_per_sample=args.index_bytes, train_years=args.train_years,
                  samples_per_epoch=args.samples_per_epoch)  # fmt: skip


def run(args: argparse.Namespace, save=None) -> dict:
    """Every part of ``args.parts``, the targets and the projection, as one JSON-ready dict.

    A part that fails is recorded under ``errors`` (its last lines) and the others still run,
    so that one failure late in a long run does not lose the rest; ``save`` (if given) is
    called with the result after each part."""
    t0 = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = dict(command=args.command, uptime_before=uptime(), notes=list(args.note))
    result["machine"] = dict(
        cpus=len(os.sched_getaffinity(0)), started=time.strftime("%Y-%m-%d %H:%M:%S"),
        sizes=args.sizes, years=args.years, readers=args.readers, rounds=args.rounds,
        baseline=str(args.baseline) if args.baseline else None,
    )  # fmt: skip
    timed, errors = result.setdefault("part_s", {}), result.setdefault("errors", {})
    for part, call in _parts(args).items():
        if part not in args.parts:
            continue
        start = time.perf_counter()
        try:
            got = call()
        except (Exception, SystemExit):  # scale_collect ends with SystemExit on a failed run
            errors[part] = traceback.format_exc()[-3000:]
        else:
            if part in ("build", "readers"):
                got.pop("machine")  # the driver's own, above
                result.update(got)
            else:
                result[part] = got
        timed[part] = round(time.perf_counter() - start, 1)
        if save is not None:
            save(result)
    result["targets"] = targets(result)
    result["projection"] = project(result, params(args))
    result["uptime_after"], result["wall_s"] = uptime(), time.perf_counter() - t0
    return result


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="every part at tiny sizes (a smoke run)")
    for key, value in FULL.items():
        kind = type(value[0]) if isinstance(value, list) else type(value)
        ap.add_argument("--" + key.replace("_", "-"), type=kind,
                        nargs="+" if isinstance(value, list) else None, default=None,
                        help=f"default {value} (--tiny: {TINY[key]})")  # fmt: skip
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout of 4605e86 with .venv")
    ap.add_argument("--nh-python", type=Path, default=REPO / ".venv-nh" / "bin" / "python")
    ap.add_argument(
        "--index-bytes",
        type=float,
        default=None,
        help="bytes of training sample index per sample, for the projection (default: as "
        "measured, 8 with int32 pairs)",
    )
    ap.add_argument(
        "--train-years",
        type=float,
        default=None,
        help="training years per basin, for the projection (default: all)",
    )
    ap.add_argument(
        "--samples-per-epoch",
        type=int,
        default=None,
        help="the epoch's order size, for the projection (default: every window)",
    )
    ap.add_argument("--note", action="append", default=[], help="a line for the report")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_scale")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="re-render the report and projection of an earlier run's JSON",
    )
    args = ap.parse_args(argv)
    preset = TINY if args.tiny else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.command = shlex.join(["python", "-m", "benchmarks.bench_scale", *(argv or sys.argv[1:])])
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run (or, with ``--from-json``, only re-render), write ``<out>.json`` and ``<out>.md``;
    exit 1 when a part failed."""
    args = parse(argv)
    out_json = args.out.with_suffix(".json")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save(result: dict) -> None:
        out_json.write_text(json.dumps(result, indent=1, default=str) + "\n")

    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
        result["targets"] = targets(result)
        result["projection"] = project(result, params(args))
    else:
        scratch = args.work is None
        if scratch:
            args.work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        try:
            result = run(args, save)
        finally:
            if scratch and not args.keep:
                shutil.rmtree(args.work, ignore_errors=True)
    save(result)
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    if result["errors"]:
        print(f"failed parts: {', '.join(result['errors'])} (see {out_json})", file=sys.stderr)
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
