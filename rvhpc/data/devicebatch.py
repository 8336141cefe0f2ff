"""The training store and the window gather on the device: a GPU step then never waits for the
host to gather, standardise and upload a batch.

:class:`DeviceBatches` holds the raw forcing, the targets and the scalers of the loaded training
slice as device tensors (the paper's 531 basins over 9 years and a 270-day warm-up are about
40 MB) and the training windows' index (rvhpc/data/windowindex.py, a bitmap of about 0.14 bytes
per basin and day: 0.25 MB for the paper, where (basin, day) pairs took 16 bytes per window on
the device, 28 MB; a batch finds its windows in it on the device). An epoch's plan goes up in one
copy per member (:meth:`DeviceBatches.upload_plan`); a batch is then a select in the index, an
``index_select`` and two in-place ops on the device, the same operations in the same order as
:meth:`rvhpc.data.sampler.WindowSampler.batch`, so on the CPU both give the same bits
(tests/training/test_devicebatch.py).
"""

from __future__ import annotations

import numpy as np
import torch

from rvhpc.data.sampler import WindowSampler
from rvhpc.data.windowindex import WindowIndex


class DeviceBatches:
    """Training batches gathered on ``device`` from a copy of the sampler's store slice.

    Parameters
    ----------
    sampler : WindowSampler
        The host sampler whose store slice and scalers are copied.
    samples : WindowIndex
        The training windows (``sampler.train_samples()``).
    device : torch.device
    """

    def __init__(self, sampler: WindowSampler, samples: WindowIndex, device: torch.device) -> None:
        store = sampler.store
        self.device = device
        self.seq_length = sampler.seq_length
        forcing, qobs = store.series()  # the view's basins, in order (one copy when a subset)
        self._n_days = forcing.shape[1]
        flat = np.ascontiguousarray(forcing, dtype=np.float32).reshape(-1, forcing.shape[2])
        self._flat = torch.from_numpy(flat).to(device)
        self._mean, self._inv_std = sampler._mean_t.to(device), sampler._inv_std_t.to(device)
        self._qobs = torch.from_numpy(np.ascontiguousarray(qobs, dtype=np.float32).reshape(-1))
        self._qobs = self._qobs.to(device)
        self._q_std = torch.from_numpy(sampler._q_std).to(device)
        self._y_mean = torch.tensor(np.float32(store.y_mean), device=device)
        self._y_std = torch.tensor(np.float32(store.y_std), device=device)
        self._offsets = torch.from_numpy(sampler._offsets).to(device)
        self._samples = samples.on_device(device)

    def upload_plan(self, plan: list[np.ndarray]) -> list[torch.Tensor]:
        """An epoch's batches of sample indices as device tensors, in one host-to-device copy."""
        if not plan:
            return []
        flat = torch.from_numpy(np.concatenate(plan).astype(np.int64)).to(self.device)
        return list(flat.split([len(rows) for rows in plan]))

    def batch(
        self, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_d [B, T, inputs], y [B, 1] standardised, q_std [B, 1], basin_idx [B]) on the device
        for ``rows`` (device indices into the samples), as :meth:`WindowSampler.batch`."""
        picked = self._samples.take(rows)
        basin_idx, day_idx = picked[:, 0], picked[:, 1]
        target = basin_idx * self._n_days + day_idx
        window = (target[:, None] + self._offsets[None, :]).reshape(-1)
        x = self._flat.index_select(0, window)
        x = x.sub_(self._mean).mul_(self._inv_std).view(len(rows), self.seq_length, -1)
        y = (self._qobs.index_select(0, target) - self._y_mean) / self._y_std
        q_std = self._q_std.index_select(0, basin_idx)
        return x, y[:, None], q_std[:, None], basin_idx
