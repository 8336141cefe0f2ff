"""Scenarios of a grid: basin lists, training periods, and evaluation over held-out basins: k-fold
(PUB) and leave-one-region-out.

A scenario is one (basin list, training period, evaluation fold) an experiment runs under; the
grid expands every experiment over its scenarios like over any other axis. A plain grid (one basin
list file, no training periods, temporal evaluation) has the single plain scenario, and its cells
and run directories are what they always were.

Run directories follow the original layout ``runs/<list>/...``; a training period adds a segment
(``last3y`` or ``19991001-20080930``) and a fold two (``kfold3-s0/fold1``) before the arch folder.

K-fold: the list's basins are shuffled with ``numpy.random.default_rng(seed)`` and cut into K
folds of near-equal size (``numpy.array_split``); fold k trains on the other folds' basins and
predicts its own, so every basin is predicted once, by the one model that never saw it.

Regions ("ungauged continents"): a region is a sub-dataset, the gauge-id prefix of a Caravan id in
lower case (``camels_01022500`` -> ``camels``, ``GRDC_1159100`` -> ``grdc``); there is one fold
per region, in name order, which trains on every other region and predicts its own basins
(run-dir segments ``regions/<region>``). Every basin is predicted once, by the fold that held its
region out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.errors import ConfigError, RvhpcError, excerpt
from rvhpc.grid.basinlists import ListReader
from rvhpc.grid.dataspec import EvaluationSpec, LastYears, basin_list_name
from rvhpc.grid.spec import ExperimentSpec, GridSpec, check_cell_count

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Scenario:
    """One basin list x training period x evaluation fold of an experiment."""

    basin_list: str
    basins: tuple[str, ...] | None  # the list's ids; None: the whole store (plain single list)
    period: tuple[str, str] | None = None
    period_label: str | None = None
    folds: int | None = None
    fold_seed: int | None = None
    fold: int | None = None
    heldout: tuple[str, ...] | None = None
    plain: bool = False  # the plain scenario of a plain grid: no extra config fields at all
    region: str | None = None  # the held-out region of a regions fold

    @property
    def scheme(self) -> str:
        if self.region is not None:
            return "regions"
        return "temporal" if self.folds is None else "kfold"

    def train_basins(self) -> list[str] | None:
        if self.basins is None:
            return None
        held = set(self.heldout or ())
        return [b for b in self.basins if b not in held]

    def prefix(self) -> str:
        """Run-dir segments before the arch folder: ``<list>[/<period>][/kfoldK-sS/foldF]``."""
        parts = [self.basin_list]
        if self.period_label:
            parts.append(self.period_label)
        if self.region is not None:
            parts += ["regions", self.region]
        elif self.folds is not None:
            parts += [f"kfold{self.folds}-s{self.fold_seed}", f"fold{self.fold}"]
        return "/".join(parts)

    def train_values(self) -> dict[str, Any]:
        """TrainConfig fields of this scenario (none for the plain scenario)."""
        if self.plain:
            return {}
        train = self.train_basins()
        years = None
        if self.period is not None:
            start, end = (pd.Timestamp(d) for d in self.period)
            years = round(((end - start).days + 1) / 365.25, 2)
        labels = {
            "basin_list": self.basin_list,
            "train_period": self.period_label,
            "period": list(self.period) if self.period else None,
            "train_years": years,
            "evaluation": self.scheme,
            "folds": self.folds,
            "fold_seed": self.fold_seed,
            "fold": self.fold,
            "train_basins": None if train is None else len(train),
        }
        if self.region is not None:
            labels["region"] = self.region
        return {
            "basins": train,
            "eval_basins": list(self.heldout) if self.heldout is not None else None,
            "train_period": self.period,
            "scenario": labels,
        }


def base_period(spec: GridSpec) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The grid's training period: data.train_period, else the existing store's.

    Returns
    -------
    tuple[Timestamp, Timestamp] or None
        None when neither is known (a store not prepared yet).
    """
    if spec.data.train_period is not None:
        return tuple(pd.Timestamp(d) for d in spec.data.train_period)
    store = spec.data.store
    if store is not None and store.is_file():
        import h5py

        with h5py.File(store, "r") as f:
            return tuple(pd.Timestamp(d) for d in f.attrs["train_period"])
    return None


