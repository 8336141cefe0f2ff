"""The sample order of an epoch: which training windows, in which order, on which rank.

Epoch ``e`` visits the training samples in a permutation drawn from a ``torch.Generator`` seeded
by (seed, e), cut into global batches of ``batch_size``; rank ``r`` of ``world`` takes the
``r``-th slice of ``batch_size / world`` rows of every global batch. With ``samples_per_epoch``
N below the sample count, the epoch is N distinct samples drawn from a numpy generator seeded by
(seed, e, N) instead, split into batches and ranks the same way. The order is a pure function of
(seed, epoch, N, sample count, world), so a resumed run replays it from any batch.
"""

from __future__ import annotations

import numpy as np
import torch

from rvhpc.jobenv import JobEnv


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across runs and platforms)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def epoch_order(
    n_samples: int, seed: int, epoch: int, samples_per_epoch: int | None = None
) -> np.ndarray:
    """The global sample order of a 1-based epoch: indices into the training samples.

    Parameters
    ----------
    n_samples : int
        Training samples (windows) of the run.
    seed, epoch : int
        The member's init seed and the 1-based epoch: the order is a pure function of them, so
        a resumed run, every DDP rank and every member of a pack draw the same order.
    samples_per_epoch : int | None
        None, or at least ``n_samples``: a permutation of every sample (torch.randperm, the order
        of runs without the option, bit for bit). Fewer: that many distinct samples in random
        order, from numpy's ``Generator.choice(replace=False)``, which draws them by Floyd's
        algorithm in time and memory of the draw, not of ``n_samples`` (0.26 s for 10^6 of
        5.5 * 10^8 windows, where a permutation of all of them would take minutes and 4.4 GB).
        Like torch.randperm's, its stream is fixed for a given library version (numpy may
        change Generator streams in feature releases, NEP 19): pin numpy to rerun a study.

    Returns
    -------
    np.ndarray
        int64 indices, ``min(n_samples, samples_per_epoch)`` of them, distinct.
    """
    if samples_per_epoch is None or samples_per_epoch >= n_samples:
        g = torch.Generator().manual_seed(mix_seed(seed, epoch, 0x5A3D))
        return torch.randperm(n_samples, generator=g).numpy()
    rng = np.random.Generator(np.random.PCG64(mix_seed(seed, epoch, 0x5A3D, samples_per_epoch)))
    return rng.choice(n_samples, size=samples_per_epoch, replace=False).astype(np.int64)


def epoch_plan(
    n_samples: int,
    batch_size: int,
    seed: int,
    epoch: int,
    env: JobEnv,
    samples_per_epoch: int | None = None,
) -> list[np.ndarray]:
    """This rank's sample indices, batch by batch, for a 1-based epoch.

    The global order is :func:`epoch_order` (``samples_per_epoch`` samples, or all); every rank
    computes the same order and takes its slice of each global batch, so the ranks split the
    epoch's samples between them. A last incomplete global batch is split evenly across ranks;
    it is dropped when it holds fewer samples than there are ranks (a rank with an empty batch
    would stall the gradient all-reduce).

    Parameters
    ----------
    n_samples : int
        Training samples of the run.
    batch_size : int
        The global batch (all ranks together).
    seed, epoch : int
        As :func:`epoch_order`.
    env : JobEnv
        This process's rank and the world size.
    samples_per_epoch : int | None
        As :func:`epoch_order`.

    Returns
    -------
    list[np.ndarray]
        One array of indices into the samples per step; every rank gets the same number.
    """
    perm = epoch_order(n_samples, seed, epoch, samples_per_epoch)
    per_rank = batch_size // env.world
    plan = []
    for start in range(0, len(perm), batch_size):
        chunk = perm[start : start + batch_size]
        if len(chunk) == batch_size:
            plan.append(chunk[env.rank * per_rank : (env.rank + 1) * per_rank])
        elif len(chunk) >= env.world:
            plan.append(np.array_split(chunk, env.world)[env.rank])
    return plan


def epoch_size(n_samples: int, samples_per_epoch: int | None) -> int:
    """Windows one epoch trains on: all ``n_samples``, or ``samples_per_epoch`` when fewer (the
    length of :func:`epoch_order`)."""
    return n_samples if samples_per_epoch is None else min(n_samples, samples_per_epoch)


def epoch_size_line(samples_per_epoch: int, n_samples: int) -> str:
    """What ``samples_per_epoch`` does with this run's ``n_samples`` windows, in one line.

    More than there are windows is capped, not refused: a grid shares one ``train:`` section
    across scenarios with fewer windows, and such a cell's epoch is then every window in the
    order of a run without the option (:func:`epoch_order`), which this line says.

    Parameters
    ----------
    samples_per_epoch : int
        The option's value.
    n_samples : int
        The run's training windows.

    Returns
    -------
    str
        The line training logs.
    """
    if samples_per_epoch >= n_samples:
        return (
            f"samples_per_epoch {samples_per_epoch:,} is not below the {n_samples:,} training "
            "windows: each epoch visits every window"
        )
    return (
        f"each epoch draws {samples_per_epoch:,} of the {n_samples:,} training windows "
        "(samples_per_epoch), without replacement"
    )
