"""One scenario cell's view of a store: its training basins and training period, the basins it
predicts (the held-out basins of a PUB fold), and static vectors for basins the model never saw.

One store serves every basin list of a grid (their union). A cell that names its basins trains on
those rows only (a view through ``store.rows``: the memory-mapped arrays are shared, not copied),
and its scalers are recomputed over *its* training samples with the store's own rule
(rvhpc/data/trainstats.py), as the original code computes them per basin list. Held-out basins are
scaled with the training basins' scalers, never their own.

Static vectors of held-out basins (the model has no learned vector for them):

- physics: the descriptors standardised with the training basins' statistics
  (:func:`rvhpc.data.statics.column_stats`, the one standardisation);
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

from rvhpc.data.statics import column_stats, standardise
from rvhpc.data.store import BasinStore
from rvhpc.data.trainstats import NoTrainingSamples, training_scalers
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
        rows=store.row_index()[idx],
        descriptors=store.descriptors[idx],
        area_m2=store.area_m2[idx],
        q_std=store.q_std[idx],
    )


def with_scalers(store: BasinStore) -> BasinStore:
    """The store with x/y scalers and per-basin q_std recomputed over its own training samples
    (rvhpc.data.trainstats, the rule of the store build: bit-identical to the stored scalers for
    the whole store), read batch by batch."""
    dates = store.dates
    days = np.flatnonzero((dates >= store.train_period[0]) & (dates <= store.train_period[1]))
    lo, hi = (int(days[0]), int(days[-1]) + 1) if len(days) else (0, 0)
    rows = store.row_index()

    def batches(b0: int, b1: int) -> tuple[np.ndarray, np.ndarray]:
        picked = rows[b0:b1]
        return store.forcing[picked, lo:hi], store.qobs[picked, lo:hi]

    try:
        scalers = training_scalers(batches, len(rows), hi - lo, store.n_inputs)
    except NoTrainingSamples as exc:
        raise DataError(
            f"{store.path}: basin {store.basins[exc.index]} has no observed discharge in the "
            f"training period {store.train_period[0].date()}..{store.train_period[1].date()}; "
            "drop it from the basin list or choose a longer training period"
        ) from None
    return replace(store, **scalers)


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
        rows=None,
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
    n_desc = train.descriptors.shape[1]
    if kind == "none":
        return None
    if kind == "one_hot":
        values = np.zeros((len(heldout.basins), len(train.basins)))
    elif kind == "gaussian":
        values = fresh_draw(heldout.basins, int(dim), attr_seed)
    elif kind in ("physics", "mixed"):
        values = standardise(heldout.descriptors, column_stats(train.descriptors))
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
