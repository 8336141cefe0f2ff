"""The data a grid needs: its plan (what the store is built from, as JSON the manifest keeps so
that array tasks can prepare it) and the plan made to exist (synthetic data generated when asked,
then the store prepared: idempotent, locked).

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
from rvhpc.runfiles import BASIN_LIST, CHECKPOINT_DIR, CONFIG_JSON, STATE_DIR
from rvhpc.runrecords import run_is_done

#: in a synthetic tree a grid generated: the ``data.synthetic`` it was generated from
SYNTHETIC_SPEC = "rvhpc_synthetic.json"


def make_plan(
    grid: str,
    store: Path,
    dataset: str = "camels_us",
    roots: list[Path] | None = None,
    basins: Path | None = None,
    *,
    root_key: str = "root",
    synthetic: dict | None = None,
    union: list[str] | None = None,
    train_period: tuple | None = None,
    eval_period: tuple | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The data plan of a grid's ``data:`` section as JSON values.

    Parameters
    ----------
    grid : the grid's name (messages)
    store : the store to use, or to prepare
    dataset, roots, basins : the dataset and its files (None: an existing store)
    root_key : how the grid file spells the root (``root`` or ``camels_root``), for messages
    synthetic : basins, start, end, seed of synthetic data generated beside the store
    union : the basins of several named lists (one store serves them all)
    train_period, eval_period : the store's periods
    options : ``forcing``, ``format``, ``inputs``, ``descriptors`` (None: the defaults), and
        ``runs_dir``, where ensure_data looks for finished runs that depend on an existing store
        before it would rebuild it
    """
    plan: dict[str, Any] = dict(
        grid=grid, store=str(store), dataset=dataset, root_key=root_key,
        train_period=train_period, eval_period=eval_period,
        **{k: v for k, v in options.items() if v is not None},
    )  # fmt: skip
    if synthetic is not None:
        root = store.parent / f"{store.stem}_{'camels' if dataset == 'camels_us' else dataset}"
        plan.update(synthetic=dict(synthetic), roots=[str(root)])
        plan["basins"] = str(root / BASIN_LIST)
    elif roots:
        plan.update(roots=[str(r) for r in roots], basins=str(basins))
    if union is not None and "roots" in plan:
        # one store serves every list: it is prepared from their union
        plan["basins"] = str(store.parent / f"{store.stem}_union.txt")
        plan["union"] = list(union)
    return plan


def _roots(plan: dict[str, Any]) -> list[Path] | None:
    if "roots" in plan:
        return [Path(r) for r in plan["roots"]]
    if "camels_root" in plan:  # a manifest written before datasets had names
        return [Path(plan["camels_root"])]
    return None


def ensure_data(plan: dict[str, Any]) -> Path:
    """Make the plan's store exist: generate synthetic data when asked, then prepare (idempotent,
    locked), never rebuilding a store that finished runs under ``plan["runs_dir"]`` depend on.

    Parameters
    ----------
    plan : dict
        :func:`make_plan` (as the manifest stores it).

    Returns
    -------
    Path
        The store.

    Raises
    ------
    DataError
        Missing dataset files or store, or a store that finished runs depend on and that the plan
        would rebuild (StoreError).
    """
    from rvhpc.locks import file_lock

    store, roots = Path(plan["store"]), _roots(plan)
    key = plan.get("root_key", "camels_root" if "camels_root" in plan else "root")
    if roots is None:
        if not store.is_file():
            raise DataError(
                f"grid {plan['grid']}: data.store {store} does not exist; run `rvhpc data prepare` "
                f"or give {key} + basins in the grid file"
            )
        return store
    basins = Path(plan["basins"])
    store.parent.mkdir(parents=True, exist_ok=True)
    dataset = plan.get("dataset", "camels_us")
    if plan.get("synthetic"):
        where = f"grid {plan['grid']}: data.synthetic"
        with file_lock(roots[0], where, "put the store in a folder you can write to", DataError):
            if not (roots[0] / BASIN_LIST).is_file():
                _synthesize(dataset, roots[0], plan["synthetic"])
            _check_synthetic(plan, roots[0])
    else:
        what = "CAMELS US download" if dataset == "camels_us" else f"{dataset} download"
        for path in [*roots, *([] if "union" in plan else [basins])]:
            if not path.exists():
                field = key if path in roots else "basins"
                raise DataError(
                    f"grid {plan['grid']}: data.{field} {path} does not exist: edit data.{field} "
                    f"in (a copy of) the grid file to point at your {what} "
                    "(see data/basins/README.md)"
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

    options = {k: plan.get(k) for k in ("forcing", "format", "inputs", "descriptors")}
    return Path(
        prepare_store(
            roots,
            basins,
            store,
            dataset=dataset,
            train_period=tuple(plan["train_period"]),
            eval_period=tuple(plan["eval_period"]),
            before_rebuild=lambda out: keep_finished_runs(plan, out, "its input files changed"),
            **{k: v for k, v in options.items() if v is not None},
        )
    )


def plan_changes(plan: dict[str, Any], store: Path) -> str:
    """What the plan asks for that the existing store was not built from ("" when nothing).

    Compares the basins (the union of the lists, or the list file), the periods and the forcing
    with what the store records; a store that cannot be read is not compared (it is rebuilt).

    Parameters
    ----------
    plan : dict
        :func:`make_plan`.
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


def keep_finished_runs(plan: dict[str, Any], store: Path, changed: str) -> None:
    """Refuse to rebuild ``store`` when finished runs under the grid's runs directory were trained
    on it (their config.json records its fingerprint).

    Parameters
    ----------
    plan : dict
        :func:`make_plan` (its ``runs_dir``; an older manifest without it
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
    roots = _roots(plan) or [store]
    found = dependent_runs(Path(runs_dir), fingerprint, skip=roots[0])
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


def _synthesize(dataset: str, root: Path, synthetic: dict[str, Any]) -> None:
    from rvhpc.data.synth import synthesize_dataset

    progress.log(f"generating synthetic {dataset} ({synthetic['basins']} basins) in {root}")
    # the basin list inside appears only once the whole tree is there; a full disk names it
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
