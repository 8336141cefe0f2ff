"""Sweeps: ``sweep: {hidden: [64, 128], dropout: [0.0, 0.4]}`` at the grid level, an experiment's
level or both, expanded to the Cartesian product. Each point is an experiment of its own, with a
stable and readable name and run folder that carry the swept values (``EP/hidden=64,dropout=0.4``,
``.../ea/physics/hidden=64,dropout=0.4/seed0``).

Axis order: the grid's axes first, then the experiment's, each in the order the file lists them;
an experiment's axis of a key the grid sweeps too replaces the grid's values in place. The last
axis varies fastest. The same file gives the same points, names and folders on every load.

A swept value must be a number, a string or true/false that can name a folder (letters, digits,
``_ . + -``); floats are written as Python's shortest round-trip text (``0.4``, ``1e-05``).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from rvhpc.errors import ConfigError
from rvhpc.grid.spec import CELL_KEYS, ExperimentSpec, GridSpec, check_cell_count

_FOLDER_TEXT = re.compile(r"^[A-Za-z0-9_.+-]+$")
#: TrainConfig fields that change how a run executes, not what it computes: never swept
_RUNTIME = ("device", "log_every", "threads")


@dataclass(frozen=True)
class Point:
    """One sweep point: its values in axis order and its name (``""`` for an unswept
    experiment)."""

    values: tuple[tuple[str, Any], ...] = ()
    name: str = ""
    trial: int | None = None  # a search trial (its settings come from the study when it runs)

    @property
    def settings(self) -> dict[str, Any]:
        """The training settings of this point."""
        return dict(self.values)

    def label(self) -> dict[str, Any] | None:
        """The TrainConfig ``point`` label of this point (None for the unswept experiment)."""
        if not self.name:
            return None
        trial = {} if self.trial is None else {"trial": self.trial}
        return {"name": self.name, "values": self.settings, **trial}


def tunable_keys() -> list[str]:
    """TrainConfig fields a sweep or search may set: all but a cell's own and runtime fields."""
    from rvhpc.training.config import TrainConfig

    return [k for k in TrainConfig.model_fields if k not in CELL_KEYS and k not in _RUNTIME]


def key_problem(key: str, known: list[str]) -> str | None:
    """Why ``key`` cannot be swept or searched, or None."""
    if key in CELL_KEYS:
        return f"{key} is set per experiment or by data, not swept"
    if key in _RUNTIME:
        return f"{key} changes how a run executes, not what it computes: set it in train"
    if key not in known:
        return f"{key} is not a training setting (known: {', '.join(known)})"
    return None


def format_value(value: Any) -> str:
    """The text of a value in names and folders: ``64``, ``0.4``, ``1e-05``, ``true``, ``tf32``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _axis(key: str, values: Any, where: str, known: list[str]) -> list[Any]:
    problem = key_problem(key, known)
    if problem:
        raise ConfigError(f"{where}: sweep: {problem}")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: sweep.{key}: give a list of at least one value")
    texts = []
    for value in values:
        if not isinstance(value, (int, float, str)) or value is None:
            raise ConfigError(
                f"{where}: sweep.{key}: {value!r} is not a number, text or true/false"
            )
        text = format_value(value)
        if not _FOLDER_TEXT.match(text):
            raise ConfigError(
                f"{where}: sweep.{key}: {value!r} cannot name a folder "
                "(use letters, digits, _ . + -)"
            )
        texts.append(text)
    if len(set(texts)) != len(texts):
        raise ConfigError(f"{where}: sweep.{key}: a value is listed twice; list each once")
    return list(values)


def axes(spec: GridSpec, exp: ExperimentSpec, where: str) -> list[tuple[str, list[Any]]]:
    """(key, values) of every axis of one experiment, in order (see the module docstring)."""
    known = tunable_keys()
    merged: dict[str, Any] = dict(spec.sweep or {})
    for key, values in (exp.sweep or {}).items():
        merged[key] = values
    return [(key, _axis(key, values, where, known)) for key, values in merged.items()]


def points(spec: GridSpec, exp: ExperimentSpec, where: str) -> list[Point]:
    """The experiment's points, the Cartesian product of its axes ([Point()] when unswept)."""
    found = axes(spec, exp, where)
    if not found:
        return [Point()]
    keys = [k for k, _ in found]
    check_cell_count(math.prod(len(v) for _, v in found), where)
    out = []
    for combo in itertools.product(*(values for _, values in found)):
        name = ",".join(f"{k}={format_value(v)}" for k, v in zip(keys, combo, strict=True))
        out.append(Point(tuple(zip(keys, combo, strict=True)), name))
    return out
