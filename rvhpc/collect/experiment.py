"""What collect groups cells into: an experiment (architecture, static vector, scenario, sweep
point), read from a run's config.json, with its name (``EP/hidden=64@half/last3y``) and its place
in the tables.

Experiments of different scenarios or points never share a name, so no ensemble or comparison
crosses them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rvhpc.collect.report import ARCH_TITLES
from rvhpc.experiments import KINDS_WITH_DIM, STATIC_KINDS, experiment_name


@dataclass(frozen=True)
class Experiment:
    """One architecture with one static vector; its seeds are ensembled.

    ``paired``: the runs of a dimension whose draws follow their init seeds (grid ``attr_seeds:
    paired``, the paper's design); they form one experiment across their (seed, attr_seed) pairs,
    as the original's ensemble script averaged every run under ``<arch>/num_of_sf/<d>/``.
    """

    arch: str
    static: str
    dim: int | None
    attr_seed: int | None  # None for paired draws and for kinds without random columns
    paired: bool = False
    # scenario (rvhpc/scenarios.py): empty for a plain grid's cells
    basin_list: str = ""
    train_period: str = ""
    evaluation: str = "temporal"  # or kfoldK-sS, or regions
    fold: int | None = (
        None  # k-fold/regions: folds are grouped (and ensembled) apart, merged by name
    )
    folds: int | None = None  # how many folds the scheme has
    train_basins: int | None = None
    train_years: float | None = None
    #: a sweep point or search trial (``hidden=64,dropout=0.4``, ``trial=3``); "" for none, and
    #: its settings as (key, value) pairs (a trial's first pair is ("trial", k))
    point: str = ""
    point_values: tuple = ()

    @property
    def family(self) -> Experiment:
        """The experiment without its point: the points of one family are chosen among."""
        return replace(self, point="", point_values=())

    label: str = ""  # the grid's ``name:`` of the experiment (config.json ``name``); "" if none

    @property
    def paper_name(self) -> str:
        """The experiment's name, else the paper's (``EG-64``); a fixed non-zero attr_seed is
        appended (``EG-64/a1``)."""
        base = self.label or experiment_name(self.arch, self.static, self.dim)
        return f"{base}/a{self.attr_seed}" if self.attr_seed else base

    @property
    def scenario(self) -> str:
        """``<list>[/<period>][/kfoldK-sS]``, or "" for a plain cell."""
        parts = [self.basin_list, self.train_period]
        parts.append("" if self.evaluation == "temporal" else self.evaluation)
        return "/".join(p for p in parts if p)

    @property
    def name(self) -> str:
        """The paper's name, with the point (``EP/hidden=64``) and the scenario appended
        (``EP@half/last3y``) when there are any: experiments of different scenarios are never
        mixed."""
        base = f"{self.paper_name}/{self.point}" if self.point else self.paper_name
        return f"{base}@{self.scenario}" if self.scenario else base


def table_order(exp: Experiment) -> tuple:
    """The sort key of an experiment in collect's tables: scenario (basin list, training years and
    period, temporal before k-fold / regions), then architecture in the paper's order, static kind,
    dim, draw, fold and the point's settings.

    Parameters
    ----------
    exp : Experiment

    Returns
    -------
    tuple
    """
    order = list(ARCH_TITLES)
    return (
        exp.basin_list,
        exp.train_years or 0.0,
        exp.train_period,
        exp.evaluation != "temporal",
        exp.evaluation,
        order.index(exp.arch) if exp.arch in order else 99,
        STATIC_KINDS.index(exp.static) if exp.static in STATIC_KINDS else 99,
        exp.dim or 0,
        exp.attr_seed or 0,
        -1 if exp.fold is None else exp.fold,
        tuple((k, _sortable(v)) for k, v in exp.point_values),
    )


def _sortable(value) -> tuple:
    """Numbers before text, each in its own order (a sweep's points in value order)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def experiment_of(config: dict, paired: bool | None = None) -> tuple[Experiment, int]:
    """(experiment, seed) of a run's config.json; dim/attr_seed kept only for random static kinds,
    the name from its ``name`` (a grid's ``name:``).

    Parameters
    ----------
    config : dict
    paired : bool, optional
        Overrides the run's own ``paired_draw`` record (a grid source knows its cells).

    Returns
    -------
    (Experiment, int)

    Raises
    ------
    KeyError, ValueError, TypeError
        A config without arch, static or seed, or with values of the wrong type.
    """
    static = str(config["static"])
    random_kind = static in KINDS_WITH_DIM
    dim = int(config["dim"]) if random_kind and config.get("dim") is not None else None
    attr_seed = int(config.get("attr_seed") or 0) if random_kind else None
    if paired is None:
        paired = bool(config.get("paired_draw"))
    paired = random_kind and paired
    scen = config.get("scenario") or {}
    scheme = scen.get("evaluation")
    kfold, regions = scheme == "kfold", scheme == "regions"
    evaluation = f"kfold{scen.get('folds')}-s{scen.get('fold_seed')}" if kfold else "temporal"
    point = config.get("point") or {}
    exp = Experiment(
        str(config["arch"]),
        static,
        dim,
        None if paired else attr_seed,
        paired,
        basin_list=str(scen.get("basin_list") or ""),
        train_period=str(scen.get("train_period") or ""),
        evaluation="regions" if regions else evaluation,
        fold=int(scen["fold"]) if kfold or regions else None,
        folds=int(scen["folds"]) if kfold or regions else None,
        train_basins=scen.get("train_basins"),
        train_years=scen.get("train_years"),
        point=str(point.get("name") or ""),
        point_values=_point_values(point),
        label=str(config.get("name") or ""),
    )
    return exp, int(config["seed"])


def _point_values(point: dict) -> tuple:
    """A point's settings as (key, value) pairs, a trial's first pair ("trial", k)."""
    settings = point.get("values", {})
    # the point's name keeps the grid's axis order (config.json sorts its keys)
    named = [p.partition("=")[0] for p in str(point.get("name") or "").split(",")]
    keys = [k for k in named if k in settings] + [k for k in settings if k not in named]
    values = tuple((k, settings[k]) for k in keys)
    if point.get("trial") is not None:
        values = (("trial", int(point["trial"])), *values)
    return values
