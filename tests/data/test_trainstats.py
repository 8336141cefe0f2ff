"""The one scaler rule in bounded memory: batch by batch, the same bits as numpy's reductions
over one array holding every training sample (the form the store build used before)."""

from __future__ import annotations

import numpy as np
import pytest

from rvhpc.data import trainstats


def one_array(x: np.ndarray, q: np.ndarray) -> dict:
    """The rule as numpy reductions over all training samples at once."""
    xt, qt = x.astype(np.float64), q.astype(np.float64)
    ok = np.isfinite(qt) & np.isfinite(xt).all(axis=2)
    return dict(
        x_mean=xt[ok].mean(0), x_std=xt[ok].std(0), y_mean=qt[ok].mean(), y_std=qt[ok].std(),
        q_std=np.array([qt[i, ok[i]].std() for i in range(len(q))]),
    )  # fmt: skip


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("shape", [(3, 50), (17, 400), (40, 3000)])
def test_batches_give_numpys_bits(monkeypatch, k, shape):
    rng = np.random.default_rng(k * 1000 + shape[0])
    n, days = shape
    x = (rng.normal(size=(n, days, k)) * 50 + 3).astype(np.float32)
    q = np.exp(rng.normal(size=(n, days))).astype(np.float32)
    q[rng.random((n, days)) < 0.2] = np.nan
    x[rng.random((n, days, k)) < 0.01] = np.nan
    want = one_array(x, q)
    for block, batch in ((128, 1 << 10), (1000, 1 << 16), (1 << 20, 1 << 26)):
        monkeypatch.setattr(trainstats, "BLOCK", block)
        monkeypatch.setattr(trainstats, "BATCH_BYTES", batch)
        got = trainstats.training_scalers(lambda a, b: (x[a:b], q[a:b]), n, days, k)
        for key, value in want.items():
            assert np.array_equal(np.asarray(value), np.asarray(got[key])), (key, block, batch)


@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 1000, 8191, 8193, 100_003])
def test_pairwise_sum_is_numpys(n):
    values = np.random.default_rng(n).normal(size=n) * 10.0 ** np.random.default_rng(n).integers(
        -3, 6, n
    )
    for block, chunk in ((128, 7), (300, 1000), (1 << 20, n)):
        chunks = iter([values[i : i + chunk] for i in range(0, n, chunk)])
        assert trainstats.pairwise_sum(chunks, n, block) == np.add.reduce(values)


def test_a_basin_without_training_samples_is_named():
    x = np.ones((3, 10, 2), np.float32)
    q = np.ones((3, 10), np.float32)
    q[1] = np.nan
    with pytest.raises(trainstats.NoTrainingSamples) as info:
        trainstats.training_scalers(lambda a, b: (x[a:b], q[a:b]), 3, 10, 2)
    assert info.value.index == 1
