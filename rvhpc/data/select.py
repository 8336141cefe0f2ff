"""One scenario cell's view of a store: its training basins and training period, the basins it
predicts (the held-out basins of a PUB fold), and static vectors for basins the model never saw.

One store serves every basin list of a grid (their union). A cell that names its basins trains on
those rows only, and its scalers are recomputed over *its* training samples with the store's own
rule (training-period days with observed discharge and complete inputs; std ddof=0), as the
original code computes them per basin list. Held-out basins are scaled with the training basins'
scalers, never their own.

Static vectors of held-out basins (the model has no learned vector for them):

- physics: the 27 descriptors standardised with the training basins' column mean and std (ddof=1);
- mixed: the same for the descriptor columns, a fresh draw for the random columns;
- gaussian: a fresh standard normal draw (the scale the training vectors were standardised to),
  seeded by (attr_seed, basin id), so a basin gets the same vector in every fold;
- one_hot: the zero vector, a plain "unknown basin" code;
- none: nothing.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.data.camels import DESCRIPTORS
from rvhpc.data.store import BasinStore
from rvhpc.errors import DataError

#: first entropy word of the fresh draws, so they never coincide with a training draw
_FRESH_SALT = 0x5EED_F01D


def select_basins(store: BasinStore, basins: list[str], what: str) -> BasinStore:
    """The rows of ``basins`` (in that order) of a loaded store; DataError naming a missing one.
    The store itself (no copy) when ``basins`` are all of its basins in its order."""
    if list(basins) == list(store.basins):
        return store
    index = {b: i for i, b in enumerate(store.basins)}
    missing = [b for b in basins if b not in index]
    if missing:
        raise DataError(
            f"{store.path}: {len(missing)} {what} basin(s) are not in the store "
            f"(e.g. {missing[0]}); prepare the store from a basin list that holds them "
            "(rvhpc grid prepares the union of its lists)"
        )
    idx = np.asarray([index[b] for b in basins], dtype=np.int64)
    return replace(
        store,
        basins=list(basins),
        forcing=store.forcing[idx],
        qobs=store.qobs[idx],
        descriptors=store.descriptors[idx],
        area_m2=store.area_m2[idx],
        q_std=store.q_std[idx],
    )


def with_scalers(store: BasinStore) -> BasinStore:
    """The store with x/y scalers and per-basin q_std recomputed over its own training samples
    (the rule of ``rvhpc.data.build``; bit-identical to the stored scalers for the whole store)."""
    dates = store.dates
    days = np.flatnonzero((dates >= store.train_period[0]) & (dates <= store.train_period[1]))
    xt = store.forcing[:, days].astype(np.float64)
    qt = store.qobs[:, days].astype(np.float64)
    ok = np.isfinite(qt) & np.isfinite(xt).all(axis=2)
    empty = np.flatnonzero(ok.sum(1) == 0)
    if len(empty):
        raise DataError(
            f"{store.path}: basin {store.basins[int(empty[0])]} has no observed discharge in the "
            f"training period {store.train_period[0].date()}..{store.train_period[1].date()}; "
            "drop it from the basin list or choose a longer training period"
        )
    return replace(
        store,
        x_mean=xt[ok].mean(0),
        x_std=xt[ok].std(0),
        y_mean=float(qt[ok].mean()),
        y_std=float(qt[ok].std()),
        q_std=np.array([qt[i, ok[i]].std() for i in range(len(qt))]),
    )


def training_view(store: BasinStore, config: Any) -> BasinStore:
    """The training basins and period of ``config`` (``basins``, ``train_period``) with their own
    scalers; the store itself when the config names neither."""
    if config.basins is None and config.train_period is None:
        return store
    if config.basins is not None:
        store = select_basins(store, list(config.basins), "training")
    if config.train_period is not None:
        start, end = (pd.Timestamp(d) for d in config.train_period)
        lo, hi = store.train_period
        if start < lo or end > hi:
            raise DataError(
                f"{store.path}: training period {start.date()}..{end.date()} is not inside the "
                f"store's training period {lo.date()}..{hi.date()}; choose a period inside it"
            )
        store = replace(store, train_period=(start, end))
    return with_scalers(store)


def without_series(store: BasinStore) -> BasinStore:
    """The store's basins, descriptors and scalers without its series (to keep past training)."""
    n = len(store.basins)
    return replace(
        store,
        forcing=np.empty((n, 0, store.forcing.shape[2]), store.forcing.dtype),
        qobs=np.empty((n, 0), store.qobs.dtype),
        dates=store.dates[:0],
    )


def eval_view(store: BasinStore, config: Any, train: BasinStore) -> BasinStore:
    """The basins ``config`` predicts (``eval_basins``, else its training basins), scaled with the
    training view's scalers; the store itself when the config names no basins or period."""
    if config.basins is None and config.train_period is None and config.eval_basins is None:
        return store
    basins = config.eval_basins if config.eval_basins is not None else config.basins
    if config.eval_basins is not None and set(config.eval_basins) & set(train.basins):
        raise DataError(
            f"{store.path}: held-out basins are among the training basins; name the training "
            "basins (option basins) without them"
        )
    if basins is not None:
        store = select_basins(store, list(basins), "evaluation")
    return replace(
        store, x_mean=train.x_mean, x_std=train.x_std, y_mean=train.y_mean, y_std=train.y_std
    )


def column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std (ddof=1; zero/undefined -> 1) as ``statics.standardise`` uses them."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.ones(values.shape[1])
    return mean, np.where(np.isfinite(std) & (std > 0), std, 1.0)


def fresh_draw(basins: list[str], width: int, attr_seed: int) -> np.ndarray:
    """[len(basins), width] standard normal rows, one generator per (attr_seed, basin id)."""
    rows = [
        np.random.default_rng(
            [_FRESH_SALT, int(attr_seed), zlib.crc32(b.encode())]
        ).standard_normal(width)
        for b in basins
    ]
    return np.asarray(rows, dtype=np.float64).reshape(len(basins), width)


def heldout_statics(
    kind: str, dim: int | None, attr_seed: int, train: BasinStore, heldout: BasinStore
) -> np.ndarray | None:
    """float32 static vectors of held-out basins (see the module docstring), or None for ``none``.

    Parameters
    ----------
    kind, dim, attr_seed : the cell's static vector settings
    train : the training view (its descriptors give the standardisation statistics)
    heldout : the held-out basins' view
    """
    n_desc = len(DESCRIPTORS)
    if kind == "none":
        return None
    if kind == "one_hot":
        values = np.zeros((len(heldout.basins), len(train.basins)))
    elif kind == "gaussian":
        values = fresh_draw(heldout.basins, int(dim), attr_seed)
    elif kind in ("physics", "mixed"):
        mean, std = column_stats(train.descriptors)
        values = (np.asarray(heldout.descriptors, np.float64) - mean) / std
        if kind == "mixed":
            values = np.concatenate(
                [values, fresh_draw(heldout.basins, int(dim) - n_desc, attr_seed)], axis=1
            )
    else:
        raise DataError(f"unknown static kind {kind!r} for held-out basins")
    return np.ascontiguousarray(values, dtype=np.float32)


def eval_statics(
    config: Any, train_values: np.ndarray | None, train: BasinStore, heldout: BasinStore
) -> np.ndarray | None:
    """Static vectors of the basins a cell predicts: the training vectors when it predicts its
    training basins, :func:`heldout_statics` when it predicts held-out basins."""
    if config.eval_basins is None:
        return train_values
    return heldout_statics(config.static, config.dim, config.attr_seed, train, heldout)
