"""The epoch loop: NSE loss, Adam with gradient clipping, and stopping cleanly on Slurm's signals.

Sample order: :mod:`rvhpc.training.order` (a pure function of seed and epoch). Dropout draws from
a ``torch.Generator`` of its own per member, reseeded by (seed, epoch, rank) at the start of each
epoch. So an epoch is a pure function of the weights at its start, a resumed run replays it
exactly, and a member of a pack is the run it would have been alone.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from rvhpc import progress
from rvhpc.errors import ConfigError
from rvhpc.jobenv import JobEnv
from rvhpc.training.distributed import any_rank
from rvhpc.training.order import epoch_plan, mix_seed

#: Slurm sends SIGUSR1/SIGUSR2 (``--signal``) before the time limit and SIGTERM on preemption;
#: SIGINT is Ctrl-C at a terminal: the epoch in progress is checkpointed all the same
STOP_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)


def nse_loss(
    y_hat: torch.Tensor, y: torch.Tensor, q_std: torch.Tensor, eps: float = 0.1
) -> torch.Tensor:
    """Kratzert's NSE* loss: mean of (y_hat - y)^2 / (q_std + eps)^2 (reference.md section 3)."""
    return torch.mean((y_hat - y) ** 2 / (q_std + eps) ** 2)


class StopFlag:
    """Set by SIGUSR1/SIGUSR2/SIGTERM/SIGINT; the loop checks it at every batch boundary.

    The handler only records the signal: checkpointing happens in the loop, never in the handler.
    A second Ctrl-C does not wait for the checkpoint: it raises KeyboardInterrupt at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


@dataclass
class EpochResult:
    completed: bool
    batches_done: int
    loss_sums: list[float]  # per member
    seconds: float

    def mean_loss(self, k: int = 0) -> float:
        return self.loss_sums[k] / max(1, self.batches_done)


def member_nse_loss(
    y_hat: torch.Tensor, y: torch.Tensor, q_std: torch.Tensor, eps: float = 0.1
) -> torch.Tensor:
    """NSE* of each member: [K, B] predictions, targets and q_std -> [K] (mean over its batch)."""
    return ((y_hat - y) ** 2 / (q_std + eps) ** 2).mean(1)


class EpochRunner:
    """Trains the K members of a pack one epoch at a time on this rank's share of the samples.

    Member k has its own sample order (``epoch_plan`` with its seed), its own dropout generator
    (seeded by (seed, epoch, rank) at the start of an epoch), its own NSE* loss and its own
    gradient-norm clip; one Adam over the stacked parameters is elementwise, so it is each
    member's own Adam. A single run is K = 1.

    Parameters
    ----------
    model : nn.Module
        The :class:`rvhpc.models.packed.PackedModel`, wrapped in DistributedDataParallel when
        world > 1.
    optimizer : torch.optim.Optimizer
    sampler : WindowSampler
        Training windows; ``batch(rows)`` gives x_d, y, q_std, basin_idx.
    samples : WindowIndex
        The training windows, ``sampler.train_samples()`` (rvhpc/data/windowindex.py):
        ``samples[positions]`` gives their (basin_idx, day_idx) rows.
    statics : torch.Tensor | None
        [K, n_basins, d] static vectors of each member on the device (None for the plain LSTM).
    seeds : list[int]
        The members' seeds.
    device_data : bool | None
        Gather batches on the device from a device copy of the store slice
        (:class:`rvhpc.data.devicebatch.DeviceBatches`); None: on any device but the CPU.
    samples_per_epoch : int | None
        Samples drawn per epoch (:func:`epoch_order`); None: every sample.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        sampler: Any,
        samples: Any,
        statics: torch.Tensor | None,
        *,
        batch_size: int,
        seeds: list[int],
        clip_norm: float,
        dropout: float,
        hidden: int,
        device: torch.device,
        env: JobEnv,
        log_every: int = 50,
        device_data: bool | None = None,
        samples_per_epoch: int | None = None,
    ) -> None:
        self.model, self.optimizer, self.sampler = model, optimizer, sampler
        self.samples, self.statics = samples, statics
        self.samples_per_epoch = samples_per_epoch
        self.batch_size, self.seeds, self.clip_norm = batch_size, list(seeds), clip_norm
        self.dropout, self.hidden = dropout, hidden
        self.device, self.env, self.log_every = device, env, log_every
        self.generators = [torch.Generator(device=device) for _ in self.seeds]
        self.params = [p for p in model.parameters() if p.requires_grad]
        if device_data is None:
            device_data = device.type != "cpu"
        self.device_batches = None
        if device_data:
            from rvhpc.data.devicebatch import DeviceBatches

            self.device_batches = DeviceBatches(sampler, samples, device)

    @property
    def k(self) -> int:
        return len(self.seeds)

    def plan(self, seed: int, epoch: int) -> list[np.ndarray]:
        """Member ``seed``'s batches of this rank in ``epoch`` (:func:`epoch_plan`)."""
        n = len(self.samples)
        return epoch_plan(n, self.batch_size, seed, epoch, self.env, self.samples_per_epoch)

    def n_batches(self, epoch: int) -> int:
        return len(self.plan(self.seeds[0], epoch))

    def seed_dropout(self, epoch: int) -> None:
        for gen, seed in zip(self.generators, self.seeds, strict=True):
            gen.manual_seed(mix_seed(seed, epoch, self.env.rank))

    def _batch(self, rows: np.ndarray | torch.Tensor) -> tuple:
        if self.device_batches is not None:
            if isinstance(rows, np.ndarray):
                rows = torch.from_numpy(rows.astype(np.int64)).to(self.device)
            return self.device_batches.batch(rows)
        return self.sampler.batch(self.samples[rows])

    def step(self, rows: list[np.ndarray] | list[torch.Tensor]) -> torch.Tensor:
        """One optimizer step; ``rows[k]`` are member k's indices into ``samples`` (device
        tensors when batches are gathered on the device). Returns the members' losses [K] on the
        device (no host synchronisation)."""
        from rvhpc.models.base import dropout_masks
        from rvhpc.models.packed import clip_members

        parts = [self._batch(r) for r in rows]
        x_d = torch.stack([p[0] for p in parts]).to(self.device, non_blocking=True)
        y = torch.stack([p[1][:, 0] for p in parts]).to(self.device, non_blocking=True)
        q_std = torch.stack([p[2][:, 0] for p in parts]).to(self.device, non_blocking=True)
        x_s = None
        if self.statics is not None:
            idx = torch.stack([p[3] for p in parts]).to(self.statics.device)
            x_s = torch.stack([self.statics[k][idx[k]] for k in range(self.k)])
        mask = None
        if self.dropout > 0:
            shape = (self.k, x_d.shape[1], self.hidden)
            mask = dropout_masks(self.dropout, shape, x_d, self.generators)
        self.optimizer.zero_grad(set_to_none=True)
        losses = member_nse_loss(self.model(x_d, x_s, mask), y, q_std)
        losses.sum().backward()
        clip_members(self.params, self.clip_norm, self.k)
        self.optimizer.step()
        return losses.detach()

    def run(
        self,
        epoch: int,
        n_epochs: int,
        stop: StopFlag,
        start_batch: int = 0,
        loss_sums: list[float] | None = None,
        seconds: float = 0.0,
    ) -> EpochResult:
        """Train epoch ``epoch`` from batch ``start_batch``; stop early when ``stop`` is set.

        The caller restores the dropout generators of a partial epoch before calling with
        start_batch > 0. Losses accumulate on the device and are read once per log line.
        """
        if start_batch == 0:
            self.seed_dropout(epoch)
        plans = [self.plan(s, epoch) for s in self.seeds]
        if self.device_batches is not None:  # one host-to-device copy per member and epoch
            plans = [self.device_batches.upload_plan(plan) for plan in plans]
        acc = torch.tensor(loss_sums or [0.0] * self.k, dtype=torch.float64, device=self.device)
        self.model.train()
        t0 = time.perf_counter() - seconds
        desc = f"epoch {epoch}/{n_epochs}"
        n_plan = len(plans[0])
        with progress.task(desc, n_plan, self.log_every, show=self.env.is_main) as bar:
            if start_batch:
                bar.advance(start_batch, info="(resumed)")
            for b in range(start_batch, n_plan):
                if any_rank(bool(stop), self.device):
                    return EpochResult(False, b, acc.tolist(), time.perf_counter() - t0)
                acc += self.step([plan[b] for plan in plans]).double()
                info = ""
                if (b + 1) % self.log_every == 0 or b + 1 == n_plan:
                    means = (acc / (b + 1)).tolist()
                    info = "loss " + "/".join(f"{m:.4f}" for m in means)
                bar.advance(1, info=info)
        return EpochResult(True, n_plan, acc.tolist(), time.perf_counter() - t0)


def check_batch_size(batch_size: int, env: JobEnv) -> None:
    """The global batch must split evenly across ranks."""
    if batch_size % env.world:
        lower = batch_size - batch_size % env.world
        raise ConfigError(
            f"--batch-size {batch_size} is the global batch and must be divisible by the "
            f"{env.world} ranks (each rank takes batch / world): use e.g. --batch-size "
            f"{lower or env.world}"
        )
