"""The epoch loop: sample order, NSE loss, Adam with gradient clipping, and stopping cleanly on
Slurm's signals.

Sample order: epoch ``e`` visits the training samples in a permutation drawn from a
``torch.Generator`` seeded by (seed, e), cut into global batches of ``batch_size``; rank ``r`` of
``world`` takes the ``r``-th slice of ``batch_size / world`` rows of every global batch. Dropout
draws from torch's generator, reseeded by (seed, epoch, rank) at the start of each epoch. So an
epoch is a pure function of the weights at its start, and a resumed run replays it exactly.
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

from rvhpc.errors import ConfigError
from rvhpc.training.distributed import DistEnv, any_rank
from rvhpc.training.evaluate import maybe_task

#: Slurm sends SIGUSR1/SIGUSR2 (``--signal``) before the time limit and SIGTERM on preemption;
#: SIGINT is Ctrl-C at a terminal: the epoch in progress is checkpointed all the same
STOP_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across runs and platforms)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def nse_loss(
    y_hat: torch.Tensor, y: torch.Tensor, q_std: torch.Tensor, eps: float = 0.1
) -> torch.Tensor:
    """Kratzert's NSE* loss: mean of (y_hat - y)^2 / (q_std + eps)^2 (reference.md section 3)."""
    return torch.mean((y_hat - y) ** 2 / (q_std + eps) ** 2)


def epoch_plan(
    n_samples: int, batch_size: int, seed: int, epoch: int, env: DistEnv
) -> list[np.ndarray]:
    """This rank's sample indices, batch by batch, for a 1-based epoch.

    A last incomplete global batch is split evenly across ranks; it is dropped when it holds fewer
    samples than there are ranks (a rank with an empty batch would stall the gradient all-reduce).
    """
    g = torch.Generator().manual_seed(mix_seed(seed, epoch, 0x5A3D))
    perm = torch.randperm(n_samples, generator=g).numpy()
    per_rank = batch_size // env.world
    plan = []
    for start in range(0, n_samples, batch_size):
        chunk = perm[start : start + batch_size]
        if len(chunk) == batch_size:
            plan.append(chunk[env.rank * per_rank : (env.rank + 1) * per_rank])
        elif len(chunk) >= env.world:
            plan.append(np.array_split(chunk, env.world)[env.rank])
    return plan


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
    loss_sum: float
    seconds: float

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / max(1, self.batches_done)


def rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def set_rng_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if device.type == "cuda" and state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


class EpochRunner:
    """Trains one epoch at a time on this rank's share of the samples.

    Parameters
    ----------
    model : nn.Module
        The model, wrapped in DistributedDataParallel when world > 1.
    optimizer : torch.optim.Optimizer
    sampler : WindowSampler
        Training windows; ``batch(rows)`` gives x_d, y, q_std, basin_idx.
    samples : np.ndarray
        [n, 2] training samples (basin_idx, day_idx) of ``sampler.train_samples()``.
    statics : torch.Tensor | None
        [n_basins, d] static vectors on the device (None for the plain LSTM).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        sampler: Any,
        samples: np.ndarray,
        statics: torch.Tensor | None,
        *,
        batch_size: int,
        seed: int,
        clip_norm: float,
        device: torch.device,
        env: DistEnv,
        log_every: int = 50,
    ) -> None:
        self.model, self.optimizer, self.sampler = model, optimizer, sampler
        self.samples, self.statics = samples, statics
        self.batch_size, self.seed, self.clip_norm = batch_size, seed, clip_norm
        self.device, self.env, self.log_every = device, env, log_every

    def n_batches(self, epoch: int) -> int:
        return len(epoch_plan(len(self.samples), self.batch_size, self.seed, epoch, self.env))

    def step(self, rows: np.ndarray) -> float:
        """One optimizer step on the samples ``rows`` (indices into ``samples``)."""
        x_d, y, q_std, basin_idx = self.sampler.batch(self.samples[rows])
        x_d, y, q_std = (t.to(self.device, non_blocking=True) for t in (x_d, y, q_std))
        x_s = None if self.statics is None else self.statics[basin_idx.to(self.statics.device)]
        self.optimizer.zero_grad(set_to_none=True)
        loss = nse_loss(self.model(x_d, x_s), y, q_std)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        return float(loss.detach())

    def run(
        self,
        epoch: int,
        n_epochs: int,
        stop: StopFlag,
        start_batch: int = 0,
        loss_sum: float = 0.0,
        seconds: float = 0.0,
    ) -> EpochResult:
        """Train epoch ``epoch`` from batch ``start_batch``; stop early when ``stop`` is set.

        The caller restores the RNG state of a partial epoch before calling with start_batch > 0.
        """
        if start_batch == 0:
            torch.manual_seed(mix_seed(self.seed, epoch, self.env.rank))
        plan = epoch_plan(len(self.samples), self.batch_size, self.seed, epoch, self.env)
        self.model.train()
        t0 = time.perf_counter() - seconds
        desc = f"epoch {epoch}/{n_epochs}"
        with maybe_task(self.env.is_main, desc, len(plan), self.log_every) as bar:
            if start_batch:
                bar.advance(start_batch, info="(resumed)")
            for k in range(start_batch, len(plan)):
                if any_rank(bool(stop), self.device):
                    return EpochResult(False, k, loss_sum, time.perf_counter() - t0)
                loss_sum += self.step(plan[k])
                bar.advance(1, info=f"loss {loss_sum / (k + 1):.4f}")
        return EpochResult(True, len(plan), loss_sum, time.perf_counter() - t0)


def check_batch_size(batch_size: int, env: DistEnv) -> None:
    """The global batch must split evenly across ranks."""
    if batch_size % env.world:
        lower = batch_size - batch_size % env.world
        raise ConfigError(
            f"--batch-size {batch_size} is the global batch and must be divisible by the "
            f"{env.world} ranks (each rank takes batch / world): use e.g. --batch-size "
            f"{lower or env.world}"
        )
