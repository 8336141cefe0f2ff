"""The search space of an experiment's ``search:`` (an Optuna study), checked before anything is
submitted: every problem of every parameter gets its own line.

.. code-block:: yaml

    search:
      method: optuna
      trials: 64
      sampler: tpe            # or random
      seed: 0
      params:
        hidden: {int: [32, 512], log: true}
        dropout: {float: [0.0, 0.5]}
        lr: {float: [1.0e-4, 1.0e-2], log: true}
        seq_length: {choice: [90, 180, 270]}

A parameter is exactly one of ``int: [low, high]``, ``float: [low, high]`` (both inclusive) or
``choice: [values]``; ``log: true`` samples on a log scale (low > 0), ``step`` on a grid. The
bounds and every choice must be valid values of the training setting (checked with the
experiment's own config), so no trial can fail on a value the space allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rvhpc.errors import ConfigError
from rvhpc.grid.spec import SearchSpec
from rvhpc.grid.sweep import Point, key_problem, tunable_keys
from rvhpc.runfiles import STUDY_JOURNAL

_PARAM_KEYS = {"int", "float", "choice", "log", "step"}


@dataclass(frozen=True)
class Param:
    """One searched setting."""

    name: str
    kind: str  # int | float | choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution of this parameter."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "int":
            step = int(self.step) if self.step else 1
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
        if self.kind == "float":
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        return CategoricalDistribution(list(self.choices))


def space_json(params: list[Param]) -> list[dict[str, Any]]:
    """The space as JSON values (the manifest and the study record it)."""
    return [{**asdict(p), "choices": list(p.choices)} for p in params]


def space_from_json(data: list[dict[str, Any]]) -> list[Param]:
    return [Param(**{**p, "choices": tuple(p["choices"])}) for p in data]


def space_digest(params: list[Param]) -> str:
    """A short hash of the space: part of a trial cell's id, so another space is another cell."""
    text = json.dumps(space_json(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _field_kind(name: str) -> str:
    from rvhpc.training.config import TrainConfig

    kind = TrainConfig.model_fields[name].annotation
    return {int: "int", float: "float"}.get(kind, "other")


def _bounds(name: str, kind: str, spec: dict[str, Any], problems: list[str]) -> Param | None:
    bounds = spec[kind]
    ok_type = (int,) if kind == "int" else (int, float)
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or any(isinstance(b, bool) or not isinstance(b, ok_type) for b in bounds)
    ):
        problems.append(f"params.{name}: {kind} needs [low, high], two {kind} numbers")
        return None
    low, high = bounds
    log, step = bool(spec.get("log", False)), spec.get("step")
    if low >= high:
        problems.append(f"params.{name}: {kind} [{low}, {high}]: low must be below high")
    if log and low <= 0:
        problems.append(f"params.{name}: log needs low > 0 (got {low})")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, ok_type) or step <= 0:
            problems.append(f"params.{name}: step must be a positive {kind} number")
        elif log:
            problems.append(f"params.{name}: give log or step, not both")
    return Param(name, kind, low, high, log, step)


def _param(name: str, spec: Any, known: list[str], problems: list[str]) -> Param | None:
    problem = key_problem(name, known)
    if problem:
        problems.append(f"params.{name}: {problem.replace('not swept', 'not searched')}")
        return None
    if not isinstance(spec, dict):
        problems.append(
            f"params.{name}: give {{int: [low, high]}}, {{float: ...}} or {{choice: ...}}"
        )
        return None
    unknown = sorted(set(spec) - _PARAM_KEYS)
    if unknown:
        problems.append(
            f"params.{name}: unknown key {unknown[0]!r} (use int, float, choice, log, step)"
        )
    kinds = [k for k in ("int", "float", "choice") if k in spec]
    if len(kinds) != 1:
        problems.append(f"params.{name}: give exactly one of int, float, choice")
        return None
    kind = kinds[0]
    field = _field_kind(name)
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            problems.append(f"params.{name}: choice needs a list of at least one value")
            return None
        if any(not isinstance(c, (int, float, str)) for c in choices):
            problems.append(f"params.{name}: choices must be numbers, text or true/false")
            return None
        if len({json.dumps(c) for c in choices}) != len(choices):
            problems.append(f"params.{name}: a choice is listed twice; list each once")
        if "log" in spec or "step" in spec:
            problems.append(f"params.{name}: log and step apply to int and float only")
        return Param(name, "choice", choices=tuple(choices))
    if kind == "float" and field == "int":
        problems.append(f"params.{name}: {name} takes whole numbers: use int: [low, high]")
        return None
    if field == "other":
        problems.append(f"params.{name}: {name} is not a number: use choice: [...]")
        return None
    return _bounds(name, kind, spec, problems)


