"""Training throughput on this machine (``rvhpc bench``; the grid's work estimate calls
:func:`measure`).

A timed step is exactly a training step of ``rvhpc train``: the sampler gathers and standardises a
batch of windows from the in-memory store, then forward, NSE loss, backward, gradient clip and
Adam step. Without a store the data are a synthetic in-memory store of the same layout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rvhpc.jobenv import JobEnv, resolve_device, thread_count
from rvhpc.models.packed import PackedModel
from rvhpc.training.loop import EpochRunner


def synthetic_store(
    n_basins: int = 32, train_days: int = 730, seq_length: int = 270, seed: int = 0
) -> Any:
    """An in-memory BasinStore with random forcing and discharge (nothing is written)."""
    from rvhpc.data.store import BasinStore

    rng = np.random.default_rng(seed)
    n_days = train_days + seq_length - 1
    dates = pd.date_range("2000-01-01", periods=n_days, freq="D")
    forcing = rng.gamma(2.0, 2.0, size=(n_basins, n_days, 5)).astype(np.float32)
    qobs = rng.gamma(1.5, 1.0, size=(n_basins, n_days)).astype(np.float32)
    period = (dates[seq_length - 1], dates[-1])
    return BasinStore(
        path=Path("<synthetic>"),
        basins=[f"{i:08d}" for i in range(n_basins)],
        dates=dates,
        forcing=forcing,
        qobs=qobs,
        descriptors=rng.normal(size=(n_basins, 27)),
        area_m2=np.full(n_basins, 1e8),
        train_period=period,
        eval_period=period,
        x_mean=forcing.mean(axis=(0, 1)).astype(np.float64),
        x_std=forcing.std(axis=(0, 1)).astype(np.float64),
        y_mean=float(qobs.mean()),
        y_std=float(qobs.std()),
        q_std=qobs.std(axis=1).astype(np.float64),
        provenance={"synthetic": True},
        fingerprint="synthetic",
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    arch: str = "ea",
    hidden: int = 256,
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 2,
    seq_length: int = 270,
    device: str = "auto",
    store: Path | None = None,
    threads: int | None = None,
    n_static: int = 27,
    seed: int = 0,
    members: int = 1,
    numerics: str | None = None,
) -> dict[str, Any]:
    """Training samples per second of a pack of ``members`` (aggregate and per member), data
    loading included; members = 1 is a single run.

    Returns
    -------
    dict
        arch, hidden, batch_size, seq_length, steps, device, threads, store, members, n_static,
        samples_per_s (all members), samples_per_s_per_member, seconds_per_step,
        data_seconds_per_step, data_fraction, numerics, kernels (rvhpc.kernels.record).

    ``numerics``: the mode to measure in (rvhpc.numerics.ensure); None measures the process as
    it is (benchmarks that set the kernel path themselves).
    """
    from rvhpc import kernels
    from rvhpc import numerics as kernel_path
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.store import open_store
    from rvhpc.errors import ConfigError
    from rvhpc.experiments import ARCHS
    from rvhpc.models import build_model

    if numerics is not None:
        kernel_path.ensure(numerics)

    if arch not in ARCHS:
        raise ConfigError(f"unknown --arch {arch!r}: choose one of {', '.join(ARCHS)}")
    for name, value in (
        ("--hidden", hidden),
        ("--batch-size", batch_size),
        ("--steps", steps),
        ("--seq-length", seq_length),
        ("--members", members),
    ):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    n_threads = thread_count(threads)
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    dev = resolve_device(device, JobEnv())
    data = (
        open_store(store, period="train", warmup=seq_length - 1)
        if store is not None
        else synthetic_store(seq_length=seq_length, seed=seed)
    )
    sampler = WindowSampler(data, seq_length=seq_length)
    samples = sampler.train_samples()
    if len(samples) == 0:
        raise ConfigError(f"{store}: no training samples for --seq-length {seq_length}")
    n_stat = 0 if arch == "lstm" else n_static
    models = []
    for k in range(members):
        torch.manual_seed(seed + k)
        models.append(build_model(arch, n_dynamic=5, n_static=n_stat, hidden=hidden))
    pack = PackedModel(models).to(dev)
    gen = torch.Generator().manual_seed(seed)
    statics = (
        None
        if n_stat == 0
        else torch.randn(members, len(data.basins), n_stat, generator=gen).to(dev)
    )
    optimizer = torch.optim.Adam(pack.parameters(), lr=1e-3)
    runner = EpochRunner(
        pack,
        optimizer,
        sampler,
        samples,
        statics,
        batch_size=batch_size,
        seeds=[seed + k for k in range(members)],
        clip_norm=1.0,
        dropout=0.4,
        hidden=hidden,
        device=dev,
        env=JobEnv(),
    )
    runner.seed_dropout(1)
    rng = np.random.default_rng(seed)
    batches = [
        [rng.integers(0, len(samples), size=batch_size) for _ in range(members)]
        for _ in range(warmup + steps)
    ]
    pack.train()
    for rows in batches[:warmup]:
        runner.step(rows)
    _sync(dev)
    t0 = time.perf_counter()
    for rows in batches[warmup:]:
        runner.step(rows)
    _sync(dev)
    step_s = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for rows in batches[warmup:]:
        for r in rows:
            x_d, y, q, b = sampler.batch(samples[r])
            x_d.to(dev), y.to(dev), q.to(dev)
    _sync(dev)
    data_s = (time.perf_counter() - t0) / steps
    return {
        "arch": arch,
        "hidden": hidden,
        "batch_size": batch_size,
        "seq_length": seq_length,
        "steps": steps,
        "device": str(dev),
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "store": str(store) if store is not None else "synthetic",
        "members": members,
        "n_static": n_stat,
        "samples_per_s": members * batch_size / step_s,
        "samples_per_s_per_member": batch_size / step_s,
        "seconds_per_step": step_s,
        "data_seconds_per_step": data_s,
        "data_fraction": min(1.0, data_s / step_s),
        "torch": torch.__version__,
        "numerics": numerics or kernel_path.entered(),
        "kernels": kernels.record(dev, numerics or kernel_path.entered()),
    }
