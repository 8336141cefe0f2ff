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

from rvhpc.errors import ConfigError
from rvhpc.jobenv import JobEnv, resolve_device, thread_count
from rvhpc.models.packed import PackedModel
from rvhpc.numerics import entered
from rvhpc.training.loop import EpochRunner
from rvhpc.training.optimizer import adam


def synthetic_store(
    n_basins: int = 32, train_days: int = 730, seq_length: int = 270, seed: int = 0
) -> Any:
    """An in-memory BasinStore with random forcing and discharge (nothing is written).

    Parameters
    ----------
    n_basins, train_days : int
        Its size: training days after the ``seq_length - 1`` days of warm-up.
    seq_length : int
        The window the store serves.
    seed : int
        Seed of the random values.

    Returns
    -------
    BasinStore
    """
    from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
    from rvhpc.data.store import BasinStore

    rng = np.random.default_rng(seed)
    n_days = train_days + seq_length - 1
    dates = pd.date_range("2000-01-01", periods=n_days, freq="D")
    forcing = rng.gamma(2.0, 2.0, size=(n_basins, n_days, len(DYNAMIC_INPUTS))).astype(np.float32)
    qobs = rng.gamma(1.5, 1.0, size=(n_basins, n_days)).astype(np.float32)
    period = (dates[seq_length - 1], dates[-1])
    return BasinStore(
        path=Path("<synthetic>"),
        basins=[f"{i:08d}" for i in range(n_basins)],
        dates=dates,
        forcing=forcing,
        qobs=qobs,
        descriptors=rng.normal(size=(n_basins, len(DESCRIPTORS))),
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
        inputs=list(DYNAMIC_INPUTS),
        descriptor_names=list(DESCRIPTORS),
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BenchPack:
    """A pack of ``members`` models of one arch on a synthetic (or given) store, with its
    optimizer and one fixed batch of rows per member: :meth:`step` is one training step of
    ``rvhpc train``, timed. Shared by :func:`measure` (``rvhpc bench``) and the work estimate's
    probe (:mod:`rvhpc.training.probe`).

    Parameters
    ----------
    arch : str
        Architecture.
    members : int
        K, the members trained together (1: a single run).
    n_static : int
        Width of the static vectors (ignored for ``lstm``).
    hidden, batch_size, seq_length : int
        The training shape.
    device : torch.device
        Where to train.
    data : BasinStore
        The store the batches are gathered from.
    seed : int
        Seed of the weights, the vectors and the rows.

    Raises
    ------
    ConfigError
        The step would need more memory than is available (data/footprint.py).
    """

    def __init__(
        self,
        arch: str,
        members: int,
        n_static: int,
        hidden: int,
        batch_size: int,
        seq_length: int,
        device: torch.device,
        data: Any,
        seed: int = 0,
    ) -> None:
        from rvhpc.data.footprint import check_step_memory
        from rvhpc.data.sampler import WindowSampler
        from rvhpc.training.factory import model_for

        self.n_static = 0 if arch == "lstm" else n_static
        self.members, self.batch_size, self.device = members, batch_size, device
        shape = {"hidden": hidden, "batch_size": batch_size, "seq_length": seq_length}
        check_step_memory(arch, members, self.n_static, len(data.basins), device, **shape)
        self.sampler = WindowSampler(data, seq_length=seq_length)
        self.samples = self.sampler.train_samples()
        if len(self.samples) == 0:
            raise ConfigError(f"{data.path}: no training samples for --seq-length {seq_length}")
        models = []
        for k in range(members):
            torch.manual_seed(seed + k)
            models.append(model_for(data, arch, self.n_static, hidden=hidden))
        self.pack = PackedModel(models).to(device)
        gen = torch.Generator().manual_seed(seed)
        statics = None
        if self.n_static:
            statics = torch.randn(members, len(data.basins), self.n_static, generator=gen)
            statics = statics.to(device)
        optimizer = adam(self.pack.parameters(), 1e-3, entered(), device)
        self.runner = EpochRunner(
            self.pack, optimizer, self.sampler, self.samples, statics,
            batch_size=batch_size, seeds=[seed + k for k in range(members)], clip_norm=1.0,
            dropout=0.4, hidden=hidden, device=device, env=JobEnv(),
        )  # fmt: skip
        self.runner.seed_dropout(1)
        rng = np.random.default_rng(seed)
        self.rows = [rng.integers(0, len(self.samples), size=batch_size) for _ in range(members)]
        self.pack.train()

    def step(self, rows: list[np.ndarray] | None = None) -> float:
        """Seconds of one training step (on ``rows``, default the fixed batch)."""
        _sync(self.device)
        t0 = time.perf_counter()
        self.runner.step(self.rows if rows is None else rows)
        _sync(self.device)
        return time.perf_counter() - t0


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

    Parameters
    ----------
    arch, hidden, batch_size, seq_length, members, n_static : the shape measured
    steps, warmup : timed steps, after untimed ones
    device, threads : where to run (``auto``: the GPU when there is one)
    store : a store to gather batches from (default: synthetic data in memory)
    seed : seed of the weights, vectors and batches

    Returns
    -------
    dict
        arch, hidden, batch_size, seq_length, steps, device, threads, store, members, n_static,
        samples_per_s (all members), samples_per_s_per_member, seconds_per_step,
        data_seconds_per_step, data_fraction, numerics, kernels (rvhpc.kernels.record).

    Raises
    ------
    ConfigError
        An unknown arch, a value below 1, or a shape that does not fit into memory.

    ``numerics``: the mode to measure in (rvhpc.numerics.ensure); None measures the process as
    it is (benchmarks that set the kernel path themselves).
    """
    from rvhpc import kernels
    from rvhpc import numerics as kernel_path
    from rvhpc.data.store import open_store
    from rvhpc.experiments import archs

    if numerics is not None:
        kernel_path.ensure(numerics)
    if arch not in archs():
        raise ConfigError(f"unknown --arch {arch!r}: choose one of {', '.join(archs())}")
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
    bench = BenchPack(arch, members, n_static, hidden, batch_size, seq_length, dev, data, seed)
    rng = np.random.default_rng(seed)
    batches = [
        [rng.integers(0, len(bench.samples), size=batch_size) for _ in range(members)]
        for _ in range(warmup + steps)
    ]
    for rows in batches[:warmup]:
        bench.step(rows)
    step_s = sum(bench.step(rows) for rows in batches[warmup:]) / steps
    t0 = time.perf_counter()
    for rows in batches[warmup:]:
        for r in rows:
            x_d, y, q, b = bench.sampler.batch(bench.samples[r])
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
        "n_static": bench.n_static,
        "samples_per_s": members * batch_size / step_s,
        "samples_per_s_per_member": batch_size / step_s,
        "seconds_per_step": step_s,
        "data_seconds_per_step": data_s,
        "data_fraction": min(1.0, data_s / step_s),
        "torch": torch.__version__,
        "numerics": numerics or kernel_path.entered(),
        "kernels": kernels.record(dev, numerics or kernel_path.entered()),
    }
