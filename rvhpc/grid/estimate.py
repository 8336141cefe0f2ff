"""Projected device-hours of a grid from measured training rates, packed and unpacked
(``rvhpc grid show GRID --estimate [--rates BENCH.json]``).

A cell costs its sample-epochs (training samples per epoch x epochs) divided by the rate of one
member of its arch; packed, a group of K cells that differ only in seed costs one member's
sample-epochs divided by the per-member rate at K members (``rvhpc bench --members K``). Rates
come from a file (the JSON of ``benchmarks/bench_packed.py``, a list of ``rvhpc bench --json``
results, or one per line) or are measured here with a few steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from rvhpc.errors import ConfigError
from rvhpc.grid.cells import Grid
from rvhpc.grid.packing import pack_groups


def estimate(grid: Grid) -> dict[str, Any]:
    """Samples x epochs per cell and for the grid.

    Parameters
    ----------
    grid : Grid
        A loaded grid.

    Returns
    -------
    dict
        ``basins``, ``train_days``, ``samples_per_epoch`` (basins x training days of the data
        section) and ``sample_epochs`` (the sum over cells of their samples per epoch, basins x
        days or the cell's ``samples_per_epoch`` when smaller, times epochs); None where the
        basin count or period is unknown.
    """
    d = grid.spec.data
    n_basins: int | None = d.n_basins
    if d.synthetic is not None:
        n_basins = d.synthetic.basins
    elif isinstance(d.basins, Path) and d.basins.is_file():
        n_basins = sum(1 for line in d.basins.read_text().splitlines() if line.strip())
    days = None
    if d.train_period is not None:
        days = _days(d.train_period)
    per_epoch = n_basins * days if n_basins and days else None
    total = 0
    for c in grid.cells:  # scenario cells name their own basins and period
        cell_basins = len(c.config["basins"]) if c.config.get("basins") else n_basins
        cell_days = _days(c.config["train_period"]) if c.config.get("train_period") else days
        if not (cell_basins and cell_days):
            total = None
            break
        total += _per_epoch(c, cell_basins * cell_days) * c.config["epochs"]
    return {
        "basins": n_basins,
        "train_days": days,
        "samples_per_epoch": per_epoch,
        "sample_epochs": total,
    }


def _per_epoch(cell, windows: int) -> int:
    """Samples a cell trains on per epoch: its windows, or ``samples_per_epoch`` when fewer."""
    n = cell.config.get("samples_per_epoch")
    return windows if n is None else min(n, windows)


def _days(period) -> int:
    return (pd.Timestamp(period[1]) - pd.Timestamp(period[0])).days + 1


_NEEDED = ("arch", "members", "samples_per_s_per_member")


def read_rates(path: Path) -> list[dict[str, Any]]:
    """Bench results from ``path``: {"rates": [...]}, a list, or JSON lines."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"--rates {path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise ConfigError(
                f"--rates {path}: not JSON (use the output of benchmarks/bench_packed.py --out "
                "or of rvhpc bench --json)"
            ) from None
    rates = data.get("rates", [data]) if isinstance(data, dict) else data
    for r in rates:
        if not isinstance(r, dict) or any(k not in r for k in _NEEDED):
            raise ConfigError(f"--rates {path}: every entry needs {', '.join(_NEEDED)}")
    return rates


def static_width(cell: Any, n_basins: int | None) -> int:
    """Width of a cell's static vector (one-hot: the number of basins)."""
    if cell.static == "none":
        return 0
    if cell.static == "one_hot":
        return n_basins or 531
    return cell.dim or 27


def rate_for(rates: list[dict], arch: str, members: int, n_static: int) -> tuple[float, int]:
    """Per-member samples/s of ``arch`` at the largest measured K <= members (nearest static
    width); (rate, K used). ConfigError when the arch was not measured."""
    mine = [r for r in rates if r["arch"] == arch]
    if not mine:
        raise ConfigError(f"--rates holds no measurement of arch {arch!r}: bench it first")
    ks = sorted({int(r["members"]) for r in mine})
    k = max([x for x in ks if x <= members] or [ks[0]])
    at_k = [r for r in mine if int(r["members"]) == k]
    best = min(at_k, key=lambda r: abs(int(r.get("n_static", 27)) - n_static))
    return float(best["samples_per_s_per_member"]), k


def measure_rates(grid: Grid, steps: int = 2) -> list[dict]:
    """Measure here, with the grid's settings, each arch at K = 1 and at its largest pack."""
    from rvhpc.training.bench import measure

    work = estimate(grid)
    wanted: dict[tuple[str, int], int] = {}
    for group in pack_groups(grid.cells):
        c = group[0]
        width = static_width(c, work["basins"])
        for k in {1, len(group)}:
            wanted[(c.arch, k)] = width
    first = grid.cells[0].config
    return [
        measure(
            arch=arch,
            members=k,
            n_static=width,
            hidden=first["hidden"],
            batch_size=first["batch_size"],
            seq_length=first["seq_length"],
            steps=steps,
            warmup=1,
            device=first.get("device", "auto"),
        )
        for (arch, k), width in sorted(wanted.items())
    ]


def project(grid: Grid, rates: list[dict]) -> dict[str, Any]:
    """Device-hours of the grid, one process at a time on one device, unpacked and packed."""
    work = estimate(grid)
    per_epoch = work["samples_per_epoch"]
    if not per_epoch:
        raise ConfigError(
            f"grid {grid.name}: unknown basin count or training period; cannot project hours"
        )
    unpacked = packed = 0.0
    for group in pack_groups(grid.cells):
        for c in group:
            rate, _ = rate_for(rates, c.arch, 1, static_width(c, work["basins"]))
            unpacked += _per_epoch(c, per_epoch) * c.config["epochs"] / rate
        c = group[0]
        rate, k = rate_for(rates, c.arch, len(group), static_width(c, work["basins"]))
        epochs = max(x.config["epochs"] for x in group)
        packed += _per_epoch(c, per_epoch) * epochs / rate * -(-len(group) // k)
    return {
        "cells": len(grid.cells),
        "packs": len(pack_groups(grid.cells)),
        "device": sorted({str(r.get("device", "?")) for r in rates}),
        "hours_unpacked": unpacked / 3600,
        "hours_packed": packed / 3600,
    }
