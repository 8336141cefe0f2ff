"""The projection of benchmarks/bench_scale.py's measurements to full Caravan (16,000 and 22,000
basins x 70 years), every column a formula of measured numbers and stated parameters.

Notation: B basins, Y years, D = round(365.25 Y) days, I dynamic inputs (+1 target), S training
samples. Measured values carry the size they were measured at (B_m, D_m). Each column's formula
is returned beside its values, so the table shows how it was made.
"""

from __future__ import annotations

import dataclasses

from rvhpc.data.writer import store_bytes

GB = 1e9
MB = 1e6


@dataclasses.dataclass(frozen=True)
class Params:
    """The assumptions of the projection (the table states them)."""

    targets: tuple[tuple[int, int], ...] = ((16_000, 70), (22_000, 70))
    inputs: tuple[int, ...] = (5, 10)
    #: bytes of the training sample index per sample; None: as measured by the readers (int32
    #: (basin, day) pairs today: 8)
    index_bytes_per_sample: float | None = None
    #: bytes per sample of the epoch's order (int64 permutation of every window)
    order_bytes_per_sample: int = 8
    #: training years per basin; None: every year of the record (no missing data: an upper bound)
    train_years: float | None = None
    #: ``train: {samples_per_epoch: N}``: the epoch's order holds N samples; None: every window
    samples_per_epoch: int | None = None
    seq_length: int = 270
    ranks: int = 4


def days(years: float) -> int:
    return round(365.25 * years)


def _line(x1: float, y1: float, x2: float, y2: float):
    """The line through two points, and its slope floored at 0 (a fall is measurement noise)."""
    slope = max(0.0, (y2 - y1) / (x2 - x1)) if x2 != x1 else 0.0
    return lambda x: y2 + slope * (x - x2), slope


def measured_inputs(result: dict, p: Params) -> dict:
    """The measured numbers the formulas use, each with the size it was measured at."""
    m: dict = {}
    build = result.get("build_summary", {}).get("caravan")
    if build:
        sizes = result["machine"]["sizes"]
        d_m, big = days(result["machine"]["years"]), str(sizes[-1])
        t = build["time_vs_pandas_parse"][big]
        rss = build["memory_new"]["peak_rss_mb"]
        m["build"] = dict(basins=sizes[-1], days=d_m, build_s=t["build_s"],
                          parse_s=t["pandas_parse_s"], rss_mb=(sizes[0], rss[str(sizes[0])],
                                                               sizes[-1], rss[big]))  # fmt: skip
        old = result["build_summary"].get("camels_us", {}).get("memory_baseline")
        if old:  # 4605e86 held every series: its peak is a line in basin-days
            pk = old["peak_rss_mb"]
            m["build"]["baseline_rss_mb"] = (sizes[0] * d_m, pk[str(sizes[0])], sizes[-1] * d_m,
                                             pk[big])  # fmt: skip
    readers = result.get("readers")
    if readers:
        s = readers["summary"]
        n_samples = readers["throughput"]["train_samples"]
        uss = s["extra_process_uss_mb"] * MB
        held = readers["throughput"].get("train_samples_bytes", 8 * n_samples)  # int32 pairs
        m["readers"] = dict(
            basins=readers["basins"], samples=n_samples, index_bytes=held, uss_extra=uss,
            uss_fixed=uss - held, index_bytes_per_sample=held / max(n_samples, 1),
        )  # fmt: skip
    collect = result.get("collect")
    if collect:
        m["collect"] = {code: dict(line["peak_rss_gib"], years=collect["years"], cells=10)
                        for code, line in collect["projection"].items()}  # fmt: skip
    nh = result.get("first_batch", {}).get("sizes", {})
    points = [(int(b) * e["neuralhydrology"]["days"], e["neuralhydrology"]["peak_rss_gib"])
              for b, e in nh.items() if "neuralhydrology" in e]  # fmt: skip
    if points:
        m["neuralhydrology"] = dict(points=sorted(points))
    return m


