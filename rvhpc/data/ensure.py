"""The data a grid needs: its plan (what the store is built from, as JSON the manifest keeps so
that array tasks can prepare it) and the plan made to exist (synthetic data generated when asked,
then the store prepared: idempotent, locked).

A store that finished runs were trained on is never rebuilt under them (the guard and why:
rvhpc/data/storeguard.py); a synthetic tree is generated once and its spec checked
(rvhpc/data/synthtree.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rvhpc.atomic import write_text
from rvhpc.data.storeguard import keep_finished_runs, plan_changes
from rvhpc.data.synthtree import check_spec, generate_tree
from rvhpc.errors import DataError
from rvhpc.runfiles import BASIN_LIST


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
    store, roots = Path(plan["store"]), _roots(plan)
    if roots is None:
        return _existing_store(plan, store)
    basins = Path(plan["basins"])
    store.parent.mkdir(parents=True, exist_ok=True)
    if plan.get("synthetic"):
        _synthetic_tree(plan, roots[0])
    else:
        _check_files(plan, roots, basins)
    if store.is_file():  # before the union file is rewritten: its new time alone would rebuild
        changed = plan_changes(plan, store)
        if changed:
            keep_finished_runs(plan, store, changed, skip=roots[0])
    if "union" in plan:
        text = "".join(f"{b}\n" for b in plan["union"])
        if not basins.is_file() or basins.read_text() != text:
            write_text(basins, text)
    return _prepare(plan, roots, basins, store)


def _root_key(plan: dict[str, Any]) -> str:
    """How the grid file spells the dataset root, for messages."""
    return plan.get("root_key", "camels_root" if "camels_root" in plan else "root")


def _existing_store(plan: dict[str, Any], store: Path) -> Path:
    """A plan without dataset files: the store must be there."""
    if not store.is_file():
        raise DataError(
            f"grid {plan['grid']}: data.store {store} does not exist; run `rvhpc data prepare` "
            f"or give {_root_key(plan)} + basins in the grid file"
        )
    return store


def _synthetic_tree(plan: dict[str, Any], root: Path) -> None:
    """Generate the plan's synthetic tree unless it is there (under its lock); check its spec."""
    from rvhpc.locks import file_lock

    where = f"grid {plan['grid']}: data.synthetic"
    with file_lock(root, where, "put the store in a folder you can write to", DataError):
        if not (root / BASIN_LIST).is_file():
            generate_tree(plan.get("dataset", "camels_us"), root, plan["synthetic"])
        check_spec(plan["grid"], plan["synthetic"], root)


def _check_files(plan: dict[str, Any], roots: list[Path], basins: Path) -> None:
    """The user's dataset roots and basin list exist (the union file is written later)."""
    dataset = plan.get("dataset", "camels_us")
    what = "CAMELS US download" if dataset == "camels_us" else f"{dataset} download"
    for path in [*roots, *([] if "union" in plan else [basins])]:
        if not path.exists():
            field = _root_key(plan) if path in roots else "basins"
            raise DataError(
                f"grid {plan['grid']}: data.{field} {path} does not exist: edit data.{field} "
                f"in (a copy of) the grid file to point at your {what} "
                "(see data/basins/README.md)"
            )


def _prepare(plan: dict[str, Any], roots: list[Path], basins: Path, store: Path) -> Path:
    """``prepare_store`` of the plan; a rebuild for changed input files is guarded too."""
    from rvhpc.data.store import prepare_store

    options = {k: plan.get(k) for k in ("forcing", "format", "inputs", "descriptors")}
    return Path(
        prepare_store(
            roots,
            basins,
            store,
            dataset=plan.get("dataset", "camels_us"),
            train_period=tuple(plan["train_period"]),
            eval_period=tuple(plan["eval_period"]),
            before_rebuild=lambda out: keep_finished_runs(
                plan, out, "its input files changed", skip=roots[0]
            ),
            **{k: v for k, v in options.items() if v is not None},
        )
    )
