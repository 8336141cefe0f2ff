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
from rvhpc.grid.basinlists import ListReader, union_ids
from rvhpc.grid.cells import Cell, Grid

MANIFEST_FORMAT = 1


def check_writable(
    folder: Path,
    what: str = "runs directory",
    fix: str = "set runs_dir in the grid file to a writable folder",
) -> None:
    """One clear line when an output folder cannot be created or written.

    Parameters
    ----------
    folder : Path
        Created when missing.
    what, fix : str
        How the error names the folder, and what it tells the user to do.

    Raises
    ------
    RunDirError
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{what} {folder} cannot be created ({exc.strerror}); {fix}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunDirError(f"{what} {folder} is not writable; {fix}")


def write_manifest(grid: Grid) -> Path:
    """The cells in array order with their full configs; an existing identical manifest is kept.

    Its name follows the cells' ids, folders and configs, runtime settings left out: a grid whose
    runtime settings changed (``train: {numerics: fast}``, device, threads) keeps the name, and the
    file is replaced (atomically) so that its cells run with the settings the grid says now.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    Path
        ``runs_dir/.rvhpc/manifests/<grid>-<digest>.json``.

    Raises
    ------
    RunDirError
        The runs directory cannot be written.
    """
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
    """The manifest's record (with its data plan) and its cells.

    Parameters
    ----------
    path : Path

    Returns
    -------
    (dict, list[Cell])

    Raises
    ------
    ConfigError
        Missing, unreadable or of another format (resubmit).
    """
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
    """What :func:`rvhpc.data.ensure.ensure_data` needs, as JSON (stored in the manifest so array
    tasks can prepare); the plan itself is made in rvhpc.data.ensure."""
    from rvhpc.data.ensure import make_plan

    d = grid.spec.data
    lists = isinstance(d.basins, dict)
    return make_plan(
        grid.name,
        grid.store,
        d.dataset,
        d.roots,
        None if lists else d.basins,
        root_key=d.root_key,
        synthetic=None if d.synthetic is None else d.synthetic.model_dump(),
        union=union_ids(grid.spec, ListReader(grid.spec)) if lists else None,
        train_period=d.train_period,
        eval_period=d.eval_period,
        forcing=d.forcing,
        format=d.format,
        inputs=d.inputs,
        descriptors=d.descriptors,
        runs_dir=str(grid.runs_dir),
    )
