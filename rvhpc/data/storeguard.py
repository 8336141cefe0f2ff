"""The store-rebuild guard: a store that finished runs were trained on is never rebuilt under
them.

A grid edited after its cells ran (a basin list grown or shrunk, other periods, another forcing)
asks for a store built from other inputs; rebuilding it in place would leave every finished run
unusable, since ``evaluate`` and ``train`` compare a run's recorded store fingerprint with the
store's. rvhpc *refuses* rather than building the new store beside the old one under a derived
name: a real store is gigabytes (Caravan's far more), a silent second copy per edit would fill a
project quota, and a path derived from the plan would move the store of every existing grid. The
refusal says what changed and what to do: point ``data.store`` at a new file (the new store is
then built there, beside the old one, and the old runs keep theirs), or move the finished runs
away. A store no finished run depends on is rebuilt as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.errors import DataError, StoreError
from rvhpc.runfiles import CHECKPOINT_DIR, CONFIG_JSON, STATE_DIR
from rvhpc.runrecords import run_is_done


def plan_changes(plan: dict[str, Any], store: Path) -> str:
    """What the plan asks for that the existing store was not built from ("" when nothing).

    Compares the basins (the union of the lists, or the list file), the periods and the forcing
    with what the store records; a store that cannot be read is not compared (it is rebuilt).

    Parameters
    ----------
    plan : dict
        :func:`rvhpc.data.ensure.make_plan`.
    store : Path
        The existing store.

    Returns
    -------
    str
        e.g. ``basins 9 -> 7 (-2), train_period 2002-01-01..2003-12-31 -> ...``.
    """
    import h5py

    try:
        with h5py.File(store, "r") as f:
            old_basins = [b.decode() for b in f["basins"][:]]
            old = {k: [str(v) for v in f.attrs[k]] for k in ("train_period", "eval_period")}
            old["forcing"] = str(f.attrs.get("forcing", ""))
    except (OSError, KeyError, ValueError):
        return ""
    if "union" in plan:
        new_basins = list(plan["union"])
    else:
        from rvhpc.data.basinlist import read_basin_list

        try:
            new_basins = read_basin_list(plan["basins"])
        except DataError:
            return ""  # prepare names the problem
    changes = []
    if new_basins != old_basins:
        changes.append(
            f"basins {len(old_basins)} -> {len(new_basins)}{_gain_loss(old_basins, new_basins)}"
        )
    for key in ("train_period", "eval_period"):
        was, now = _days(old[key]), _days(plan[key])
        if was != now:
            changes.append(f"{key} {'..'.join(was)} -> {'..'.join(now)}")
    if old["forcing"] and plan.get("forcing") and old["forcing"] != plan["forcing"]:
        changes.append(f"forcing {old['forcing']} -> {plan['forcing']}")
    return ", ".join(changes)


def _gain_loss(old: list[str], new: list[str]) -> str:
    gained, lost = len(set(new) - set(old)), len(set(old) - set(new))
    parts = ([f"+{gained}"] if gained else []) + ([f"-{lost}"] if lost else [])
    return f" ({' '.join(parts)})" if parts else " (reordered)"


def _days(period: Any) -> list[str]:
    import pandas as pd

    try:
        return [str(pd.Timestamp(d).date()) for d in period]
    except (ValueError, TypeError):
        return [str(d) for d in period]


def keep_finished_runs(
    plan: dict[str, Any], store: Path, changed: str, skip: Path | None = None
) -> None:
    """Refuse to rebuild ``store`` when finished runs under the grid's runs directory were trained
    on it (their config.json records its fingerprint).

    Parameters
    ----------
    plan : dict
        :func:`rvhpc.data.ensure.make_plan` (its ``grid`` and ``runs_dir``; an older manifest
        without ``runs_dir`` is not checked).
    store : Path
    changed : str
        What the rebuild would change, for the message.
    skip : Path, optional
        A folder not to walk (the dataset root next to the store: a synthetic tree); None: the
        store itself.

    Raises
    ------
    StoreError
        One line: what changed, how many runs depend on the store, what to do.
    """
    from rvhpc.data.store import store_fingerprint

    fingerprint = store_fingerprint(store)
    runs_dir = plan.get("runs_dir")
    if fingerprint is None or runs_dir is None:
        return
    found = dependent_runs(Path(runs_dir), fingerprint, skip=store if skip is None else skip)
    if not found:
        progress.log(f"{store}: rebuilding it ({changed}); no finished run depends on it")
        return
    raise StoreError(
        f"grid {plan['grid']}: the store {store} would be rebuilt ({changed}), but {len(found)} "
        f"finished run(s) were trained on it (e.g. {found[0]}); set data.store in the grid file "
        f"to a new file (e.g. {store.with_name(store.stem + '-2' + store.suffix)}) to build the "
        "new store beside it, or move those runs away"
    )


def dependent_runs(runs_dir: Path, fingerprint: str, skip: Path | None = None) -> list[Path]:
    """Finished run directories under ``runs_dir`` trained on the store of ``fingerprint``.

    Parameters
    ----------
    runs_dir : Path
    fingerprint : str
    skip : Path, optional
        A folder not to walk (the synthetic CAMELS tree next to the store).

    Returns
    -------
    list[Path]
        In walk order.
    """
    found = []
    for folder, dirs, files in os.walk(runs_dir):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in (CHECKPOINT_DIR, STATE_DIR) and here / d != skip]
        if CONFIG_JSON not in files:
            continue
        try:
            record = json.loads((here / CONFIG_JSON).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("store_fingerprint") == fingerprint:
            if run_is_done(here):
                found.append(here)
    return found
