"""The one rule of the training scalers, computed in bounded memory with numpy's exact bits.

The rule (reference.md section 3): the input and output mean and std (ddof=0) over the *training
samples*, the training-period days with observed discharge and complete inputs, basin after basin;
and per basin the std of its raw discharge over its training samples. It was written as numpy
reductions over arrays holding every training sample (``xt[ok].mean(0)``, ``qt[ok].std()``);
the store build and a scenario's view now feed the same samples in batches of basins, and the sums
are taken in numpy's own order, so every scaler keeps its bits (tests/data/test_trainstats.py
checks it against the one-array form, whatever the batch size):

- a 1-D float64 sum in numpy is pairwise (blocks of 8 partial sums up to 128 values, halves above,
  split at a multiple of 8); :func:`pairwise_sum` walks the same tree and lets numpy sum each
  subtree of up to ``block`` values, so only one block is held at a time;
- numpy reduces a [m, k] array along axis 0 row by row when k >= 2 (one column, k = 1, is a 1-D
  sum), so a running row sum continued batch by batch is the same sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: values summed by one numpy call in :func:`pairwise_sum` (a subtree of numpy's own tree)
BLOCK = 1 << 20
#: bytes of float64 training samples converted per batch of basins
BATCH_BYTES = 64 << 20

#: batch getter: (first basin, end basin) -> (inputs [b, days, k], discharge [b, days]), raw
Batches = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


class NoTrainingSamples(Exception):
    """Basin ``index`` has no training sample (no observed discharge with complete inputs)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _split(n: int) -> int:
    half = n // 2
    return half - half % 8


def pairwise_sum(chunks: Iterator[np.ndarray], n: int, block: int | None = None) -> float:
    """numpy's ``np.add.reduce`` of the concatenation of ``chunks`` (``n`` float64 values in all),
    holding at most about ``block`` (default :data:`BLOCK`) values at once."""
    block = BLOCK if block is None else block
    buf: list[np.ndarray] = []
    have = 0

    def take(m: int) -> np.ndarray:
        nonlocal have
        while have < m:
            part = next(chunks)
            buf.append(part)
            have += len(part)
        joined = np.concatenate(buf) if len(buf) > 1 else buf[0]
        buf[:] = [joined[m:]] if len(joined) > m else []
        have -= m
        return joined[:m]

    def node(m: int) -> float:
        if m <= max(block, 128):
            return np.add.reduce(take(m)) if m else np.float64(0.0)
        half = _split(m)
        left = node(half)
        return left + node(m - half)

    return node(n)


def _rows_sum(running: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """numpy's row-by-row sum along axis 0, continued from ``running``."""
    if not len(rows):
        return running
    if running is None:
        return np.add.reduce(rows, axis=0)
    return np.add.reduce(np.concatenate([running[None], rows]), axis=0)


class _Samples:
    """The training samples of all basins, batch by batch, in basin-then-day order."""

    def __init__(self, batches: Batches, n_basins: int, days: int, k: int) -> None:
        self.batches, self.n_basins = batches, n_basins
        self.step = max(1, BATCH_BYTES // max(1, days * (k + 1) * 8))

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(first basin, inputs [m, k], discharge [m] of the samples, ok [b, days], qt [b, days])"""
        for b0 in range(0, self.n_basins, self.step):
            x, q = self.batches(b0, min(self.n_basins, b0 + self.step))
            xt, qt = np.asarray(x, np.float64), np.asarray(q, np.float64)
            ok = np.isfinite(qt) & np.isfinite(xt).all(axis=2)
            yield b0, xt[ok], qt[ok], ok, qt


def training_scalers(batches: Batches, n_basins: int, days: int, k: int) -> dict:
    """x_mean [k], x_std [k], y_mean, y_std and q_std [n_basins] of the training samples.

    Parameters
    ----------
    batches : the raw training-period inputs and discharge of basins [b0, b1)
    n_basins, days, k : basins, training days and inputs

    Raises
    ------
    NoTrainingSamples
        For the first basin without a training sample.
    """
    samples = _Samples(batches, n_basins, days, k)
    n, x_sum, q_std = 0, None, np.empty(n_basins)
    for b0, xs, _, ok, qt in samples:
        counts = ok.sum(axis=1)
        if (counts == 0).any():
            raise NoTrainingSamples(b0 + int(np.flatnonzero(counts == 0)[0]))
        for j in range(len(ok)):
            q_std[b0 + j] = qt[j, ok[j]].std()
        n += int(counts.sum())
        if k > 1:
            x_sum = _rows_sum(x_sum, xs)

    def column(select: Callable, centre: float | np.ndarray | None = None) -> Iterator:
        for _, xs, qs, _, _ in samples:
            values = select(xs, qs)
            if centre is not None:
                values = values - centre
                values = values * values
            yield values

    y_mean = pairwise_sum(column(lambda xs, qs: qs), n) / n
    if k > 1:
        x_mean = x_sum / n
        x_sq = None
        for _, xs, _, _, _ in samples:
            d = xs - x_mean[None, :]
            x_sq = _rows_sum(x_sq, d * d)
        x_std = np.sqrt(x_sq / n)
    else:
        x_mean = np.array([pairwise_sum(column(lambda xs, qs: xs[:, 0]), n) / n])
        sq = pairwise_sum(column(lambda xs, qs: xs[:, 0], x_mean[0]), n)
        x_std = np.sqrt(np.array([sq]) / n)
    y_std = np.sqrt(pairwise_sum(column(lambda xs, qs: qs, y_mean), n) / n)
    return dict(x_mean=x_mean, x_std=x_std, y_mean=float(y_mean), y_std=float(y_std), q_std=q_std)
