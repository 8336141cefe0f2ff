"""The training windows as a bitmap (rvhpc/data/windowindex.py): the same windows in the same order
as the int32 [n, 2] pairs it replaced, so every run keeps its bits, at a fraction of the memory
(tests/training/test_train.py pins the predictions of a real ``rvhpc train`` run as well)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks.bench_window_index import baseline_pairs
from rvhpc.data import sampler as sampler_module
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.select import training_view
from rvhpc.data.store import open_store
from rvhpc.data.windowindex import BLOCK_BYTES, WindowIndex
from rvhpc.jobenv import JobEnv
from rvhpc.models import build_model
from rvhpc.models.packed import PackedModel
from rvhpc.training.bench import synthetic_store
from rvhpc.training.loop import EpochRunner, StopFlag

T = 30


# the training samples as rvhpc built them before the index (house at 12be168): int32 [n, 2]
# (basin index, target day index), basins in passes of 64; the benchmark measures against it too
old_pairs = baseline_pairs


def assert_same_windows(index: WindowIndex, pairs: np.ndarray) -> None:
    """The index lists exactly ``pairs``, whichever way it is read."""
    assert len(index) == len(pairs)
    np.testing.assert_array_equal(index.pairs(), pairs)
    rng = np.random.default_rng(len(pairs))
    for positions in (
        np.arange(len(pairs)),
        rng.permutation(len(pairs)),
        rng.integers(0, len(pairs), 7),
    ):
        got = index[positions]
        assert got.dtype == np.int64 and got.shape == (len(positions), 2)
        np.testing.assert_array_equal(got, pairs[positions])
    np.testing.assert_array_equal(index[[-1, -len(pairs)]], pairs[[-1, 0]])
    np.testing.assert_array_equal(index[3], pairs[3])
    positions = rng.permutation(len(pairs))
    moved = index.on_device(torch.device("cpu")).take(torch.from_numpy(positions))  # DeviceBatches
    np.testing.assert_array_equal(moved.numpy(), pairs[positions])


def gappy_store(n_basins: int, seed: int):
    """An in-memory store with missing forcing days, runs of them, missing discharge, a basin
    without any discharge and one without any complete input."""
    store = synthetic_store(n_basins=n_basins, train_days=400, seq_length=T, seed=seed)
    rng = np.random.default_rng(seed)
    days = store.forcing.shape[1]
    store.forcing[rng.random((n_basins, days)) < 0.004, rng.integers(0, 5)] = np.nan
    store.forcing[1, 100:160, 0] = np.nan
    store.forcing[2, :, 3] = np.nan
    store.qobs[rng.random((n_basins, days)) < 0.15] = np.nan
    store.qobs[3] = np.nan
    return store


@pytest.mark.parametrize("n_basins, per_pass", [(37, 8), (150, 64), (9, 64), (5, 8)])
def test_the_index_is_the_old_pairs_on_gappy_data(monkeypatch, n_basins, per_pass):
    monkeypatch.setattr(sampler_module, "_BASINS_PER_PASS", per_pass)
    sampler = WindowSampler(gappy_store(n_basins, seed=n_basins), T)
    pairs = old_pairs(sampler)
    assert 0 < len(pairs) < n_basins * 400  # the gaps are dropped
    assert_same_windows(sampler.train_samples(), pairs)


@pytest.mark.parametrize("fixture", ["tiny_store", "caravan_store"])
def test_the_index_is_the_old_pairs_on_stores_and_views(request, fixture):
    store = open_store(request.getfixturevalue(fixture), period="train", warmup=T - 1)
    store.forcing[1, 100, 2] = np.nan  # a missing forcing day besides the data's own gaps
    sampler = WindowSampler(store, T)
    assert_same_windows(sampler.train_samples(), old_pairs(sampler))
    lo, hi = store.train_period
    config = SimpleNamespace(
        basins=[store.basins[3], store.basins[0], store.basins[2]],  # a scenario's subset
        train_period=(str((lo + (hi - lo) / 3).date()), str((hi - (hi - lo) / 4).date())),
    )
    view = training_view(store, config)
    assert view.rows is not None and view.train_period != store.train_period
    sampler = WindowSampler(view, T)
    pairs = old_pairs(sampler)
    assert 0 < len(pairs) < len(old_pairs(WindowSampler(store, T)))
    assert_same_windows(sampler.train_samples(), pairs)


def test_empty_indexes_and_bad_positions(tiny_store):
    store = open_store(tiny_store, period="train", warmup=T - 1)
    # a window longer than the loaded days: no candidate day, no window
    empty = WindowSampler(store, store.forcing.shape[1] + 1).train_samples()
    assert len(empty) == 0 and empty.pairs().shape == (0, 2) and empty[[]].shape == (0, 2)
    index = WindowSampler(store, T).train_samples()
    with pytest.raises(IndexError):
        index[[len(index)]]
    with pytest.raises(IndexError):
        index[[-len(index) - 1]]
    with pytest.raises(TypeError):
        index[np.array([0.5])]


def test_memory_is_the_bitmap_and_its_block_counts(tiny_store):
    store = open_store(tiny_store, period="train", warmup=T - 1)
    index = WindowSampler(store, T).train_samples()
    n_basins, n_days = len(store.basins), index.n_days
    assert index.nbytes == WindowIndex.footprint(n_basins, n_days)
    blocks = -(-n_basins * n_days // (8 * BLOCK_BYTES))
    assert WindowIndex.footprint(n_basins, n_days) == blocks * 64 + 8 * (blocks + 1) + 8 * n_days
    # 1.125 bits per (basin, day) and the day list: Caravan's 22,000 basins x 70 years in 79 MB,
    # where the int32 pairs took 8 bytes per window (4 GB at 90 % of the days)
    days = 70 * 365 + 17
    full = WindowIndex.footprint(22_000, days)
    assert 1.125 < full * 8 / (22_000 * days) < 1.13
    assert full < 80e6 and 0.9 * 22_000 * days * 8 > 4e9


def _one_epoch(sampler, samples, env=None, **options) -> dict[str, torch.Tensor]:
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(build_model("ea", n_dynamic=5, n_static=4, hidden=8))
    pack = PackedModel(models)
    statics = torch.randn(
        2, len(sampler.store.basins), 4, generator=torch.Generator().manual_seed(0)
    )
    runner = EpochRunner(
        pack, torch.optim.Adam(pack.parameters(), lr=1e-2), sampler, samples, statics,
        batch_size=32, seeds=[0, 1], clip_norm=1.0, dropout=0.4, hidden=8,
        device=torch.device("cpu"), env=env or JobEnv(), **options,
    )  # fmt: skip
    result = runner.run(1, 1, StopFlag())
    assert result.completed and result.batches_done >= 3
    return {name: p.detach().clone() for name, p in pack.stacked().items()}


@pytest.mark.parametrize(
    "options",
    [{}, {"samples_per_epoch": 100}, {"device_data": True}],
    ids=["every-window", "samples-per-epoch", "device-gather"],
)
def test_training_on_the_index_gives_the_weights_of_the_pairs(tiny_store, options):
    store = open_store(tiny_store, period="train", warmup=T - 1)
    config = SimpleNamespace(basins=store.basins[2::-2], train_period=("2002-05-01", "2002-09-30"))
    sampler = WindowSampler(training_view(store, config), T)  # 2 basins, 5 months: 8 batches
    host = {k: v for k, v in options.items() if k != "device_data"}
    on_pairs = _one_epoch(sampler, old_pairs(sampler), **host)  # the host gather of before
    on_index = _one_epoch(sampler, sampler.train_samples(), **options)
    for name, value in on_pairs.items():
        assert torch.equal(value, on_index[name]), name
