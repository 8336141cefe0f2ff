"""Packing: cells that differ only in seed, trained as one batched model (``--pack seeds``)."""

from __future__ import annotations

import json

from rvhpc.errors import ConfigError
from rvhpc.grid.cells import Cell

#: values of ``--pack`` (and the profile's ``pack``): how cells share one process
PACK_MODES = ("none", "seeds")


def check_pack_mode(mode: str | None) -> str | None:
    """None for no packing, else the mode; ConfigError naming the known values."""
    if mode is None or mode == "none":
        return None
    if mode not in PACK_MODES:
        raise ConfigError(f"unknown pack mode {mode!r}: choose one of {', '.join(PACK_MODES)}")
    return mode


def pack_groups(cells: list[Cell]) -> list[list[Cell]]:
    """Cells that differ only in seed (and an attr_seed paired with it) as groups, each trained as
    one batched model by ``rvhpc cell --pack seeds``; a group is named by its first cell (the
    lead, whose index is the array task's). Where attr_seed is an axis of its own (a seed repeats
    within a group), the group splits by attr_seed. Groups come in lead-index order."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        shared = {k: v for k, v in cell.config.items() if k not in ("seed", "attr_seed")}
        key = json.dumps(shared, sort_keys=True, default=str)
        groups.setdefault(key, []).append(cell)
    out: list[list[Cell]] = []
    for members in groups.values():
        seeds = [c.seed for c in members]
        if len(set(seeds)) == len(seeds):
            out.append(members)
        else:
            by_attr: dict[int, list[Cell]] = {}
            for c in members:
                by_attr.setdefault(c.attr_seed, []).append(c)
            out.extend(by_attr.values())
    return sorted(out, key=lambda g: g[0].index)


def task_groups(cells: list[Cell], mode: str | None) -> list[list[Cell]]:
    """The array tasks of a grid, each a group of cells named by its lead (first) cell: with
    ``mode="seeds"`` the pack groups, else one cell per task, except that the cells of a search
    trial (its seeds) are always one task: the trial asks the study once and trains them all.
    Groups come in lead-index order."""
    if check_pack_mode(mode) is not None:
        return pack_groups(cells)
    trials: dict[tuple[str, int], list[Cell]] = {}
    out: list[list[Cell]] = []
    for cell in cells:
        if cell.search is None:
            out.append([cell])
            continue
        key = (cell.search["study"], cell.search["trial"])
        if key not in trials:
            trials[key] = []
            out.append(trials[key])
        trials[key].append(cell)
    return out


def pack_of(cells: list[Cell], index: int, mode: str | None = "seeds") -> list[Cell]:
    """The task group (:func:`task_groups`) holding cell ``index``."""
    for group in task_groups(cells, mode):
        if any(c.index == index for c in group):
            return group
    raise ConfigError(f"no cell with index {index}")
