"""Pieces without a training run: config, distributed environment, sample order, checkpoints."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from rvhpc.atomic import atomic_path
from rvhpc.errors import ConfigError, RunDirError
from rvhpc.jobenv import JobEnv, first_host, thread_count
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.loop import nse_loss
from rvhpc.training.order import epoch_order, epoch_plan, epoch_size_line


def test_config_defaults_are_the_papers(tmp_path):
    c = TrainConfig.create(store=tmp_path / "s.h5")
    assert (c.arch, c.static, c.epochs, c.hidden, c.batch_size, c.seq_length) == (
        "ea",
        "physics",
        20,
        256,
        256,
        270,
    )
    assert (c.lr, c.lr_late, c.dropout, c.clip_norm, c.initial_forget_bias) == (
        1e-3,
        5e-4,
        0.4,
        1.0,
        5.0,
    )
    assert [c.lr_for_epoch(e) for e in (1, 10, 11, 20)] == [1e-3, 1e-3, 5e-4, 5e-4]
    assert c.experiment == "EP"
    assert TrainConfig.create(store="s", static="gaussian", dim=64).experiment == "EG-64"


@pytest.mark.parametrize(
    "values,words",
    [
        ({"arch": "gru"}, "gru"),
        ({"static": "gaussian"}, "--dim"),
        ({"static": "mixed", "dim": 0}, "dim: Input should be greater than or equal to 1"),
        ({"lr": -1}, "lr"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_config_errors_are_one_line(values, words):
    with pytest.raises(ConfigError) as err:
        TrainConfig.create(store="s.h5", **values)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_mixed_needs_room_for_a_draw_beyond_the_datas_descriptors():
    """The width of mixed vectors is checked against the descriptors of the data: CAMELS US's 27
    where a grid names its data, the store's when a run opens it (tests/training/test_bad_input.py
    runs `rvhpc train --static mixed --dim 20` on a CAMELS store: refused before anything is
    written); a config alone does not know them."""
    from rvhpc.experiments import check_cell

    with pytest.raises(ConfigError, match=">= 28") as err:
        check_cell("ea", "mixed", 27, n_descriptors=27)
    assert "27 descriptors" in str(err.value)
    check_cell("ea", "mixed", 22, n_descriptors=21)  # Caravan's 21 default descriptors
    assert TrainConfig.create(store="s.h5", static="mixed", dim=22).dim == 22


def test_dist_env_from_torchrun_and_slurm():
    assert not JobEnv.from_environ({}).distributed
    env = JobEnv.from_environ(
        {
            "RANK": "1",
            "WORLD_SIZE": "4",
            "LOCAL_RANK": "1",
            "MASTER_ADDR": "h",
            "MASTER_PORT": "1234",
        }
    )
    assert (env.rank, env.world, env.local_rank, env.master_addr, env.master_port) == (
        1,
        4,
        1,
        "h",
        1234,
    )
    assert env.from_torchrun
    slurm = {
        "SLURM_PROCID": "3",
        "SLURM_NTASKS": "4",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_ID": "123456",
        "SLURM_JOB_NODELIST": "localhost",
    }
    env = JobEnv.from_environ(slurm)
    assert (env.rank, env.world, env.local_rank) == (3, 4, 1)
    assert (env.master_addr, env.master_port) == ("localhost", 20000 + 123456 % 20000)
    assert not env.from_torchrun
    assert JobEnv.from_environ({**slurm, "MASTER_PORT": "29999"}).master_port == 29999
    assert not JobEnv.from_environ({**slurm, "SLURM_NTASKS": "1"}).distributed  # one task: no DDP


def test_first_host_of_a_node_list():
    assert first_host("node7") == "node7"
    if shutil.which("scontrol"):
        assert first_host("gpu[03-05,09]") == "gpu03"
    else:
        with pytest.raises(ConfigError):
            first_host("gpu[03-05,09]")


def test_thread_count():
    assert thread_count(3, {"SLURM_CPUS_PER_TASK": "8"}) == 3
    assert thread_count(None, {"SLURM_CPUS_PER_TASK": "8", "OMP_NUM_THREADS": "2"}) == 8
    assert thread_count(None, {"OMP_NUM_THREADS": "2"}) == 2
    assert thread_count(None, {}) is None


def test_epoch_plan_ranks_split_the_global_batches():
    n, batch = 103, 8
    single = epoch_plan(n, batch, seed=4, epoch=2, env=JobEnv())
    assert sorted(np.concatenate(single).tolist()) == list(range(n))  # every sample once
    assert [len(b) for b in single] == [8] * 12 + [7]
    ranks = [epoch_plan(n, batch, seed=4, epoch=2, env=JobEnv(rank=r, world=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 13
    for k in range(13):  # rank 0 + rank 1 = the single-process global batch
        np.testing.assert_array_equal(np.concatenate([ranks[0][k], ranks[1][k]]), single[k])
    assert all(len(b) == 4 for b in ranks[0][:12])
    again = epoch_plan(n, batch, seed=4, epoch=2, env=JobEnv())
    assert all(np.array_equal(a, b) for a, b in zip(single, again, strict=False))
    other = epoch_plan(n, batch, seed=4, epoch=3, env=JobEnv())
    assert not all(np.array_equal(a, b) for a, b in zip(single, other, strict=False))
    # a last global batch smaller than the world is dropped, so no rank gets an empty batch
    assert len(epoch_plan(17, 8, 0, 1, JobEnv(rank=2, world=4))) == 2


def test_samples_per_epoch_draws_n_distinct_windows_reproducibly():
    n, draw = 10_000, 1_000
    order = epoch_order(n, seed=4, epoch=2, samples_per_epoch=draw)
    assert len(order) == draw and len(set(order.tolist())) == draw
    assert order.dtype == np.int64 and 0 <= order.min() and order.max() < n
    np.testing.assert_array_equal(order, epoch_order(n, 4, 2, draw))  # from the seed alone
    for other in (epoch_order(n, 4, 3, draw), epoch_order(n, 5, 2, draw)):  # epoch, seed
        assert len(set(order.tolist()) & set(other.tolist())) < draw // 2
    # N at or above the window count: every window, the order of a run without the option
    for big in (n, n + 1):
        np.testing.assert_array_equal(epoch_order(n, 4, 2, big), epoch_order(n, 4, 2))
    assert sorted(epoch_order(n, 4, 2).tolist()) == list(range(n))


def test_samples_per_epoch_is_split_across_ranks():
    n, batch, draw = 1_000, 8, 203
    single = epoch_plan(n, batch, seed=4, epoch=2, env=JobEnv(), samples_per_epoch=draw)
    assert [len(b) for b in single] == [8] * 25 + [3]
    flat = np.concatenate(single)
    np.testing.assert_array_equal(flat, epoch_order(n, 4, 2, draw))
    ranks = [
        epoch_plan(n, batch, 4, 2, JobEnv(rank=r, world=2), samples_per_epoch=draw)
        for r in range(2)
    ]
    assert len(ranks[0]) == len(ranks[1]) == 26  # the same number of steps on every rank
    for k in range(26):  # rank 0 + rank 1 = the single-process global batch: one draw of N
        np.testing.assert_array_equal(np.concatenate([ranks[0][k], ranks[1][k]]), single[k])


def test_samples_per_epoch_identity_and_line(tmp_path):
    default = TrainConfig.create(store=tmp_path / "s.h5")
    assert "samples_per_epoch" not in default.identity()  # cell ids of earlier grids stay
    drawn = TrainConfig.create(store=tmp_path / "s.h5", samples_per_epoch=500)
    # a run dir recorded without the key was trained on every window: another run than a draw
    recorded = {k: v for k, v in default.identity().items()}
    assert drawn.differences(recorded) == [("samples_per_epoch", None, 500)]
    assert default.differences(recorded) == []
    assert drawn.identity()["samples_per_epoch"] == 500
    with pytest.raises(ConfigError, match="samples_per_epoch"):
        TrainConfig.create(store=tmp_path / "s.h5", samples_per_epoch=0)
    assert epoch_size_line(500, 2904) == (
        "each epoch draws 500 of the 2,904 training windows (samples_per_epoch), without "
        "replacement"
    )
    assert "each epoch visits every window" in epoch_size_line(5000, 2904)


def test_nse_loss_formula():
    y_hat, y = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [0.0]])
    q_std = torch.tensor([[0.9], [1.9]])
    assert nse_loss(y_hat, y, q_std).item() == pytest.approx((1 / 1.0 + 4 / 4.0) / 2)


def test_checkpoints_atomic_and_latest(tmp_path):
    d = tmp_path / "checkpoints"
    assert ckpt_io.latest(d) is None
    state = dict(model={"w": torch.ones(2)}, optimizer={}, torch_rng=[torch.get_rng_state()])
    ckpt_io.save(d, ckpt_io.Checkpoint(epoch=1, batches_done=-1, **state))
    ckpt_io.save(d, ckpt_io.Checkpoint(epoch=2, batches_done=5, **state))
    assert ckpt_io.complete_epochs(d) == [1]
    partial = ckpt_io.latest(d)
    assert partial.epoch == 2 and partial.batches_done == 5 and not partial.complete
    ckpt_io.save(d, ckpt_io.Checkpoint(epoch=2, batches_done=-1, **state))
    assert ckpt_io.complete_epochs(d) == [1, 2] and not (d / "partial.pt").exists()
    assert ckpt_io.latest(d).complete
    with pytest.raises(RunDirError, match="--epoch 4 is out of range"):
        ckpt_io.load_epoch(d, 4)
    assert sorted(os.listdir(d)) == ["epoch_001.pt", "epoch_002.pt"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert os.listdir(tmp_path) == []


def test_tune_cpu_allocator_applies_on_glibc():
    import subprocess
    import sys

    code = "from rvhpc.training.runtime import tune_cpu_allocator as t; print(t())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"
