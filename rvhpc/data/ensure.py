"""The data a grid needs, made to exist: synthetic CAMELS generated when asked, then the store
prepared (idempotent, locked). Array tasks call it with the plan the manifest stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rvhpc import progress
from rvhpc.atomic import atomic_dir, write_text
from rvhpc.errors import DataError, naming


def ensure_data(plan: dict[str, Any]) -> Path:
    """Make the store exist: generate synthetic CAMELS when asked, then prepare (idempotent,
    locked)."""
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
            if not (root / "basin_list.txt").is_file():
                _synthesize(root, plan["synthetic"])
    elif "union" not in plan:
        for key, path in (("camels_root", root), ("basins", basins)):
            if not path.exists():
                raise DataError(
                    f"grid {plan['grid']}: data.{key} {path} does not exist: edit data.{key} in "
                    "(a copy of) the grid file to point at your CAMELS US download "
                    "(see data/basins/README.md)"
                )
    if "union" in plan:
        if not plan.get("synthetic") and not root.exists():
            raise DataError(
                f"grid {plan['grid']}: data.camels_root {root} does not exist: edit it in (a copy "
                "of) the grid file to point at your CAMELS US download"
            )
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
        )
    )


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
