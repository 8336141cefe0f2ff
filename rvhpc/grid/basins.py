"""Every basin a grid's cells train on or predict, checked against the store before any training.

A scenario's basins (a named list, its k-fold held-out part) are looked up in the store only when
a cell uses them: the training basins when training starts, the held-out ones at evaluation, after
the fold trained every epoch. ``grid show``, ``run`` and ``submit`` call :func:`check_basins`
first, so a list naming a basin the store lacks fails at once, in one line.

What the basins are checked against: a grid that names an existing ``data.store`` (and prepares
nothing) against that store's basins; a grid that prepares its store from synthetic data against
the ids the synthetic tree holds; a grid that prepares it from a download (CAMELS US, Caravan) is
prepared from the union of its lists, and preparing checks the download holds every one of them.
"""

from __future__ import annotations

from rvhpc.errors import DataError
from rvhpc.grid.basinlists import synthetic_ids
from rvhpc.grid.cells import Cell, Grid


def available_basins(grid: Grid) -> tuple[set[str], str] | None:
    """The basins the grid's store holds or will hold, and how to name that set in an error;
    None when they are known only once the store is prepared (from a CAMELS download).

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    (set of str, str) or None
    """
    data = grid.spec.data
    if data.synthetic is not None:
        ids = synthetic_ids(data.synthetic.basins, data.synthetic.seed, data.dataset)
        return set(ids), f"the {len(ids)} synthetic basins (data.synthetic)"
    if data.roots is None and grid.store.is_file():
        import h5py

        try:
            with h5py.File(grid.store, "r") as f:
                ids = [b.decode() for b in f["basins"][:]]
        except (OSError, KeyError):
            return None  # an unreadable store: training names it
        return set(ids), f"the store {grid.store} ({len(ids)} basins)"
    return None


def check_basins(grid: Grid) -> None:
    """Refuse a grid whose cells name basins the store does not (or will not) hold.

    Parameters
    ----------
    grid : Grid

    Raises
    ------
    DataError
        One line: the basin list, how many of its basins are missing (one named), which cell
        would train on or predict them, and what to do.
    """
    known = available_basins(grid)
    if known is None:
        return
    ids, where = known
    for cell in grid.cells:
        for key, use in (("basins", "train on"), ("eval_basins", "predict (held out)")):
            missing = [b for b in cell.config.get(key) or () if b not in ids]
            if missing:
                raise DataError(
                    f"grid {grid.name}: basin list {_list_name(cell)!r} names {len(missing)} "
                    f"basin(s) that are not in {where}, e.g. {missing[0]}, which cell "
                    f"{cell.index} ({cell.experiment} seed {cell.seed}) would {use}: remove "
                    "them from the list, or prepare the store from a list that holds them"
                )


def _list_name(cell: Cell) -> str:
    return str((cell.scenario or {}).get("basin_list") or "?")
