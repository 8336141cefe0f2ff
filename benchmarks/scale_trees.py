"""Synthetic trees of many basins for benchmarks/scale_store.py: a small tree is synthesized once
(rvhpc data synth) and replicated under new gauge ids by hard links (a series file does not hold
its id), with each attribute row copied under the new id. Any number of basins then costs neither
disk nor time, and the files are the synthetic files byte for byte."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import pandas as pd

BASE_BASINS = 24
START = "1981-01-01"


def periods_for(years: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """(train, eval) periods inside ``years`` of data from 1981: train the middle third, eval the
    third before it (each with a year of warm-up before)."""
    start = pd.Timestamp(START)
    third = max(1, years // 3)
    ev = (
        start + pd.DateOffset(years=1),
        start + pd.DateOffset(years=1 + third) - pd.Timedelta(days=1),
    )
    tr = (ev[1] + pd.Timedelta(days=1), ev[1] + pd.DateOffset(years=third))
    fmt = "%Y-%m-%d"
    return (tr[0].strftime(fmt), tr[1].strftime(fmt)), (ev[0].strftime(fmt), ev[1].strftime(fmt))


def _end(years: int) -> str:
    return (pd.Timestamp(START) + pd.DateOffset(years=years) - pd.Timedelta(days=1)).strftime(
        "%Y-%m-%d"
    )


def _days(years: int) -> int:
    return (pd.Timestamp(_end(years)) - pd.Timestamp(START)).days + 1


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        os.link(src, dst)


def _base(work: Path, dataset: str, years: int) -> Path:
    from rvhpc import progress
    from rvhpc.data.synth import synthesize_dataset

    root = work / f"base-{dataset}-{years}y"
    if not (root / "basin_list.txt").is_file():
        progress.set_quiet(True)
        synthesize_dataset(dataset, root, n_basins=BASE_BASINS, start=START, end=_end(years),
                           seed=11, overwrite=True)  # fmt: skip
    return root


def _full(base: Path, basin: str, years: int) -> bool:
    """The basin's record spans every day (synthetic Caravan has a late and an early one)."""
    csv = base / "timeseries" / "csv" / basin.partition("_")[0].lower() / f"{basin}.csv"
    lines = csv.read_text().splitlines()
    return lines[1].startswith(START) and lines[-1].startswith(_end(years))


def caravan_tree(work: Path, n: int, years: int, lowercase_only: bool = False) -> dict:
    """A Caravan root of ``n`` basins x ``years`` (both trees) and its basin list.

    ``lowercase_only`` leaves out the GRDC basins: neuralhydrology 1.13.0 looks for
    ``GRDC_x.nc`` under ``timeseries/netcdf/GRDC/`` (the id's prefix as it is), while
    GRDC-Caravan's folder is ``grdc/``, so it cannot read them."""
    base = _base(work, "caravan", years)
    root = work / (f"caravan-{n}-{years}y" + ("-lc" if lowercase_only else ""))
    shutil.rmtree(root, ignore_errors=True)
    sources = [b for b in (base / "basin_list.txt").read_text().split() if _full(base, b, years)]
    if lowercase_only:
        sources = [b for b in sources if b.partition("_")[0].islower()]
    ids, csv_files, rows = [], [], {}
    for k in range(n):
        src = sources[k % len(sources)]
        prefix = src.partition("_")[0]
        folder = prefix.lower()
        new = f"{prefix}_{k:07d}"
        for fmt, ext in (("netcdf", "nc"), ("csv", "csv")):
            _link(base / "timeseries" / fmt / folder / f"{src}.{ext}",
                  root / "timeseries" / fmt / folder / f"{new}.{ext}")  # fmt: skip
        csv_files.append(root / "timeseries" / "csv" / folder / f"{new}.csv")
        rows.setdefault(folder, []).append((src, new))
        ids.append(new)
    for folder, pairs in rows.items():
        for path in sorted((base / "attributes" / folder).glob("*.csv")):
            table = pd.read_csv(path, dtype={"gauge_id": str}).set_index("gauge_id")
            out = table.loc[[s for s, _ in pairs]]
            out.index = pd.Index([new for _, new in pairs], name="gauge_id")
            target = root / "attributes" / folder / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            out.sort_index().to_csv(target)
    listed = root / "basin_list.txt"
    listed.write_text("".join(f"{b}\n" for b in sorted(ids)))
    return dict(root=root, basins=listed, csv_files=csv_files, periods=periods_for(years),
                span=(START, _end(years)), arrays_bytes=n * _days(years) * (5 + 1) * 4)  # fmt: skip


def camels_tree(work: Path, n: int, years: int) -> dict:
    """A CAMELS US root of ``n`` basins x ``years`` and its basin list."""
    base = _base(work, "camels_us", years)
    root = work / f"camels-{n}-{years}y"
    shutil.rmtree(root, ignore_errors=True)
    sources = (base / "basin_list.txt").read_text().split()
    forcing = {p.name[:8]: p for p in (base / "basin_mean_forcing").rglob("*.txt")}
    flow = {p.name[:8]: p for p in (base / "usgs_streamflow").rglob("*.txt")}
    ids, pairs = [], []
    for k in range(n):
        src = sources[k % len(sources)]
        new = f"{src[:2]}{k:06d}"
        _link(forcing[src], root / "basin_mean_forcing" / "maurer_extended" / src[:2]
              / f"{new}_lump_maurer_forcing_leap.txt")  # fmt: skip
        _link(flow[src], root / "usgs_streamflow" / src[:2] / f"{new}_streamflow_qc.txt")
        ids.append(new)
        pairs.append((src, new))
    attrs = root / "camels_attributes_v2.0"
    attrs.mkdir(parents=True, exist_ok=True)
    for path in (base / "camels_attributes_v2.0").glob("*.txt"):
        lines = path.read_text().splitlines()
        if not path.name.startswith("camels_"):
            (attrs / path.name).write_text("\n".join(lines) + "\n")
            continue
        by_id = {ln.split(";", 1)[0]: ln.split(";", 1)[1] for ln in lines[1:]}
        body = [f"{new};{by_id[src]}" for src, new in pairs]
        (attrs / path.name).write_text("\n".join([lines[0], *body]) + "\n")
    listed = root / "basin_list.txt"
    listed.write_text("".join(f"{b}\n" for b in sorted(ids)))
    return dict(root=root, basins=listed, csv_files=[], periods=periods_for(years),
                arrays_bytes=n * _days(years) * (5 + 1) * 4)  # fmt: skip


def value_digests(path: Path) -> dict[str, str]:
    """sha256 (dtype, shape, values) of every value dataset of a store: the series, dates,
    descriptors, per-basin numbers and scalers (ids and names are stored as other string types
    by the two builds)."""
    found: dict[str, str] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                found.__setitem__(name, str(obj.attrs["sha256"]))
                if isinstance(obj, h5py.Dataset)
                and not name.startswith("attributes/")
                and name not in ("basins", "descriptor_names")
                else None
            )
        )
    return found