def project(result: dict, p: Params = Params()) -> dict:
    """Project the measured parts of a bench_scale result to the sizes of ``p.targets``.

    Parameters
    ----------
    result : dict
        A bench_scale result (any subset of its parts; a column whose part is missing is left
        out).
    p : Params
        The assumptions; ``index_bytes_per_sample=None`` takes the readers' measured index.

    Returns
    -------
    dict
        ``params`` (as used), ``measured`` (the inputs of the formulas, with their sizes),
        ``formulas`` (one line per column) and ``rows`` (one dict per target size).
    """
    m, rows = measured_inputs(result, p), []
    if p.index_bytes_per_sample is None:
        got = m.get("readers", {}).get("index_bytes_per_sample", 8.0)
        p = dataclasses.replace(p, index_bytes_per_sample=round(got, 3))
    formulas = {
        "store_gb": "B x D x (I + 1) x 4 bytes + B x 4096 + 4 MiB (rvhpc.data.writer.store_bytes)",
        "samples": "S = B x round(365.25 x Y_train)"
        + (" (Y_train = Y: every day a target, no gaps; an upper bound)" if p.train_years is None
           else f" (Y_train = {p.train_years})"),
        "index_order_gb": f"S x {p.index_bytes_per_sample} bytes of sample index + "
        + (f"S x {p.order_bytes_per_sample} bytes of epoch order (every window an epoch)"
           if p.samples_per_epoch is None else f"{p.samples_per_epoch:,} (samples_per_epoch) x "
           f"{p.order_bytes_per_sample} bytes of epoch order"),
    }  # fmt: skip
    if "build" in m:
        b = m["build"]
        formulas["build_h"] = (
            f"t_build(B_m={b['basins']}, D_m={b['days']}) x (B x D) / "
            "(B_m x D_m), one reader process (2 CPUs; pool off below 4)"
        )
        formulas["parse_h"] = "the same for the pandas parse of the CSV files (the floor)"
        formulas["build_rss_gb"] = (
            f"peak(B={b['rss_mb'][2]}) + max(0, slope) x (B - "
            f"{b['rss_mb'][2]}), slope through B = {b['rss_mb'][0]} and "
            f"{b['rss_mb'][2]} at Y = {result['machine']['years']}"
            + (
                "; 4605e86 (CAMELS US, every series in memory): the line through its two peaks "
                "in basin-days B x D"
                if "baseline_rss_mb" in b
                else ""
            )
        )
    if "readers" in m:
        r = m["readers"]
        formulas["uss_gb"] = (
            "USS_fixed + sample index + epoch order; USS_fixed = "
            f"{r['uss_fixed'] / MB:.0f} MB (extra reader's "
            f"USS at {r['basins']} basins minus the {r['index_bytes'] / MB:.0f} MB of its "
            f"{r['samples']:,} samples' index)"
        )
        formulas["node_gb"] = (
            f"{p.ranks} ranks: store once (page cache) + {p.ranks} x USS; "
            f"4605e86: {p.ranks} x (USS + the training days' slice "
            "B x (D_train + seq - 1) x (I + 1) x 4)"
        )
    if "collect" in m:
        c = m["collect"]["new"]
        formulas["collect_gb"] = (
            f"line through the collect runs: {c['at_zero']} GiB + "
            f"{c['per_1000_basins']} GiB per 1,000 basins (10 cells x "
            f"{c['years']:g} years of predictions; shown in GB)"
        )
    if "neuralhydrology" in m:
        pts = m["neuralhydrology"]["points"]
        formulas["nh_gb"] = (
            "peak RSS linear in basin-days B x D through the runs at "
            + ", ".join(f"{x:,} basin-days" for x, _ in pts)
            + (" (one size: proportional)" if len(pts) == 1 else "")
        )
    for basins, years in p.targets:
        rows.append(_row(basins, years, m, p))
    return dict(params=dataclasses.asdict(p), measured=m, formulas=formulas, rows=rows)


def _row(basins: int, years: int, m: dict, p: Params) -> dict:
    d = days(years)
    d_train = days(p.train_years if p.train_years is not None else years)
    n_samples = basins * d_train
    row: dict = dict(basins=basins, years=years, days=d, samples=n_samples)
    row["store_gb"] = {str(i): round(store_bytes(basins, d, i) / GB, 1) for i in p.inputs}
    in_order = n_samples if p.samples_per_epoch is None else min(n_samples, p.samples_per_epoch)
    index_order = n_samples * p.index_bytes_per_sample + in_order * p.order_bytes_per_sample
    row["index_order_gb"] = round(index_order / GB, 2)
    if "build" in m:
        b = m["build"]
        scale = basins * d / (b["basins"] * b["days"])
        row["build_h"] = round(b["build_s"] * scale / 3600, 1)
        row["parse_h"] = round(b["parse_s"] * scale / 3600, 1)
        line, _ = _line(*b["rss_mb"])
        row["build_rss_gb"] = dict(new=round(line(basins) * MB / GB, 2))
        if "baseline_rss_mb" in b:
            old, _ = _line(*b["baseline_rss_mb"])
            row["build_rss_gb"]["baseline"] = round(old(basins * d) * MB / GB, 1)
    if "readers" in m:
        uss = m["readers"]["uss_fixed"] + index_order
        row["uss_gb"] = round(uss / GB, 2)
        store = store_bytes(basins, d, p.inputs[0])
        slice_ = basins * min(d, d_train + p.seq_length - 1) * (p.inputs[0] + 1) * 4
        row["node_gb"] = dict(new=round((store + p.ranks * uss) / GB, 1),
                              baseline=round(p.ranks * (uss + slice_) / GB, 1))  # fmt: skip
    if "collect" in m:
        gib = {code: c["at_zero"] + max(0.0, c["per_1000_basins"]) * basins / 1000
               for code, c in m["collect"].items()}  # fmt: skip
        row["collect_gb"] = {code: round(v * 1024**3 / GB, 2) for code, v in gib.items()}
    if "neuralhydrology" in m:
        pts, x = m["neuralhydrology"]["points"], basins * d
        if len(pts) == 1:
            value = pts[0][1] * x / pts[0][0]
        else:
            value = _line(*pts[0], *pts[-1])[0](x)
        row["nh_gb"] = round(value * 1024**3 / GB, 1)
    return row
