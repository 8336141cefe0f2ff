"""The store and the window gather on the device (issue 12): batches gathered by DeviceBatches
are bit for bit the host sampler's, and an epoch trained on them gives the same weights. Run on
the CPU here; on a GPU the same code keeps every step free of host gathers and uploads."""

from __future__ import annotations

import numpy as np
import torch

from rvhpc.data.devicebatch import DeviceBatches
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
from rvhpc.jobenv import JobEnv
from rvhpc.models import build_model
from rvhpc.models.packed import PackedModel
from rvhpc.training.loop import EpochRunner, StopFlag

SEQ = 30


def _sampler(tiny_store) -> tuple[WindowSampler, np.ndarray]:
    sampler = WindowSampler(open_store(tiny_store, period="train", warmup=SEQ - 1), SEQ)
    return sampler, sampler.train_samples()


def test_device_batches_are_the_host_batches(tiny_store):
    sampler, samples = _sampler(tiny_store)
    device = DeviceBatches(sampler, samples, torch.device("cpu"))
    rng = np.random.default_rng(0)
    for size in (1, 7, 64):
        rows = rng.integers(0, len(samples), size=size)
        host = sampler.batch(samples[rows])
        ours = device.batch(torch.from_numpy(rows))
        for name, a, b in zip(("x_d", "y", "q_std", "basin"), host, ours, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert torch.equal(a, b), name


def test_upload_plan_keeps_every_batch(tiny_store):
    sampler, samples = _sampler(tiny_store)
    device = DeviceBatches(sampler, samples, torch.device("cpu"))
    plan = [np.arange(5), np.arange(5, 12), np.array([3])]
    uploaded = device.upload_plan(plan)
    assert [t.tolist() for t in uploaded] == [p.tolist() for p in plan]
    assert device.upload_plan([]) == []


def _train_one_epoch(tiny_store, device_data: bool) -> dict[str, torch.Tensor]:
    sampler, samples = _sampler(tiny_store)
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(build_model("ea", n_dynamic=5, n_static=4, hidden=8))
    pack = PackedModel(models)
    statics = torch.randn(
        2, len(sampler.store.basins), 4, generator=torch.Generator().manual_seed(0)
    )
    runner = EpochRunner(
        pack,
        torch.optim.Adam(pack.parameters(), lr=1e-2),
        sampler,
        samples,
        statics,
        batch_size=32,
        seeds=[0, 1],
        clip_norm=1.0,
        dropout=0.4,
        hidden=8,
        device=torch.device("cpu"),
        env=JobEnv(),
        device_data=device_data,
    )
    assert (runner.device_batches is not None) == device_data
    result = runner.run(1, 1, StopFlag())
    assert result.completed and result.batches_done > 2
    return {name: p.detach().clone() for name, p in pack.stacked().items()}


def test_an_epoch_on_device_batches_trains_the_same_weights(tiny_store):
    host, device = _train_one_epoch(tiny_store, False), _train_one_epoch(tiny_store, True)
    for name, value in host.items():
        assert torch.equal(value, device[name]), name
