"""The data a grid needs: its plan (what the store is built from, as JSON the manifest keeps so
that array tasks can prepare it) and the plan made to exist (synthetic data generated when asked,
then the store prepared: idempotent, locked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import atomic_dir, write_text
from rvhpc.errors import DataError, naming


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
    options : ``forcing``, ``format``, ``inputs``, ``descriptors`` (None: the defaults)
    """
    plan: dict[str, Any] = dict(
        grid=grid, store=str(store), dataset=dataset, root_key=root_key,
        train_period=train_period, eval_period=eval_period,
        **{k: v for k, v in options.items() if v is not None},
    )  # fmt: skip
    if synthetic is not None:
        root = store.parent / f"{store.stem}_{'camels' if dataset == 'camels_us' else dataset}"
        plan.update(synthetic=dict(synthetic), roots=[str(root)])
        plan["basins"] = str(root / "basin_list.txt")
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
    """Make the plan's store exist: generate synthetic data when asked, then prepare
    (idempotent, locked). Returns the store."""
    from filelock import FileLock

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
        with FileLock(str(roots[0]) + ".lock"):
            if not (roots[0] / "basin_list.txt").is_file():
                _synthesize(dataset, roots[0], plan["synthetic"])
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
            **{k: v for k, v in options.items() if v is not None},
        )
    )


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
