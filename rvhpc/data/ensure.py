"""The data a grid needs, made to exist: synthetic CAMELS generated when asked, then the store
prepared (idempotent, locked). Array tasks call it with the plan the manifest stores.

A store that finished runs were trained on is never rebuilt under them. A grid edited after its
cells ran (a basin list grown or shrunk, other periods, another forcing) asks for a store built
from other inputs; rebuilding it in place would leave every finished run unusable, since
``evaluate`` and ``train`` compare a run's recorded store fingerprint with the store's. rvhpc
*refuses* rather than building the new store beside the old one under a derived name: a real
store is gigabytes (Caravan's far more), a silent second copy per edit would fill a project
quota, and a path derived from the plan would move the store of every existing grid. The refusal
says what changed and what to do: point ``data.store`` at a new file (the new store is then built
there, beside the old one, and the old runs keep theirs), or move the finished runs away. A store
no finished run depends on is rebuilt as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import atomic_dir, write_text
from rvhpc.errors import DataError, StoreError, naming
from rvhpc.runfiles import BASIN_LIST, CHECKPOINT_DIR, CONFIG_JSON, STATE_DIR, run_is_done

#: in a synthetic tree a grid generated: the ``data.synthetic`` it was generated from
SYNTHETIC_SPEC = "rvhpc_synthetic.json"


def ensure_data(plan: dict[str, Any]) -> Path:
    """Make the store exist: generate synthetic CAMELS when asked, then prepare (idempotent,
    locked), never rebuilding a store that finished runs under ``plan["runs_dir"]`` depend on.

    Parameters
    ----------
    plan : dict
        :func:`rvhpc.grid.manifest.data_plan` (as the manifest stores it).

    Returns
    -------
    Path
        The store.

    Raises
    ------
    DataError
        Missing CAMELS files or store, or a store that finished runs depend on and that the plan
        would rebuild (StoreError).
    """
    from filelock import FileLock

    store = Path(plan["store"])
    if "camels_root" not in plan:
        if not store.is_file():
            raise DataError(
                f"grid {plan['grid']}: data.store {store} does not exist; run `rvhpc data prepare` "
                "or give camels_root + basins in the grid file"
            )
        return store
    root, basins = Path(plan["camels_root"]), Path(plan["basins"])
    store.parent.mkdir(parents=True, exist_ok=True)
    if plan.get("synthetic"):
        with FileLock(str(root) + ".lock"):
            if not (root / BASIN_LIST).is_file():
                _synthesize(root, plan["synthetic"])
            _check_synthetic(plan, root)
    elif "union" not in plan:
        for key, path in (("camels_root", root), ("basins", basins)):
            if not path.exists():
                raise DataError(
                    f"grid {plan['grid']}: data.{key} {path} does not exist: edit data.{key} in "
                    "(a copy of) the grid file to point at your CAMELS US download "
                    "(see data/basins/README.md)"
                )
    if "union" in plan and not plan.get("synthetic") and not root.exists():
        raise DataError(
            f"grid {plan['grid']}: data.camels_root {root} does not exist: edit it in (a copy "
            "of) the grid file to point at your CAMELS US download"
        )
    if store.is_file():  # before the union file is rewritten: its new time alone would rebuild
        changed = plan_changes(plan, store)
        if changed:
            keep_finished_runs(plan, store, changed)
    if "union" in plan:
        text = "".join(f"{b}\n" for b in plan["union"])
        if not basins.is_file() or basins.read_text() != text:
            write_text(basins, text)
    from rvhpc.data.store import prepare_store

    return Path(
        prepare_store(
            root,
            basins,
            store,
            forcing=plan["forcing"],
            train_period=tuple(plan["train_period"]),
            eval_period=tuple(plan["eval_period"]),
            before_rebuild=lambda out: keep_finished_runs(plan, out, "its input files changed"),
        )
    )


def plan_changes(plan: dict[str, Any], store: Path) -> str:
    """What the plan asks for that the existing store was not built from ("" when nothing).

    Compares the basins (the union of the lists, or the list file), the periods and the forcing
    with what the store records; a store that cannot be read is not compared (it is rebuilt).

    Parameters
    ----------
    plan : dict
        :func:`rvhpc.grid.manifest.data_plan`.
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
        from rvhpc.data.camels import read_basin_list

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
    if old["forcing"] and old["forcing"] != plan["forcing"]:
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


def keep_finished_runs(plan: dict[str, Any], store: Path, changed: str) -> None:
    """Refuse to rebuild ``store`` when finished runs under the grid's runs directory were trained
    on it (their config.json records its fingerprint).

    Parameters
    ----------
    plan : dict
        :func:`rvhpc.grid.manifest.data_plan` (its ``runs_dir``; an older manifest without it
        is not checked).
    store : Path
    changed : str
        What the rebuild would change, for the message.

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
    found = dependent_runs(Path(runs_dir), fingerprint, skip=Path(plan.get("camels_root", store)))
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


def _synthesize(root: Path, synthetic: dict[str, Any]) -> None:
    from rvhpc.data.synth import synthesize

    progress.log(f"generating synthetic CAMELS US ({synthetic['basins']} basins) in {root}")
    # the basin list inside appears only once the whole tree is there; a full disk names it
    with naming(root), atomic_dir(root) as tmp:
        synthesize(
            tmp,
            n_basins=synthetic["basins"],
            start=synthetic["start"],
            end=synthetic["end"],
            seed=synthetic["seed"],
        )
        write_text(tmp / SYNTHETIC_SPEC, json.dumps(synthetic, sort_keys=True) + "\n")


def _check_synthetic(plan: dict[str, Any], root: Path) -> None:
    """Refuse a synthetic tree generated from another ``data.synthetic`` than the grid's now (it
    is generated once, so an edited spec would silently keep the old basins and days). A tree
    of an rvhpc that wrote no record of its spec is taken as it is."""
    try:
        made = json.loads((root / SYNTHETIC_SPEC).read_text())
    except (OSError, ValueError):
        return
    if made != plan["synthetic"]:
        raise DataError(
            f"grid {plan['grid']}: data.synthetic {plan['synthetic']} differs from the tree "
            f"{root} was generated from ({made}); set data.store to a new file to generate "
            "data beside it, or undo the edit"
        )
