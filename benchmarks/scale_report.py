"""The issue-22 targets and the markdown report of benchmarks/bench_scale.py's results."""

from __future__ import annotations


def targets(result: dict) -> list[dict]:
    """Each target of issue 22 that the run measured: what, the number, whether it holds."""
    out: list[dict] = []
    build = result.get("build_summary", {})
    sizes = result.get("machine", {}).get("sizes", [])
    for dataset, s in build.items():
        g = s.get("memory_new")
        if g:
            out.append(dict(
                target=f"build peak RSS grows <= 1/3 of the arrays' growth ({dataset}, "
                f"{sizes[0]} -> {sizes[-1]} basins)",
                measured=f"{g['rss_growth_mb']:+.0f} MB for {g['arrays_growth_mb']:.0f} MB of "
                f"arrays (ratio {g['ratio']:.2f}; 4605e86: "
                + (f"{s['memory_baseline']['ratio']:.2f})" if "memory_baseline" in s else "n/a)"),
                holds=g["met"],
            ))  # fmt: skip
        for n, t in s.get("time_vs_pandas_parse", {}).items():
            out.append(dict(target=f"build time <= 2x the pandas parse ({n} basins)",
                            measured=f"{t['build_s']:.1f} s / {t['pandas_parse_s']:.1f} s = "
                            f"{t['ratio']:.2f}x", holds=t["met"]))  # fmt: skip
        same = s.get("camels_us_same_values")
        if same:
            out.append(dict(target="CAMELS US store values as at 4605e86",
                            measured=f"{len(same['datasets'])} datasets, differing: "
                            f"{same['differing'] or 'none'}; same fingerprint: "
                            f"{same['same_fingerprint']}", holds=same["same"]))  # fmt: skip
    readers = result.get("readers")
    if readers:
        s, t, n = readers["summary"], readers["throughput"], readers["basins"]
        pss = s["store_pss_by_processes"]
        out += [
            dict(target=f"each extra process adds <= 300 MB USS ({n} basins)",
                 measured=f"{s['extra_process_uss_mb']:.0f} MB (copying, as 4605e86: "
                 f"{max(max(v) for k, v in s['copy_uss_by_processes'].items() if k != '1'):.0f}"
                 " MB)", holds=s["extra_process_uss_met"]),
            dict(target="the data counted once (PSS of the store's pages, 1/2/4 processes)",
                 measured=" / ".join(f"{v:.0f}" for v in pss.values()) + " MB",
                 holds=s["counted_once"]),
            dict(target="sampling from the mapped store >= 0.9x an in-memory copy",
                 measured=f"{t['ratio']:.2f}x ({t['ratio_how']})", holds=t["met"]),
        ]  # fmt: skip
    collect = result.get("collect")
    if collect:
        out.append(_collect_target(collect))
    return out


def _collect_target(collect: dict) -> dict:
    """Collect in bounded memory: the issue sets no number, so the build's rule is used (memory
    grows by at most a third of what the data grow), and the metrics must be the baseline's."""
    small, big = sorted(collect["sizes"], key=int)[0], sorted(collect["sizes"], key=int)[-1]
    e, line = collect["sizes"][big], collect["projection"]["new"]["peak_rss_gib"]
    grow = e["new"]["peak_rss_gib"] - collect["sizes"][small]["new"]["peak_rss_gib"]
    data = e["predictions_gib"] - collect["sizes"][small]["predictions_gib"]
    base = ""
    if "baseline" in e:
        old = e["baseline"]["peak_rss_gib"] - collect["sizes"][small]["baseline"]["peak_rss_gib"]
        base = f" (4605e86: {old:+.2f} GiB, {e['baseline']['peak_rss_gib']:.2f} GiB peak)"
    same = [v.get("same_metrics") for v in collect["sizes"].values()]
    return dict(
        target=f"collect of 10 cells: memory grows <= 1/3 of the predictions' growth ({small} -> "
        f"{big} basins; no number in the issue) and the baseline's metrics bit for bit",
        measured=f"{grow:+.3f} GiB for {data:.2f} GiB of predictions{base}; "
        f"{line['at_22000']:.2f} GiB projected at 22,000 basins; same metrics: {same}",
        holds=grow <= data / 3 and all(x in (True, None) for x in same),
    )


