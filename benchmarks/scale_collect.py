"""``rvhpc collect`` at scale (issue 22, item 4): 10 cells (2 experiments x 5 seeds) x B basins x
Y years of daily predictions, at two basin counts, baseline and new code in one run.

Each size's runs are generated once with ``tests/support/fake_runs.py`` (finished cells in the
training contract's format; kept under ``--data`` and reused). Each round runs ``rvhpc --quiet
collect`` from an empty results folder (no cache) with the baseline's checkout (commit 4605e86,
whole-file reads) and with this one, alternating which goes first, while
:class:`benchmarks.memtools.TreePeak` polls the RSS of the whole process tree (CLI, scheduler,
nanny, workers). The two codes' metrics.parquet must be equal, bit for bit. Both run with
``rvhpc.numerics.METRICS_ENV`` set, numpy's and OpenBLAS's portable kernel path: the new code's
Dask workers set it themselves (issue 23), the baseline's did not, and on an AVX-512 machine
numpy's wider reductions change KGE, FLV and FMS in their last bit (measured: 1,303 of 2,400
KGE values at 200 basins; equal on the same path).

Projection: peak memory is taken as linear in the basin count at a fixed period and cell count,
``v(B) = v(B1) + (v(B2) - v(B1)) / (B2 - B1) * (B - B1)``, through the medians of the rounds at
the two sizes B1 < B2, and evaluated at 22,000 basins; ``--check`` sizes are measured too and
set against the line's value there. Wall time on a shared machine is dominated by a fixed start
(Dask, imports, figures) that varies by minutes with the load, so its line is not trusted; its
bound is proportional, ``t(22000) <= t(B2) * 22000 / B2``, which counts the fixed start 11 times
over. Rows per cell grow with B x Y, so the lines hold for the Y years they were measured with.

Example: nice .venv/bin/python -m benchmarks.scale_collect --sizes 200,2000 --check 6000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.memtools and tests/support when run as a script
from benchmarks.memtools import GIB, run_measured  # noqa: E402

BASELINE_COMMIT = "4605e86"
TARGET_BASINS = 22_000


def generate(folder: Path, basins: int, years: float) -> Path:
    """10 finished cells (2 experiments x 5 seeds) of ``basins`` x ``years`` under ``folder``."""
    from tests.support.fake_runs import synth_runs  # test code, not part of the package

    runs = folder / f"b{basins}_y{years:g}"
    synth_runs(runs, n_experiments=2, seeds=5, n_basins=basins, n_years=years, metrics=False)
    return runs


def collect_once(python: Path, runs: Path, out: Path, workers: int) -> dict:
    """One cold ``rvhpc collect`` with the checkout whose venv ``python`` is: wall and peak RSS.

    It runs from the results folder's parent, so that no checkout's ``rvhpc/`` is on the path
    but the venv's own (``python -c``/``-m`` put the working directory first).
    """
    shutil.rmtree(out, ignore_errors=True)
    from rvhpc.numerics import METRICS_ENV

    cmd = [str(python), "-m", "rvhpc", "--quiet", "collect", str(runs), "--out", str(out)]
    env = {**os.environ, **METRICS_ENV}  # one numpy kernel path for both codes (docstring)
    r = run_measured([*cmd, "--workers", str(workers)], cwd=out.parent, env=env)
    if r["returncode"] != 0:
        raise SystemExit(f"{python}: collect failed (exit {r['returncode']}):\n{r['output']}")
    return {"wall_s": round(r["wall_s"], 2), "peak_rss_gib": round(r["peak_rss_bytes"] / GIB, 3)}


def same_metrics(a: Path, b: Path) -> bool:
    """Whether two results folders hold the same metrics.parquet, bit for bit."""
    import pandas as pd

    x, y = pd.read_parquet(a / "metrics.parquet"), pd.read_parquet(b / "metrics.parquet")
    try:
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError:
        return False
    return True


def project(sizes: list[int], values: list[float], at: int = TARGET_BASINS) -> dict:
    """The line through (B1, v1), (B2, v2) evaluated at ``at``, its slope per 1,000 basins, and
    the proportional bound ``v2 * at / B2``."""
    (b1, b2), (v1, v2) = sizes, values
    slope = (v2 - v1) / (b2 - b1)
    return {
        "per_1000_basins": round(slope * 1000, 4),
        "at_zero": round(v1 - slope * b1, 3),
        f"at_{at}": round(v1 + slope * (at - b1), 3),
        f"proportional_at_{at}": round(v2 * at / b2, 3),
    }


def _line(sizes: list[int], values: list[float], at: int) -> float:
    return project(sizes, values, at)[f"at_{at}"]


def _measure_size(
    codes: dict, basins: int, years: float, workers: int, rounds: int, data: Path
) -> dict:
    """Both codes at one size, ``rounds`` times, alternating which goes first."""
    t0 = time.perf_counter()
    runs = generate(data, basins, years)
    size = sum(p.stat().st_size for p in runs.rglob("predictions.parquet"))
    print(
        f"{basins} basins: runs in {runs} ({size / GIB:.2f} GiB, {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    per_code: dict = {name: [] for name in codes}
    for r in range(rounds):
        order = list(codes) if r % 2 == 0 else list(codes)[::-1]
        for name in order:
            one = collect_once(codes[name], runs, data / f"out_{name}_{basins}", workers)
            per_code[name].append(one)
            print(
                f"  round {r + 1} {name:>8}: {one['wall_s']:7.1f} s, "
                f"peak {one['peak_rss_gib']:.3f} GiB",
                flush=True,
            )
    entry: dict = {
        "predictions_gib": round(size / GIB, 3),
        "rows": basins * round(years * 365.25) * 10,
    }
    for name, runs_ in per_code.items():
        entry[name] = {
            "rounds": runs_,
            "wall_s": statistics.median(x["wall_s"] for x in runs_),
            "peak_rss_gib": statistics.median(x["peak_rss_gib"] for x in runs_),
        }
    if "baseline" in codes:
        entry["same_metrics"] = same_metrics(
            data / f"out_baseline_{basins}", data / f"out_new_{basins}"
        )
    return entry


def measure(
    sizes: tuple[int, int] = (200, 2000),
    years: float = 10,
    workers: int = 1,
    rounds: int = 2,
    baseline: Path | None = REPO.parent / "i22-base",
    data: Path = Path(tempfile.gettempdir()) / "rvhpc-scale-collect",
    checks: tuple[int, ...] = (),
    check_rounds: int = 1,
) -> dict:
    """Measure baseline and new ``rvhpc collect`` at two basin counts; project to 22,000.

    Parameters
    ----------
    sizes : (int, int)
        The two basin counts B1 < B2 the lines go through.
    years : float
        Days of predictions per basin, in years.
    workers : int
        Dask worker processes.
    rounds : int
        Rounds per size; each round runs both codes, the first of them alternating.
    baseline : Path | None
        A checkout of the baseline commit with its own ``.venv``; None measures the new code
        alone (the scale benchmark's smoke test).
    data : Path
        Where the generated runs and results folders go.
    checks : tuple of int
        More basin counts, measured ``check_rounds`` times and set against the lines.
    check_rounds : int
        Rounds per check size.

    Returns
    -------
    dict
        The settings; per size and code the rounds and their medians and whether the two codes'
        metrics agree; the projections; per check size the measured and projected peaks; the
        load average before and after.
    """
    codes = {"new": REPO / ".venv" / "bin" / "python"}
    if baseline is not None:
        codes = {"baseline": baseline / ".venv" / "bin" / "python", **codes}
    for name, python in codes.items():
        if not python.exists():
            raise SystemExit(f"{name}: no {python}; make the checkout and its venv first")
    result: dict = {
        "cells": 10,
        "years": years,
        "workers": workers,
        "rounds": rounds,
        "baseline_commit": BASELINE_COMMIT if baseline is not None else None,
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in os.getloadavg()],
        "sizes": {},
        "checks": {},
    }
    for basins in sizes:
        result["sizes"][str(basins)] = _measure_size(codes, basins, years, workers, rounds, data)
    result["projection"] = {
        name: {
            what: project(list(sizes), [result["sizes"][str(b)][name][what] for b in sizes])
            for what in ("peak_rss_gib", "wall_s")
        }
        for name in codes
    }
    for basins in checks:
        entry = _measure_size(codes, basins, years, workers, check_rounds, data)
        for name in codes:
            peaks = [result["sizes"][str(b)][name]["peak_rss_gib"] for b in sizes]
            entry[name]["projected_peak_rss_gib"] = round(_line(list(sizes), peaks, basins), 3)
        result["checks"][str(basins)] = entry
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def table(result: dict) -> str:
    """The result as a markdown table (measured sizes and the projection)."""
    sizes = list(result["sizes"])
    head = "| code | " + " | ".join(f"{b} basins: peak GiB / s" for b in sizes)
    head += f" | {TARGET_BASINS} basins (projected): peak GiB / s |"
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for name in ("baseline", "new"):
        got = [result["sizes"][b][name] for b in sizes]
        cells = [f"{g['peak_rss_gib']:.3f} / {g['wall_s']:.1f}" for g in got]
        proj = result["projection"][name]
        peak = proj["peak_rss_gib"][f"at_{TARGET_BASINS}"]
        bound = proj["wall_s"][f"proportional_at_{TARGET_BASINS}"]
        cells.append(f"{peak:.2f} / <= {bound:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratio = [
        result["sizes"][b]["baseline"]["peak_rss_gib"] / result["sizes"][b]["new"]["peak_rss_gib"]
        for b in sizes
    ]
    lines.append("| peak ratio baseline/new | " + " | ".join(f"{r:.2f}x" for r in ratio) + " | |")
    for b, entry in result.get("checks", {}).items():
        lines.append("")
        lines.append(f"Check at {b} basins (measured / projected by the line, peak GiB; wall s):")
        for name in ("baseline", "new"):
            e = entry[name]
            lines.append(
                f"- {name}: {e['peak_rss_gib']:.3f} / {e['projected_peak_rss_gib']:.3f}; "
                f"{e['wall_s']:.0f} s"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000", help="two basin counts, comma-separated")
    ap.add_argument("--years", type=float, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--check", default="", help="more basin counts set against the lines")
    ap.add_argument("--check-rounds", type=int, default=1)
    ap.add_argument("--baseline", type=Path, default=REPO.parent / "i22-base")
    ap.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "rvhpc-scale-collect"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale_collect")
    args = ap.parse_args()
    b1, b2 = (int(x) for x in args.sizes.split(","))
    checks = tuple(int(x) for x in args.check.split(",") if x)
    result = measure(
        (b1, b2),
        args.years,
        args.workers,
        args.rounds,
        args.baseline,
        args.data,
        checks,
        args.check_rounds,
    )
    text = table(result)
    print("\n" + text)
    print(
        "same metrics, baseline and new: "
        + ", ".join(
            f"{b}: {e['same_metrics']}" for b, e in {**result["sizes"], **result["checks"]}.items()
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(text)
    print(f"wrote {args.out.with_suffix('.json')} and .md")
    entries = [*result["sizes"].values(), *result["checks"].values()]
    return 0 if all(e["same_metrics"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