def resolve_period(spec: GridSpec, entry: Any, where: str) -> tuple[tuple[str, str], str]:
    """One training-period entry (``{last_years: N}`` or ``[start, end]``) of a grid, resolved.

    Returns
    -------
    tuple
        ((start, end) ISO dates, run-dir label ``lastNy`` or ``YYYYMMDD-YYYYMMDD``).

    Raises
    ------
    ConfigError
        Not two dates, reversed, longer than or outside the grid's training period.
    """
    base = base_period(spec)
    if isinstance(entry, LastYears):
        if base is None:
            raise ConfigError(
                f"{where}: last_years needs data.train_period (or an existing data.store)"
            )
        span = base[1].year - base[0].year + 1  # calendar years the period touches
        if entry.last_years > span:
            raise ConfigError(
                f"{where}: last_years {entry.last_years} is longer than data.train_period "
                f"{base[0].date()}..{base[1].date()}; use at most {span}"
            )
        end = base[1]
        start = end - pd.DateOffset(years=entry.last_years) + pd.Timedelta(days=1)
        label = f"last{entry.last_years}y"
    else:
        try:
            start, end = (pd.Timestamp(d) for d in entry)
        except ValueError:
            raise ConfigError(
                f"{where}: train period {excerpt(list(entry))} is not two dates"
            ) from None
        label = f"{start:%Y%m%d}-{end:%Y%m%d}"
    if start > end:
        raise ConfigError(f"{where}: train period {label} starts after it ends")
    if base is not None and (start < base[0] or end > base[1]):
        raise ConfigError(
            f"{where}: train period {start.date()}..{end.date()} ({label}) is not inside "
            f"data.train_period {base[0].date()}..{base[1].date()}; shorten it"
        )
    return (str(start.date()), str(end.date())), label


def folds_of(ids: tuple[str, ...], folds: int, seed: int) -> list[tuple[str, ...]]:
    """The held-out basins of each fold, each in list order."""
    perm = np.random.default_rng(seed).permutation(len(ids))
    return [tuple(ids[i] for i in sorted(part)) for part in np.array_split(perm, folds)]


def regions_of(spec: GridSpec, ids: tuple[str, ...], label: str, where: str):
    """(region, its basins in list order) of every region of a list, regions in name order."""
    from rvhpc.data.datasets import dataset_class

    dataset = dataset_class(spec.data.dataset)
    out: dict[str, list[str]] = {}
    try:
        for b in ids:
            out.setdefault(dataset.region(b), []).append(b)
    except RvhpcError as exc:
        raise ConfigError(f"{where}: scheme regions: {exc}") from None
    if len(out) < 2:
        raise ConfigError(
            f"{where}: scheme regions needs basins of at least 2 regions (gauge-id prefixes); "
            f"basin list {label!r} holds only {', '.join(out) or 'none'}"
        )
    return [(r, tuple(out[r])) for r in sorted(out)]


def _list_names(spec: GridSpec, exp: ExperimentSpec, reader: ListReader, where: str) -> list:
    lists = reader.lists()
    if lists is None:
        if exp.basin_lists:
            raise ConfigError(
                f"{where}: basin_lists needs named lists in data.basins ({{name: file}})"
            )
        return [None]
    for name in lists:
        if not _NAME.match(name):
            raise ConfigError(
                f"grid {spec.name}: data.basins: list name {name!r} must be a plain folder name "
                "(letters, digits, _ . -)"
            )
    names = exp.basin_lists or list(lists)
    unknown = [n for n in names if n not in lists]
    if unknown:
        raise ConfigError(
            f"{where}: basin list {unknown[0]!r} is not in data.basins (known: {', '.join(lists)})"
        )
    return names


def expand_scenarios(spec: GridSpec, exp: ExperimentSpec, reader: ListReader, where: str) -> list:
    """The scenarios one experiment runs under, in (list, period, fold) order."""
    evaluation = exp.evaluation or spec.evaluation or EvaluationSpec()
    periods = exp.train_periods or spec.data.train_periods
    names = _list_names(spec, exp, reader, where)
    plain = names == [None] and not periods and evaluation.scheme == "temporal"
    if plain:
        return [Scenario(basin_list_name(spec.data), None, plain=True)]
    check_cell_count(
        len(names) * len(periods or [None]) * (evaluation.folds or 1), f"{where}: scenarios"
    )
    resolved = [resolve_period(spec, p, where) for p in periods] if periods else [(None, None)]
    out = []
    for name in names:
        label = name or basin_list_name(spec.data)
        try:
            held_out = evaluation.scheme != "temporal"
            ids = reader.ids(name) if name is not None or held_out else None
        except RvhpcError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        held: list = [None]
        regions: list = [None]
        if evaluation.scheme == "regions":
            assert ids is not None
            regions, held = zip(*regions_of(spec, ids, label, where), strict=True)
        elif evaluation.scheme == "kfold":
            assert ids is not None and evaluation.folds is not None
            if len(ids) < 2:
                raise ConfigError(
                    f"{where}: k-fold needs at least 2 basins; basin list {label!r} holds "
                    f"{len(ids)}"
                )
            if evaluation.folds > len(ids):
                raise ConfigError(
                    f"{where}: folds {evaluation.folds} > {len(ids)} basins of list {label!r}; "
                    f"use at most {len(ids)} folds"
                )
            held = folds_of(ids, evaluation.folds, evaluation.seed)
            regions = [None] * len(held)
        for period, plabel in resolved:
            for k, (heldout, region) in enumerate(zip(held, regions, strict=True)):
                out.append(
                    Scenario(
                        basin_list=label,
                        basins=ids,
                        period=period,
                        period_label=plabel,
                        folds=len(held) if heldout is not None else None,
                        fold_seed=evaluation.seed if heldout is not None and not region else None,
                        fold=k if heldout is not None else None,
                        heldout=heldout,
                        region=region,
                    )
                )
    return out