def _values(param: Param) -> list[Any]:
    """The values that must be valid settings: the bounds, or every choice."""
    if param.kind == "choice":
        return list(param.choices)
    cast = int if param.kind == "int" else float
    return [cast(param.low), cast(param.high)]


def check_space(search: SearchSpec, base: dict[str, Any], where: str) -> list[Param]:
    """The parameters of a search, or ConfigError with one line per problem.

    Parameters
    ----------
    search : the experiment's ``search:``
    base : the TrainConfig values of the experiment's first cell (the searched values replace
        them; a bound the config refuses, ``dropout: 1.0`` say, is a problem of the space)
    where : ``grid NAME: experiments[i] (...)``, the start of every line

    Raises
    ------
    ConfigError
        One line per problem, each starting with ``where``.
    """
    from rvhpc.training.config import TrainConfig

    known = tunable_keys()
    problems: list[str] = []
    params = []
    if not search.params:
        problems.append("params: name at least one training setting to search")
    for name, spec in search.params.items():
        param = _param(name, spec, known, problems)
        if param is None:
            continue
        for value in _values(param):
            try:
                TrainConfig.create(**{**base, name: value})
            except ConfigError as exc:
                problems.append(f"params.{name}: {value!r} is not a valid setting ({exc})")
        params.append(param)
    if problems:
        raise ConfigError("\n".join(f"{where}: search: {p}" for p in problems))
    return params


def check_experiment(spec: Any, exp: Any, dims: list, scheme: str, where: str) -> None:
    """ConfigError when a search experiment cannot be one study per scenario: a sweep beside it,
    no validation period, several dims or fixed draws, k-fold evaluation."""
    problems = []
    if spec.sweep or exp.sweep:
        problems.append("a search and a sweep do not combine: move the swept values into params")
    if spec.data.validation_period is None:
        problems.append("a search chooses on the validation period: set data.validation_period")
    if len(dims) != 1:
        problems.append("a search runs one study: list one dim (one experiment per dim)")
    if not exp.paired and len(exp.attr_seeds) != 1:
        problems.append("a search ensembles seeds: list one attr_seed, or use attr_seeds: paired")
    if scheme != "temporal":
        problems.append("a search needs temporal evaluation (k-fold folds are trained apart)")
    if problems:
        raise ConfigError("\n".join(f"{where}: search: {p}" for p in problems))


def trial_points(search: SearchSpec) -> list[Point]:
    """One point per trial: ``trial=0`` .. ``trial=<trials - 1>`` (a trial is one array task
    that asks the study for its settings when it starts)."""
    return [Point(name=f"trial={k}", trial=k) for k in range(search.trials)]


def trial_record(
    search: SearchSpec, params: list[Param], run_dir: Path, point: Point
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a trial's cell carries in the manifest (``Cell.search``: the study beside the
    experiment's folders, ``<...>/optuna.journal``, the trial, the space, the sampler), and what
    its id adds to the config's identity (the space and the trial number)."""
    record = {
        "study": str(run_dir.parent.parent / STUDY_JOURNAL),
        "trial": point.trial,
        "trials": search.trials,
        "sampler": search.sampler,
        "seed": search.seed,
        "space": space_json(params),
    }
    return record, {"search_space": space_digest(params), "search_trial": point.trial}
