"""The synthetic tree a grid generates beside its store (``data.synthetic``): generated once,
whole or not at all, with a record of the spec it was generated from, and refused when the grid's
spec has changed since."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import atomic_dir, write_text
from rvhpc.errors import DataError, naming

#: in a synthetic tree a grid generated: the ``data.synthetic`` it was generated from
SYNTHETIC_SPEC = "rvhpc_synthetic.json"


def generate_tree(dataset: str, root: Path, synthetic: dict[str, Any]) -> None:
    """Generate the synthetic ``dataset`` tree at ``root``, atomically, and record its spec.

    The basin list inside appears only once the whole tree is there, so a tree is either whole or
    absent; the caller holds the tree's lock.

    Parameters
    ----------
    dataset : str
        camels_us or caravan.
    root : Path
        The tree's folder (must not exist yet).
    synthetic : dict
        The grid's ``data.synthetic``: ``basins``, ``start``, ``end``, ``seed``.

    Raises
    ------
    OSError
        A full disk or an unwritable folder, naming ``root`` (the CLI makes it one line).
    """
    from rvhpc.data.synth import synthesize_dataset

    progress.log(f"generating synthetic {dataset} ({synthetic['basins']} basins) in {root}")
    with naming(root), atomic_dir(root) as tmp:
        synthesize_dataset(
            dataset,
            tmp,
            n_basins=synthetic["basins"],
            start=synthetic["start"],
            end=synthetic["end"],
            seed=synthetic["seed"],
        )
        write_text(tmp / SYNTHETIC_SPEC, json.dumps(synthetic, sort_keys=True) + "\n")


def check_spec(grid: str, synthetic: dict[str, Any], root: Path) -> None:
    """Refuse a synthetic tree generated from another ``data.synthetic`` than the grid's now.

    The tree is generated once, so an edited spec would silently keep the old basins and days. A
    tree of an rvhpc that wrote no record of its spec is taken as it is.

    Parameters
    ----------
    grid : str
        The grid's name, for the message.
    synthetic : dict
        The grid's ``data.synthetic`` now.
    root : Path
        The existing tree.

    Raises
    ------
    DataError
        The recorded spec differs: one line saying what to do.
    """
    try:
        made = json.loads((root / SYNTHETIC_SPEC).read_text())
    except (OSError, ValueError):
        return
    if made != synthetic:
        raise DataError(
            f"grid {grid}: data.synthetic {synthetic} differs from the tree "
            f"{root} was generated from ({made}); set data.store to a new file to generate "
            "data beside it, or undo the edit"
        )
