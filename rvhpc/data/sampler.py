"""Training and evaluation windows drawn by index straight from the store arrays.

The sampler keeps no copy of the series: it gathers a batch of raw float32 windows from
``store.forcing`` (memory-mapped, shared by every process on the node) with one index call and
standardises only that batch, so training holds nothing but the batch (reference.md section 3 for
the sample rules). A store view of some basins (``store.rows``) is read through its row map.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from rvhpc.data.store import BasinStore
from rvhpc.data.windowindex import WindowIndex
from rvhpc.errors import DataError

#: basins whose missing-input counts are computed at once in :meth:`WindowSampler.train_samples`
#: (a multiple of windowindex.BASIN_ALIGN)
_BASINS_PER_PASS = 64


def flat_rows(forcing: np.ndarray) -> tuple[np.ndarray, int]:
    """A [rows, inputs] view of ``forcing`` [basins, days, inputs] (a slice of days of a bigger
    array included) and the row stride of one basin: day d of basin row b is view row
    ``b * stride + d``. No copy unless the inputs of a day are not contiguous."""
    n, days, k = forcing.shape
    item = forcing.dtype.itemsize
    if n == 0 or forcing.strides[2] != item or forcing.strides[1] != k * item:
        forcing = np.ascontiguousarray(forcing)
    stride = forcing.strides[0] // (k * item) if n > 1 else days
    view = np.lib.stride_tricks.as_strided(forcing, ((n - 1) * stride + days, k), (k * item, item))
    return view, int(stride)


class WindowSampler:
    """Windows of ``seq_length`` days ending on a target day (many-to-one).

    Parameters
    ----------
    store : a loaded store (typically ``open_store(path, "train", warmup=seq_length - 1)``)
    seq_length : days per window, the target day included
    """

    def __init__(self, store: BasinStore, seq_length: int = 270) -> None:
        if seq_length < 1:
            raise DataError(f"seq_length must be positive, got {seq_length}")
        self.store = store
        self.seq_length = int(seq_length)
        self._flat, self._stride = flat_rows(store.forcing)  # a view, no copy
        self._rows = store.row_index()
        self._n_days = store.forcing.shape[1]
        self._offsets = np.arange(-self.seq_length + 1, 1, dtype=np.int64)
        self._mean = store.x_mean.astype(np.float32)
        self._inv_std = (1.0 / store.x_std).astype(np.float32)
        self._q_std = store.q_std.astype(np.float32)
        self._flat_t = torch.from_numpy(self._flat)  # shares memory with the store
        self._mean_t, self._inv_std_t = (
            torch.from_numpy(self._mean),
            torch.from_numpy(self._inv_std),
        )

    def _period_days(self, period: tuple) -> np.ndarray:
        dates = self.store.dates
        mask = (dates >= period[0]) & (dates <= period[1])
        return np.flatnonzero(mask).astype(np.int64)

    def train_samples(self) -> WindowIndex:
        """The training windows: training-period days with observed target, complete inputs over
        the window, and a window that starts inside the loaded days.

        A :class:`rvhpc.data.windowindex.WindowIndex` (a bitmap: 0.14 bytes per basin and day,
        where (basin, day) pairs took 8 bytes per window), built ``_BASINS_PER_PASS`` basins at a
        time; ``index[positions]`` gives the int64 [B, 2] (basin index, target day index) rows
        :meth:`batch` takes.

        Returns
        -------
        WindowIndex
        """
        days = self._period_days(self.store.train_period)
        days = days[days >= self.seq_length - 1]
        return WindowIndex.build(len(self._rows), days, self._train_masks(days))

    def _train_masks(self, days: np.ndarray) -> Iterator[np.ndarray]:
        """bool [basins, len(days)] per pass of basins: the window ending on the day is one."""
        if len(days) == 0:
            yield np.zeros((len(self._rows), 0), dtype=bool)
            return
        for rows, complete in self._complete_passes(days):  # a window with a gap is dropped
            yield np.isfinite(self.store.qobs[rows][:, days]) & complete

    def _complete_passes(self, days: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(store rows, bool [rows, len(days)]) per pass of ``_BASINS_PER_PASS`` basins: the
        window ending on the day has every input (a running count of days with a missing one)."""
        for b0 in range(0, len(self._rows), _BASINS_PER_PASS):
            rows = self._rows[b0 : b0 + _BASINS_PER_PASS]
            bad = ~np.isfinite(self.store.forcing[rows]).all(axis=2)
            cum = np.concatenate(
                [np.zeros((bad.shape[0], 1), np.int32), np.cumsum(bad, axis=1, dtype=np.int32)],
                axis=1,
            )
            yield rows, (cum[:, days + 1] - cum[:, days + 1 - self.seq_length]) == 0

    def complete_windows(self, days: np.ndarray) -> np.ndarray:
        """bool [n_basins, len(days)]: the window ending on each day has every input.

        Found with a running count of days with a missing input. Training samples only such
        windows; in evaluation every day is predicted, and a window with a gap gives NaN, which
        is the data's, not the model's (training tells the two apart with this mask).

        Parameters
        ----------
        days : np.ndarray
            Day indices, each >= seq_length - 1.

        Returns
        -------
        np.ndarray
        """
        days = np.asarray(days, dtype=np.int64)
        out = [complete for _, complete in self._complete_passes(days)]
        return np.concatenate(out) if out else np.zeros((0, len(days)), bool)

    def eval_days(self) -> np.ndarray:
        """The day indices of the evaluation period (every day gets a prediction).

        Returns
        -------
        np.ndarray
            int64.

        Raises
        ------
        DataError
            The loaded days hold no eval day, or the first eval day's warm-up reaches before them.
        """
        days = self._period_days(self.store.eval_period)
        if len(days) == 0:
            raise DataError(
                f"{self.store.path}: the loaded days hold no day of the eval period "
                f"{self.store.eval_period[0].date()}..{self.store.eval_period[1].date()}; "
                f"open the store with period='eval'"
            )
        if days[0] - self.seq_length + 1 < 0:
            raise DataError(
                f"{self.store.path}: the {self.seq_length}-day warm-up of the first eval day "
                f"{self.store.dates[days[0]].date()} reaches before the data start "
                f"{self.store.dates[0].date()}; move --eval-start later or shorten seq_length"
            )
        return days

    def windows(self, basin_idx, day_idx) -> torch.Tensor:
        """Standardised inputs of the windows ending on ``day_idx``.

        Parameters
        ----------
        basin_idx, day_idx : array-like of int
            Broadcast together.

        Returns
        -------
        torch.Tensor
            float32 [B, seq_length, inputs].
        """
        basin_idx, day_idx = np.broadcast_arrays(
            np.atleast_1d(np.asarray(basin_idx, dtype=np.int64)),
            np.atleast_1d(np.asarray(day_idx, dtype=np.int64)),
        )
        target = self._rows[basin_idx] * self._stride + day_idx
        rows = target[:, None] + self._offsets[None, :]
        # torch's index_select gathers rows faster than numpy fancy indexing
        x = self._flat_t.index_select(0, torch.from_numpy(rows.reshape(-1)))
        return x.sub_(self._mean_t).mul_(self._inv_std_t).view(len(rows), self.seq_length, -1)

    def batch(
        self, rows: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A training batch for rows of :meth:`train_samples`.

        Parameters
        ----------
        rows : np.ndarray
            [B, 2] (basin index, day index): ``train_samples()[positions]``.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor)
            x_d [B, T, inputs], y [B, 1] standardised, q_std [B, 1], basin_idx [B].
        """
        rows = np.asarray(rows, dtype=np.int64)
        basin_idx, day_idx = rows[:, 0], rows[:, 1]
        x = self.windows(basin_idx, day_idx)
        y = (
            self.store.qobs[self._rows[basin_idx], day_idx].astype(np.float32)
            - np.float32(self.store.y_mean)
        ) / np.float32(self.store.y_std)
        return (
            x,
            torch.from_numpy(y[:, None]),
            torch.from_numpy(self._q_std[basin_idx][:, None]),
            torch.from_numpy(basin_idx.copy()),
        )
