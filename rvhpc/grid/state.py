"""What a cell's run directory holds, compared with what the grid asks for now.

A grid file can be edited after its cells ran: a train key (``hidden: 4`` -> ``8``), a basin list,
a training period. Editing ``hidden`` keeps the run folder (the layout names arch, static kind,
dim, seeds and the scenario, not the train keys) but changes the cell id; shrinking a list keeps
the folder of every cell of that list. So "DONE is there" is not "this cell is done": the folder
must hold *this* cell's run. The comparison is :meth:`TrainConfig.differences`, the one that makes
``rvhpc train`` refuse a folder "holding a different run", plus the store's fingerprint.

States, in the order they are decided:

- ``stale``: config.json records another config, or a store built from other inputs; ``detail``
  names what differs (``hidden 4 -> 8``). Never counted done, never collected as current; rerun
  only with ``--rerun-stale`` (which replaces the folder's results).
- ``diverged``: the run's loss or predictions became non-finite (``DIVERGED``); not rerun by
  default, since the same settings diverge again.
- ``done``: DONE vouches for the predictions (:func:`rvhpc.runrecords.run_is_done`).
- ``started``: this cell's config.json, not finished (checkpoints, a crash, a running job).
- ``missing``: nothing of a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rvhpc.runfiles import CONFIG_JSON
from rvhpc.runrecords import diverged_record, diverged_text, run_is_done

# cells.py imports this module (Cell.state): cells and grids are taken by their attributes here
Cell = Grid = Any

RUN_STATES = ("done", "stale", "diverged", "started", "missing")


@dataclass(frozen=True)
class RunState:
    """The state of one cell's run directory (one of RUN_STATES) and what makes it so."""

    state: str
    detail: str = ""

    def __str__(self) -> str:
        """``stale: hidden 4 -> 8``, ``diverged at epoch 3 (training loss nan)``, ``done``."""
        if not self.detail or self.detail.startswith(self.state):
            return self.detail or self.state
        return f"{self.state}: {self.detail}"


def recorded_config(run_dir: Path) -> dict[str, Any] | None:
    """A run directory's config.json (a dict); None when there is none.

    Raises
    ------
    ValueError
        config.json exists but is not a readable JSON object.
    """
    path = Path(run_dir) / CONFIG_JSON
    if not path.is_file():  # also when a file stands where a folder of the path should be
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{CONFIG_JSON} unreadable ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{CONFIG_JSON} is not a JSON object")
    return data


def staleness(config: dict[str, Any], recorded: dict[str, Any], fingerprint: str | None) -> str:
    """What makes a recorded run another than ``config`` asks for ("" when it is this one).

    Parameters
    ----------
    config : dict
        The cell's full TrainConfig (JSON values, as the manifest holds it).
    recorded : dict
        The run directory's config.json.
    fingerprint : str, optional
        The store's fingerprint now; None when the store does not exist (yet).

    Returns
    -------
    str
        ``hidden 4 -> 8`` or ``store rebuilt from other inputs since``; "" when not stale.
    """
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.identity import describe_differences

    diffs = TrainConfig.create(**config).differences(recorded)
    if diffs:
        return describe_differences(diffs)
    old = recorded.get("store_fingerprint")
    if fingerprint is not None and old is not None and old != fingerprint:
        return "store rebuilt from other inputs since (its fingerprint changed)"
    return ""


def cell_state(cell: Cell, fingerprint: str | None = None) -> RunState:
    """The state of one cell's run directory (see the module docstring).

    Parameters
    ----------
    cell : Cell
    fingerprint : str, optional
        The grid store's fingerprint (:func:`store_fingerprint_at`); None skips that comparison.

    Returns
    -------
    RunState
    """
    try:
        recorded = recorded_config(cell.run_dir)
    except ValueError as exc:
        return RunState("stale", str(exc))
    if recorded is not None:
        why = staleness(_asked(cell, recorded), recorded, fingerprint)
        if why:
            return RunState("stale", why)
        record = diverged_record(cell.run_dir)
        if record is not None:
            return RunState("diverged", diverged_text(record))
    if run_is_done(cell.run_dir):
        return RunState("done")
    return RunState("missing" if recorded is None else "started")


def _asked(cell: Cell, recorded: dict[str, Any]) -> dict[str, Any]:
    """What a cell asks for. A search trial's settings come from its study when it runs, so its
    runs are compared with the grid on everything but the searched parameters."""
    if cell.search is None:
        return cell.config
    searched = {p["name"] for p in cell.search["space"]}
    return {**cell.config, **{k: recorded[k] for k in searched if k in recorded}}


def store_fingerprint_at(store: Path) -> str | None:
    """The fingerprint of a grid's store as it is now, or None when it does not exist (yet).

    Parameters
    ----------
    store : Path

    Returns
    -------
    str or None
    """
    if not Path(store).is_file():
        return None
    from rvhpc.data.store import store_fingerprint

    return store_fingerprint(store)


def grid_states(grid: Grid) -> dict[int, RunState]:
    """Cell index -> state of every cell of a grid (the store's fingerprint read once).

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    dict[int, RunState]
    """
    fingerprint = store_fingerprint_at(grid.store)
    return {c.index: cell_state(c, fingerprint) for c in grid.cells}


def stale_line(grid: Grid, states: dict[int, RunState], flag: str = "--rerun-stale") -> str:
    """One line naming the stale cells (the first three with what differs) and what to do.

    Parameters
    ----------
    grid : Grid
    states : dict[int, RunState]
        :func:`grid_states`.
    flag : str
        The option that reruns them.

    Returns
    -------
    str
        "" when no cell is stale.
    """
    stale = [c for c in grid.cells if states[c.index].state == "stale"]
    if not stale:
        return ""
    shown = "; ".join(
        f"cell {c.index} {c.experiment} seed {c.seed}: {states[c.index].detail}" for c in stale[:3]
    )
    more = f" (+{len(stale) - 3} more: rvhpc status)" if len(stale) > 3 else ""
    return (
        f"grid {grid.name}: {len(stale)} cell(s) stale, their run directories hold another run "
        f"({shown}{more}); not rerun: pass {flag} to replace their results"
    )
