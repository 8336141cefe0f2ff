"""Windows drawn by index from the store arrays (reference.md section 3 sample rules)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
from rvhpc.errors import DataError

T = 30


@pytest.fixture(scope="module")
def train_store(tiny_store):
    return open_store(tiny_store, "train", warmup=T - 1)


def test_train_samples_follow_the_rules(train_store):
    sampler = WindowSampler(train_store, T)
    index = sampler.train_samples()
    rows = index.pairs()
    assert rows.dtype == np.int64 and rows.shape[1] == 2  # a bitmap's windows, read in full
    assert index.nbytes < 8 * len(rows)  # below the int32 pairs (training/test_windowindex.py)
    dates = train_store.dates[rows[:, 1]]
    assert dates.min() == pd.Timestamp("2000-10-01") and dates.max() <= pd.Timestamp("2002-09-30")
    assert np.isfinite(train_store.qobs[rows[:, 0], rows[:, 1]]).all()
    n_train_days = (pd.Timestamp("2002-09-30") - pd.Timestamp("2000-10-01")).days + 1
    expected = sum(
        np.isfinite(train_store.qobs[b, T - 1 : T - 1 + n_train_days]).sum() for b in range(4)
    )
    assert len(rows) == expected  # every observed training day, nothing else
    assert len(rows) < 4 * n_train_days  # the synthetic gaps are dropped


def test_batch_is_the_standardised_window(train_store):
    sampler = WindowSampler(train_store, T)
    rows = sampler.train_samples()[[0, 5, 700, -1]]
    x, y, q_std, basin = sampler.batch(rows)
    assert x.shape == (4, T, 5) and x.dtype == torch.float32
    assert y.shape == (4, 1) and q_std.shape == (4, 1) and basin.dtype == torch.int64
    for k, (b, d) in enumerate(rows):
        raw = train_store.forcing[b, d - T + 1 : d + 1].astype(np.float64)
        np.testing.assert_allclose(
            x[k].numpy(), (raw - train_store.x_mean) / train_store.x_std, rtol=1e-4, atol=1e-5
        )
        assert y[k, 0].item() == pytest.approx(
            (train_store.qobs[b, d] - train_store.y_mean) / train_store.y_std, rel=1e-5
        )
        assert q_std[k, 0].item() == pytest.approx(train_store.q_std[b], rel=1e-6)
    # one basin, many days (evaluation) gives the same windows
    same = sampler.windows(rows[0, 0], rows[:1, 1])
    np.testing.assert_array_equal(same.numpy(), x[:1].numpy())
    # the store keeps its raw values: the sampler holds no standardised copy
    assert np.shares_memory(sampler._flat, train_store.forcing)
    assert train_store.forcing[0, :, 4].mean() > 100  # vp still in Pa


def test_windows_skip_missing_inputs(tiny_store):
    store = open_store(tiny_store, "train", warmup=T - 1)
    store.forcing[1, 100, 2] = np.nan
    rows = WindowSampler(store, T).train_samples().pairs()
    basin1 = rows[rows[:, 0] == 1, 1]
    assert not np.any((basin1 >= 100) & (basin1 < 100 + T))
    assert np.any(basin1 == 100 + T)


def test_eval_days_and_warmup_check(tiny_store):
    store = open_store(tiny_store, "eval", warmup=T - 1)
    days = WindowSampler(store, T).eval_days()
    assert store.dates[days[0]] == pd.Timestamp("1999-01-01") and store.dates[
        days[-1]
    ] == pd.Timestamp("2000-09-30")
    assert (
        len(days)
        == len(np.unique(days))
        == (pd.Timestamp("2000-09-30") - pd.Timestamp("1999-01-01")).days + 1
    )
    with pytest.raises(DataError, match="warm-up of the first eval day"):
        WindowSampler(open_store(tiny_store, "eval", warmup=400), 400).eval_days()
