"""A scenario cell's view of the store: its basins and period with their own scalers, and the
static vectors of held-out (PUB) basins standardised with the training basins' statistics."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rvhpc.data.sampler import WindowSampler
from rvhpc.data.select import (
    eval_view,
    fresh_draw,
    heldout_statics,
    select_basins,
    training_view,
    with_scalers,
)
from rvhpc.data.statics import build_statics
from rvhpc.data.store import open_store
from rvhpc.errors import DataError


def _config(**values):
    base = dict(
        basins=None, eval_basins=None, train_period=None, static="physics", dim=None, attr_seed=0
    )
    return SimpleNamespace(**{**base, **values})


def test_scalers_of_the_whole_store_are_the_stored_ones(tiny_store) -> None:
    store = open_store(tiny_store, period="train", warmup=29)
    again = with_scalers(store)
    for key in ("x_mean", "x_std", "q_std"):
        np.testing.assert_array_equal(getattr(again, key), getattr(store, key))
    assert (again.y_mean, again.y_std) == (store.y_mean, store.y_std)


def test_training_view_selects_basins_and_period(tiny_store) -> None:
    store = open_store(tiny_store, period="train", warmup=29)
    basins = store.basins[1:3]
    view = training_view(store, _config(basins=basins, train_period=("2001-10-01", "2002-09-30")))
    assert view.basins == basins
    np.testing.assert_array_equal(view.series()[1], store.qobs[1:3])
    assert np.shares_memory(view.qobs, store.qobs)  # a view of the mapped store, not a copy
    days = WindowSampler(view, seq_length=30).train_samples().pairs()[:, 1]
    assert view.dates[days].min() >= np.datetime64("2001-10-01")
    # its scalers are those of its own basins and days, not the store's
    part = select_basins(store, basins, "training")
    lo = np.searchsorted(store.dates, np.datetime64("2001-10-01"))
    forcing, qobs = part.series()
    q = qobs[:, lo:].astype(np.float64)
    x_ok = np.isfinite(forcing[:, lo:]).all(axis=2)
    assert view.y_mean == pytest.approx(q[np.isfinite(q) & x_ok].mean(), rel=1e-12)
    assert view.y_mean != store.y_mean
    with pytest.raises(DataError, match="not inside the store's training period"):
        training_view(store, _config(train_period=("1999-01-01", "2002-09-30")))
    with pytest.raises(DataError, match="not in the store"):
        training_view(store, _config(basins=["99999999"]))


def test_heldout_physics_use_training_basin_statistics(tiny_store) -> None:
    store = open_store(tiny_store, period="train", warmup=29)
    train_ids, held_ids = store.basins[:3], store.basins[3:]
    config = _config(basins=train_ids, eval_basins=held_ids)
    train = training_view(store, config)
    held = eval_view(open_store(tiny_store, period="eval", warmup=29), config, train)
    assert held.basins == held_ids and held.y_mean == train.y_mean and held.y_std == train.y_std
    values = heldout_statics("physics", None, 0, train, held)
    desc = store.descriptors
    mean, std = desc[:3].mean(0), desc[:3].std(0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(values, ((desc[3:] - mean) / std).astype(np.float32), rtol=1e-6)
    # not the statistics of all basins, nor of the held-out basin alone
    all_std = np.where(desc.std(0, ddof=1) > 0, desc.std(0, ddof=1), 1.0)
    assert not np.allclose(values, (desc[3:] - desc.mean(0)) / all_std)
    # the training rows are exactly build_statics on the training basins
    np.testing.assert_allclose(
        build_statics("physics", train).values,
        ((desc[:3] - mean) / std).astype(np.float32),
        rtol=1e-6,
    )
    mixed = heldout_statics("mixed", 30, 2, train, held)
    np.testing.assert_array_equal(mixed[:, :27], values)
    np.testing.assert_array_equal(mixed[:, 27:], fresh_draw(held_ids, 3, 2).astype(np.float32))


def test_unseen_gaussian_and_one_hot(tiny_store) -> None:
    store = open_store(tiny_store, period="train", warmup=29)
    config = _config(basins=store.basins[:2], eval_basins=store.basins[2:])
    train = training_view(store, config)
    held = select_basins(store, store.basins[2:], "held-out")
    one_hot = heldout_statics("one_hot", None, 0, train, held)
    assert one_hot.shape == (2, 2) and not one_hot.any()  # the "unknown basin" code
    gauss = heldout_statics("gaussian", 8, 4, train, held)
    assert gauss.shape == (2, 8)
    # a basin's fresh draw depends on (attr_seed, basin) only: the same in every fold
    alone = heldout_statics("gaussian", 8, 4, train, select_basins(store, [store.basins[3]], "h"))
    np.testing.assert_array_equal(alone[0], gauss[1])
    assert not np.array_equal(heldout_statics("gaussian", 8, 5, train, held), gauss)
    assert heldout_statics("none", None, 0, train, held) is None
