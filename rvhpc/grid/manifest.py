"""The manifest: a grid's cells with their full configs and data plan, as array tasks read them.

Its file name carries the digest of the cells, so a pending task never reads another grid's list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rvhpc.atomic import write_json
from rvhpc.errors import ConfigError, RunDirError
from rvhpc.grid.cells import Cell, Grid
from rvhpc.grid.scenarios import ListReader, union_ids

MANIFEST_FORMAT = 1


def check_writable(
    folder: Path,
    what: str = "runs directory",
    fix: str = "set runs_dir in the grid file to a writable folder",
) -> None:
    """One clear line when an output folder cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{what} {folder} cannot be created ({exc.strerror}); {fix}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunDirError(f"{what} {folder} is not writable; {fix}")


def write_manifest(grid: Grid) -> Path:
    """The cells in array order with their full configs; an existing identical manifest is kept.

    Its name follows the cells' ids and folders; a grid whose runtime settings changed
    (``train: {numerics: fast}``, device, threads) keeps the name, and the file is replaced
    (atomically) so that its cells run with the settings the grid says now."""
    check_writable(grid.runs_dir)
    path = grid.manifest_path()
    data = {
        "format": MANIFEST_FORMAT,
        "grid": grid.name,
        "grid_file": str(grid.path),
        "digest": grid.digest(),
        "data": data_plan(grid),
        "cells": [c.to_json() for c in grid.cells],
    }
    if not path.exists() or _read_json(path) != json.loads(json.dumps(data, default=str)):
        write_json(path, data, indent=1)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_manifest(path: Path) -> tuple[dict[str, Any], list[Cell]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: manifest not found (rvhpc submit or rvhpc run writes it)"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise ConfigError(f"{path}: not a readable manifest ({exc})") from None
    version = data.get("format") if isinstance(data, dict) else None
    if version != MANIFEST_FORMAT:
        raise ConfigError(f"{path}: manifest format {version!r} is not {MANIFEST_FORMAT}; resubmit")
    try:
        return data, [Cell.from_json(c) for c in data["cells"]]
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a readable manifest (bad cells: {exc!r}); resubmit"
        ) from None


# ---------------------------------------------------------------- data


def data_plan(grid: Grid) -> dict[str, Any]:
    """What :func:`ensure_data` needs, as JSON (stored in the manifest so array tasks can
    prepare)."""
    d = grid.spec.data
    plan: dict[str, Any] = {
        "grid": grid.name,
        "store": str(grid.store),
        "forcing": d.forcing,
        "train_period": d.train_period,
        "eval_period": d.eval_period,
    }
    if d.synthetic is not None:
        plan["synthetic"] = d.synthetic.model_dump()
        plan["camels_root"] = str(grid.store.parent / f"{grid.store.stem}_camels")
        plan["basins"] = str(Path(plan["camels_root"]) / "basin_list.txt")
    elif d.camels_root is not None:
        plan["camels_root"], plan["basins"] = str(d.camels_root), str(d.basins)
    if isinstance(d.basins, dict) and "camels_root" in plan:
        # one store serves every list: it is prepared from their union
        plan["basins"] = str(grid.store.parent / f"{grid.store.stem}_union.txt")
        plan["union"] = union_ids(grid.spec, ListReader(grid.spec))
    return plan
