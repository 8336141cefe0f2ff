"""The work of a grid and its device-hours: the one work estimate behind ``rvhpc grid show``
(its work line, ``--samples-per-second``, ``--bench``, ``--estimate`` and ``--rates``).

A cell's work is its sample-epochs: its *own* training basins (a scenario's list, the other folds
of a k-fold) x its own training days (a scenario's period, ``last_years``) x its epochs. Charging
every cell the grid's whole list and period was once 240 times too high for a scenario grid.

Unpacked, a cell costs its sample-epochs over the per-member rate of its arch at K=1 and its static
width. Packed (``--pack seeds``), a group of K cells that differ only in seed trains one set of
samples per member: it costs the cell's sample-epochs over the per-member rate at K, once per pack
of at most the measured K. Rates come from a file (:mod:`rvhpc.grid.rates`) or are measured here
(:mod:`rvhpc.training.probe`, within a time budget).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rvhpc.data.footprint import static_width
from rvhpc.errors import ConfigError
from rvhpc.grid.basinlists import store_basins
from rvhpc.grid.cells import Cell, Grid
from rvhpc.grid.packing import pack_groups
from rvhpc.grid.rates import Rate, check_shape, rate_for, read_rates
from rvhpc.grid.scenarios import base_period

#: seconds ``--estimate`` measures for by default
ESTIMATE_SECONDS = 60.0


def grid_basins(grid: Grid) -> int | None:
    """Basins of the grid's plain list (cells of named lists and folds carry their own).

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    int or None
        The synthetic count, the list file's ids, data.n_basins or the existing store's basins;
        None when none is known.
    """
    d = grid.spec.data
    if d.synthetic is not None:
        return d.synthetic.basins
    if isinstance(d.basins, Path) and d.basins.is_file():
        lines = d.basins.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if d.n_basins is not None:
        return d.n_basins
    if d.store is not None and d.store.is_file():
        return len(store_basins(d.store))
    return None


def cell_work(grid: Grid) -> list[tuple[int | None, int | None, int | None]]:
    """What each cell trains on.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    list[tuple]
        (training basins, training days, sample-epochs) per cell, in cell order: a scenario's
        own basins (a k-fold's training folds) and period (``last_years`` resolved); None where
        unknown.
    """
    plain_basins = grid_basins(grid)
    base = base_period(grid.spec)
    plain_days = (base[1] - base[0]).days + 1 if base is not None else None
    out = []
    for c in grid.cells:
        basins = len(c.config["basins"]) if c.config.get("basins") else plain_basins
        period = c.config.get("train_period")
        days = _days(period) if period else plain_days
        work = _per_epoch(c, basins * days) * c.config["epochs"] if basins and days else None
        out.append((basins, days, work))
    return out


def estimate(grid: Grid) -> dict[str, Any]:
    """The grid's work in samples (a sample is one basin-day of training).

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    dict
        ``basins`` and ``train_days`` (when every cell has the same, else None, with
        ``basins_range`` and ``days_range``), ``samples_per_epoch`` (likewise) and
        ``sample_epochs`` of all cells (None when a cell's basin count or period is unknown).
    """
    work = cell_work(grid)
    basins = {b for b, _, _ in work}
    days = {d for _, d, _ in work}
    total = None if any(w is None for _, _, w in work) else sum(w for _, _, w in work)
    one_b = next(iter(basins)) if len(basins) == 1 else None
    one_d = next(iter(days)) if len(days) == 1 else None
    known_b = sorted(b for b in basins if b is not None)
    known_d = sorted(d for d in days if d is not None)
    return {
        "basins": one_b,
        "train_days": one_d,
        "samples_per_epoch": one_b * one_d if one_b and one_d else None,
        "sample_epochs": total,
        "basins_range": [known_b[0], known_b[-1]] if known_b else None,
        "days_range": [known_d[0], known_d[-1]] if known_d else None,
    }


def _per_epoch(cell: Cell, windows: int) -> int:
    """Samples a cell trains on per epoch (training's own rule, with its windows)."""
    from rvhpc.training.order import epoch_size

    return epoch_size(windows, cell.config.get("samples_per_epoch"))


def _days(period: Any) -> int:
    return (pd.Timestamp(period[1]) - pd.Timestamp(period[0])).days + 1


def _width(grid: Grid, cell: Cell, basins: int | None) -> int:
    if cell.arch == "lstm":
        return 0
    return static_width(cell.static, cell.dim, basins or 0, grid.spec.data.n_descriptors)


def _shape(grid: Grid) -> dict[str, int]:
    first = grid.cells[0].config
    return {k: first[k] for k in ("hidden", "batch_size", "seq_length")}


def probe_jobs(grid: Grid) -> list[Any]:
    """What the probe measures for a grid.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    list[rvhpc.training.probe.Job]
        One per (arch, static width) of the grid, with its largest pack (``--pack seeds``) and
        its share of the grid's sample-epochs.
    """
    from rvhpc.training.probe import Job

    work = {c.index: w for c, w in zip(grid.cells, cell_work(grid), strict=True)}
    total = sum(w[2] or 0 for w in work.values()) or 1
    jobs: dict[tuple[str, int], Job] = {}
    for group in pack_groups(grid.cells):
        lead = group[0]
        key = (lead.arch, _width(grid, lead, work[lead.index][0]))
        job = jobs.setdefault(key, Job(key[0], key[1], 1, 0.0))
        job.members = max(job.members, len(group))
        job.share += sum(work[c.index][2] or 0 for c in group) / total
    return list(jobs.values())


def project(grid: Grid, rates: list[Rate]) -> dict[str, Any]:
    """Device-hours of the grid, one process at a time on one device, unpacked and packed.

    Parameters
    ----------
    grid : Grid
    rates : list[Rate]
        Measurements (read from a file or probed here).

    Returns
    -------
    dict
        cells, packs, device, hours_unpacked, hours_packed, ``borrowed``: cells charged the
        rate of another static width than their own, ``pack_spread``: the largest relative spread
        of the pack measurements used (None when one is unknown or nothing is packed), and
        ``pack_gain`` / ``pack_within_noise`` (:func:`_pack_verdict`).

    Raises
    ------
    ConfigError
        A cell whose basin count or training period is unknown, or an arch without a rate.
    """
    work = cell_work(grid)
    unknown = [c for c, (_, _, w) in zip(grid.cells, work, strict=True) if w is None]
    if unknown:
        raise ConfigError(
            f"grid {grid.name}: cell {unknown[0].id} ({unknown[0].experiment}): unknown basin "
            "count or training period; set data.n_basins and data.train_period, or prepare the "
            "store, to project hours"
        )
    unpacked = packed = 0.0
    borrowed = 0
    spreads: set[float | None] = set()
    groups = pack_groups(grid.cells)
    for group in groups:
        lead = group[0]
        basins, _, sample_epochs = work[lead.index]
        width = _width(grid, lead, basins)
        for c in group:
            rate, _ = rate_for(rates, c.arch, 1, width)
            unpacked += work[c.index][2] / rate.samples_per_s_per_member
            borrowed += rate.n_static != width
        rate, k = rate_for(rates, lead.arch, len(group), width)
        packed += sample_epochs / rate.samples_per_s_per_member * -(-len(group) // k)
        if k > 1:
            spreads.add(rate.spread)
    return {
        "cells": len(grid.cells),
        "packs": len(groups),
        "device": sorted({r.device for r in rates}),
        "hours_unpacked": unpacked / 3600,
        "hours_packed": packed / 3600,
        "borrowed": borrowed,
        **_pack_verdict(unpacked, packed, None if None in spreads or not spreads else max(spreads)),
    }


def _pack_verdict(unpacked: float, packed: float, spread: float | None) -> dict[str, Any]:
    """``pack_spread``, ``pack_gain`` (unpacked over packed hours) and ``pack_within_noise``:
    whether the gain lies within the pack measurements' spread (None where either is unknown)."""
    gain = unpacked / packed if packed > 0 else None
    within = None if gain is None or spread is None else abs(gain - 1) <= spread
    return {"pack_spread": spread, "pack_gain": gain, "pack_within_noise": within}


def work_estimate(
    grid: Grid,
    *,
    samples_per_second: float | None = None,
    bench: bool = False,
    rates: Path | None = None,
    measure: bool = False,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Everything ``rvhpc grid show`` says about a grid's work, from one place.

    Parameters
    ----------
    grid : Grid
    samples_per_second : float, optional
        A throughput the user measured: adds ``hours`` (all cells, one device, unpacked).
    bench : bool
        Measure that throughput here: the K=1 rate of the grid's first cell's arch.
    rates : Path, optional
        A rates file: adds ``projection`` from it.
    measure : bool
        Without ``rates``: probe the rates here (:func:`rvhpc.training.probe.probe`) within
        ``budget_s`` seconds, each measurement logged as it is made.
    budget_s : float, optional
        Seconds the probe spends (default ESTIMATE_SECONDS).

    Returns
    -------
    dict
        :func:`estimate`'s keys, ``hours`` and ``samples_per_second`` when a throughput was
        given or benched, ``projection`` (:func:`project`) and ``rates`` when projected.

    Raises
    ------
    ConfigError
        A bad rates file, rates of another shape, a cell of unknown size, or a probe that does
        not fit into memory.
    """
    work = estimate(grid)
    shape = _shape(grid)
    for option, value in (
        ("--samples-per-second", samples_per_second),
        ("--estimate-seconds", budget_s),
    ):
        if value is not None and not 0 < value < float("inf"):
            raise ConfigError(f"{option} {value}: give a number above 0")
    if bench and samples_per_second is None:
        samples_per_second = _bench(grid, shape)
    if samples_per_second is not None:
        work["samples_per_second"] = samples_per_second
        total = work["sample_epochs"]
        work["hours"] = total / samples_per_second / 3600 if total else None
    if rates is not None or measure:
        if rates is not None:
            found = read_rates(rates)
            check_shape(found, shape, f"--rates {rates}")
        else:
            from rvhpc.training.probe import probe

            device = grid.cells[0].config.get("device", "auto")
            budget = ESTIMATE_SECONDS if budget_s is None else budget_s
            measured = probe(probe_jobs(grid), device=device, budget_s=budget, **shape)
            found = [Rate.model_validate(r) for r in measured]
            work["rates"] = measured
        work["projection"] = project(grid, found)
    return work


def _bench(grid: Grid, shape: dict[str, int]) -> float:
    """Samples/s of the grid's first cell's arch (K=1) measured here, a few steps."""
    from rvhpc.training.bench import measure

    first = grid.cells[0]
    width = _width(grid, first, cell_work(grid)[0][0])
    result = measure(arch=first.arch, n_static=width, steps=5, warmup=1, **shape)
    return result["samples_per_s"]