def _table(head: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def markdown(result: dict) -> str:
    """The whole report: settings and load, targets, each part, the projection."""
    mach = result["machine"]
    lines = [
        "# Issue 22 at scale: benchmarks/bench_scale.py", "",
        f"`{result['command']}`", "",
        f"Started {mach['started']}, {mach['cpus']} CPUs, shared machine. uptime before: "
        f"`{result['uptime_before']}`; after: `{result['uptime_after']}`. Baseline: rvhpc at "
        f"4605e86 ({mach.get('baseline') or 'not given'}). Wall time {result['wall_s'] / 60:.0f}"
        " min.", "",
    ]  # fmt: skip
    if result.get("notes"):
        lines += [f"- {n}" for n in result["notes"]] + [""]
    if result.get("part_s"):
        lines += [
            "Seconds per part: "
            + ", ".join(f"{k} {v:.0f}" for k, v in result["part_s"].items())
            + ".",
            "",
        ]
    for part, tail in result.get("errors", {}).items():
        lines += [f"**The {part} part failed**; its columns are missing:", "", "```",
                  *tail.strip().splitlines()[-8:], "```", ""]  # fmt: skip
    lines += ["## Targets", ""]
    lines += _table(["target", "measured", "holds"],
                    [[t["target"], t["measured"], "yes" if t["holds"] else "**no**"]
                     for t in result["targets"]])  # fmt: skip
    lines += _build(result) + _readers(result) + _first_batch(result) + _collect(result)
    lines += projection_md(result["projection"])
    return "\n".join(lines) + "\n"


def _build(result: dict) -> list[str]:
    if "build" not in result:
        return []
    rows = []
    for dataset, part in result["build"].items():
        for n in result["machine"]["sizes"]:
            e = part[str(n)]
            new = min(r["peak_rss"] for r in e["new"]) / 1e6
            old = min((r["peak_rss"] for r in e["baseline"]), default=None)
            build = sorted(r["build_s"] for r in e["new"])[len(e["new"]) // 2]
            parse = sorted(e["parse"])[len(e["parse"]) // 2] if e["parse"] else None
            rows.append([dataset, n, f"{e['arrays_bytes'] / 1e6:.0f}", f"{build:.1f}",
                         "–" if parse is None else f"{parse:.1f}", f"{new:.0f}",
                         "–" if old is None else f"{old / 1e6:.0f}"])  # fmt: skip
    head = ["dataset", "basins", "arrays MB", "build s", "pandas parse s", "peak RSS MB",
            "4605e86 peak RSS MB"]  # fmt: skip
    years = result["machine"]["years"]
    return ["", f"## Store build ({years} years; medians of rounds, peak = lowest)", ""] + _table(
        head, rows
    )


def _readers(result: dict) -> list[str]:
    r = result.get("readers")
    if not r:
        return []
    rows = [[m["processes"], " / ".join(f"{u:.0f}" for u in m["uss_mb"]),
             f"{m['pss_total_mb']:.0f}", f"{m['store_pss_total_mb']:.0f}",
             " / ".join(f"{u:.0f}" for u in c["uss_mb"]), f"{c['pss_total_mb']:.0f}"]
            for m, c in zip(r["mapped"], r["copy"], strict=True)]  # fmt: skip
    t = r["throughput"]
    return [
        "", f"## One copy per node ({r['basins']} basins x {r['years']} years, store "
        f"{r['store_mb']:.0f} MB, {t['train_samples']:,} training samples)", "",
        *_table(["processes", "mapped: USS each MB", "PSS total MB", "store pages PSS MB",
                 "copied (4605e86): USS each MB", "PSS total MB"], rows),
        "", f"A process that only imports: {r['summary']['uss_of_imports_only_mb']:.0f} MB USS. "
        f"Sampling: mapped {t['windows_per_s']['mapped']:,} windows/s, in memory "
        f"{t['windows_per_s']['memory']:,} windows/s: {t['ratio']:.3f}x ({t['ratio_how']}).",
    ]  # fmt: skip


def _first_batch(result: dict) -> list[str]:
    fb = result.get("first_batch")
    if not fb:
        return []
    rows = []
    for n, e in fb["sizes"].items():
        nh = e.get("neuralhydrology")
        cells = [f"{e[k]['first_batch_s']:.1f} s / {e[k]['peak_rss_gib']:.2f}"
                 for k in ("rvhpc_cold", "rvhpc_warm")]  # fmt: skip
        nh_cell = f"{nh['first_batch_s']:.1f} s / {nh['peak_rss_gib']:.2f}" if nh else "–"
        same = "yes" if nh and nh["samples"] == e["rvhpc_cold"]["samples"] else "–"
        rows.append([f"{n} x {fb['years']}", nh_cell, *cells, f"{e['rvhpc_cold']['samples']:,}",
                     same])  # fmt: skip
    head = ["basins x years", "neuralhydrology: first batch / peak GiB", "rvhpc cold (builds "
            "the store)", "rvhpc warm (store exists)", "samples", "same samples"]  # fmt: skip
    out = [
        "",
        f"## Time to the first training batch (seq {fb['seq_length']}, batch "
        f"{fb['batch_size']}, 5 inputs, {len(fb['descriptors'])} descriptors, netCDF)",
        "",
    ]
    if "neuralhydrology_skipped" in fb:
        out += [f"neuralhydrology not run: {fb['neuralhydrology_skipped']}.", ""]
    return out + _table(head, rows)


def _collect(result: dict) -> list[str]:
    c = result.get("collect")
    if not c:
        return []
    rows = []
    for n, e in c["sizes"].items():
        cells = [f"{e[k]['peak_rss_gib']:.3f} / {e[k]['wall_s']:.0f}" if k in e else "–"
                 for k in ("baseline", "new")]  # fmt: skip
        rows.append([n, *cells, e.get("same_metrics", "–")])
    return ["", f"## Collect, 10 cells x {c['years']:g} years, {c['workers']} worker", ""] + (
        _table(["basins", "4605e86: peak GiB / s", "new: peak GiB / s", "same metrics"], rows)
    )


def projection_md(proj: dict) -> list[str]:
    """The projection table, its formulas and parameters."""
    cols = [("store_gb", "store GB (5 / 10 inputs)"), ("build_h", "build h (pandas parse h)"),
            ("build_rss_gb", "build peak RSS GB: new / 4605e86"),
            ("index_order_gb", "sample index + order GB"),
            ("uss_gb", "USS per extra process GB"),
            ("node_gb", "4 ranks on a node: new / 4605e86 GB"),
            ("collect_gb", "collect peak GB: new / 4605e86"),
            ("nh_gb", "neuralhydrology RSS per process GB")]  # fmt: skip
    rows = proj["rows"]
    cols = [(k, h) for k, h in cols if k in rows[0]]

    def cell(row: dict, key: str) -> str:
        v = row[key]
        if key == "store_gb":
            return " / ".join(f"{x:g}" for x in v.values())
        if key == "build_h":
            return f"{v:g} ({row['parse_h']:g})"
        if isinstance(v, dict):
            return f"{v['new']:g} / {v.get('baseline', '–')}"
        return f"{v:g}"

    p = proj["params"]
    table = _table(["basins x years", *[h for _, h in cols]],
                   [[f"{r['basins']:,} x {r['years']}", *[cell(r, k) for k, _ in cols]]
                    for r in rows])  # fmt: skip
    formulas = [f"- **{k}**: {v}" for k, v in proj["formulas"].items()]
    return ["", "## Projection", "", *table, "",
            f"Parameters: {p['index_bytes_per_sample']:g} bytes of sample index per sample (as "
            "measured unless --index-bytes; int32 pairs, 8, when measured), "
            f"{p['order_bytes_per_sample']} bytes of epoch order per sample, "
            f"training years {p['train_years'] or 'all'}, samples_per_epoch "
            f"{p['samples_per_epoch'] or 'every window'}, seq {p['seq_length']}, {p['ranks']} "
            "ranks per node.", "", *formulas]  # fmt: skip
