"""What collect checks of a cell besides its file format: that it predicts the basins its
config says (a PUB fold its held-out basins: rows added for one of its own training basins must
never be scored as held-out results), and that one name means one experiment.

Cells and experiments are taken by their attributes (``rvhpc.collect.discover`` and
``rvhpc.collect.experiment`` define them; discover imports this module).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.errors import CollectError
from rvhpc.runfiles import CONFIG_JSON, STATICS_NPZ


def expected_basins(run_dir: Path, config: dict) -> tuple[tuple[str, ...] | None, str]:
    """The basins a run predicts by its config.json: ``eval_basins`` (a PUB fold's held-out
    basins), else ``basins`` (a named list), else those of its statics.npz (the whole store it
    trained on); (None, "") when none of them is there.

    Parameters
    ----------
    run_dir : Path
    config : dict
        Its config.json.

    Returns
    -------
    (tuple of str or None, str)
        The basins, and where they come from (for messages).

    Raises
    ------
    ValueError
        Lists that are not lists of ids, or held-out basins that are also training basins.
    """
    held, train = config.get("eval_basins"), config.get("basins")
    for key, ids in (("eval_basins", held), ("basins", train)):
        if ids is not None and not (isinstance(ids, list) and all(isinstance(b, str) for b in ids)):
            raise ValueError(f"{key} is not a list of basin ids")
    if held is not None:
        if train is not None and set(held) & set(train):
            raise ValueError(
                f"eval_basins and basins share {sorted(set(held) & set(train))[0]}: a held-out "
                "basin cannot also be a training basin"
            )
        return tuple(str(b) for b in held), f"{CONFIG_JSON} eval_basins (the held-out basins)"
    if train is not None:
        return tuple(str(b) for b in train), f"{CONFIG_JSON} basins"
    statics = run_dir / STATICS_NPZ
    if statics.is_file():
        with np.load(statics) as npz:
            return tuple(str(b) for b in npz["basins"]), f"{STATICS_NPZ} (the store's basins)"
    return None, ""


def check_predicted(cell: Any, basins: pd.Series) -> None:
    """Refuse a cell whose predictions hold other basins than its config says it predicts.

    Parameters
    ----------
    cell : rvhpc.collect.discover.Cell
        With ``expected`` from :func:`expected_basins` (None: nothing to check).
    basins : pd.Series
        The basins of its per-basin metrics.

    Raises
    ------
    CollectError
        Naming the predictions file, a basin too many or too few, and the config's list.
    """
    if cell.expected is None:
        return
    got, want = set(basins), set(cell.expected)
    if got == want:
        return
    extra, lacking = sorted(got - want), sorted(want - got)
    what = (
        f"predicts {len(extra)} basin(s) not in {cell.expected_from}, e.g. {extra[0]}"
        if extra
        else f"lacks {len(lacking)} basin(s) of {cell.expected_from}, e.g. {lacking[0]}"
    )
    raise CollectError(
        f"cell {cell.label}: {cell.predictions} {what}; not scored (these are not its results): "
        "rerun the cell (delete its DONE)"
    )


def check_names(cells: list[Any]) -> None:
    """Refuse runs of different experiments under one name (a ``name:`` reused across grids
    collected together, or one that is another experiment's paper name): their tables would mix.

    Parameters
    ----------
    cells : list of rvhpc.collect.discover.Cell

    Raises
    ------
    CollectError
        Naming the name and two cells that disagree.
    """
    by_name: dict[str, tuple[Any, Any]] = {}
    for cell in cells:
        key = replace(cell.experiment, fold=None, train_basins=None)  # folds merge by name
        first = by_name.setdefault(cell.experiment.name, (key, cell))
        if first[0] != key:
            raise CollectError(
                f"experiment name {cell.experiment.name!r} is used by different experiments "
                f"({first[1].label} and {cell.label}); collect them apart or rename one"
            )
