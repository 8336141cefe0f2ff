"""Packed training: K members trained as one batched model are, bit for bit, the runs each would
have been alone (CPU, one thread, float32) -- for every architecture, across a SIGKILL and resume,
with paired attr seeds; members do not interact; a partly DONE pack trains only what is missing.
Singles run through the library (one process), packs through the real CLI."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.trainhelp import (
    TINY,
    assert_same_predictions,
    assert_same_weights,
    cli_env,
    rvhpc,
    weights,
)

EPOCHS = 2
ARCH_STATIC = {"ea": "physics", "ct": "physics", "sr": "physics", "fm": "physics", "lstm": "none"}
SEEDS = (0, 1, 2)


def pack_args(store: Path, out: Path, arch: str, *extra: object, tiny=TINY) -> list[object]:
    return [
        "train",
        "--store",
        store,
        "--out",
        out,
        "--epochs",
        EPOCHS,
        "--arch",
        arch,
        "--static",
        ARCH_STATIC[arch],
        *tiny,
        *extra,
    ]


def single(store: Path, out: Path, arch: str, seed: int, **extra) -> Path:
    """One ordinary run through the library (what `rvhpc train --seed S --out OUT` does)."""
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_cell

    config = TrainConfig.create(
        store=Path(store).resolve(),
        arch=arch,
        static=extra.pop("static", ARCH_STATIC[arch]),
        seed=seed,
        epochs=EPOCHS,
        hidden=8,
        seq_length=30,
        batch_size=32,
        threads=1,
        log_every=1,
        **extra,
    )
    assert train_cell(config, out).status == "done"
    return out


@pytest.fixture(scope="module")
def singles(tiny_store, tmp_path_factory) -> dict[tuple[str, int], Path]:
    root = tmp_path_factory.mktemp("singles")
    return {
        (arch, seed): single(tiny_store, root / arch / f"seed{seed}", arch, seed)
        for arch in ARCH_STATIC
        for seed in SEEDS
    }


def assert_same_run(packed: Path, alone: Path) -> None:
    for epoch in range(1, EPOCHS + 1):
        assert_same_weights(weights(packed, epoch), weights(alone, epoch))
    la = pd.read_csv(packed / "losses.csv")
    lb = pd.read_csv(alone / "losses.csv")
    assert la["train_loss"].tolist() == lb["train_loss"].tolist()
    assert_same_predictions(packed, alone)
    assert (packed / "DONE").exists()
    for name in ("config.json", "metrics.csv", "statics.npz"):
        assert (packed / name).exists(), name


def kill_in_epoch_2(args: list[object], out: Path) -> None:
    """Start a packed `rvhpc train`, SIGKILL it as soon as every member has checkpointed epoch 1
    (polling the files: a log pipe read under load can lag far behind the process)."""
    firsts = [out / f"seed{seed}" / "checkpoints" / "epoch_001.pt" for seed in SEEDS]
    with open(out.parent / "killed.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rvhpc", *map(str, args)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=cli_env(),
        )
        deadline = time.monotonic() + 300
        try:
            while not all(f.exists() for f in firsts):
                assert proc.poll() is None, "training ended before it could be killed"
                assert time.monotonic() < deadline, "training did not reach epoch 2"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    for seed in SEEDS:
        assert not (out / f"seed{seed}" / "DONE").exists()
        assert not (out / f"seed{seed}" / f"checkpoints/epoch_{EPOCHS:03d}.pt").exists()


@pytest.mark.parametrize("arch", list(ARCH_STATIC))
def test_packed_members_are_bitwise_their_single_runs_across_a_kill(
    arch, tiny_store, singles, tmp_path
):
    out = tmp_path / "pack"
    args = pack_args(tiny_store, out, arch, "--seeds", ",".join(map(str, SEEDS)))
    out.mkdir()
    kill_in_epoch_2(args, out)
    proc = rvhpc(*args)
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    for seed in SEEDS:
        assert_same_run(out / f"seed{seed}", singles[(arch, seed)])


def test_packed_members_with_samples_per_epoch_are_their_single_runs(tiny_store, tmp_path):
    """Each member draws its own 2,000 windows per epoch (its seed), as it would alone."""
    out = tmp_path / "pack"
    args = pack_args(tiny_store, out, "ea", "--samples-per-epoch", 2000, "--seeds", "0,1,2")
    out.mkdir()
    kill_in_epoch_2(args, out)
    proc = rvhpc(*args)
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr and "each epoch draws 2,000 of the" in proc.stderr
    for seed in SEEDS:
        alone = single(tiny_store, tmp_path / f"alone{seed}", "ea", seed, samples_per_epoch=2000)
        assert_same_run(out / f"seed{seed}", alone)


def test_changing_one_seed_leaves_the_others_unchanged(tiny_store, singles, tmp_path):
    out = tmp_path / "pack"
    proc = rvhpc(*pack_args(tiny_store, out, "ea", "--seeds", "0,5,2"))
    assert proc.returncode == 0, proc.stderr
    assert_same_run(out / "seed0", singles[("ea", 0)])
    assert_same_run(out / "seed2", singles[("ea", 2)])
    a = pd.read_parquet(out / "seed5" / "predictions.parquet")["qsim"].to_numpy()
    b = pd.read_parquet(singles[("ea", 1)] / "predictions.parquet")["qsim"].to_numpy()
    assert not np.array_equal(a, b)


def test_partly_done_pack_trains_only_the_missing_members(tiny_store, singles, tmp_path):
    out = tmp_path / "pack"
    shutil.copytree(singles[("ct", 1)], out / "seed1")
    before = (out / "seed1" / "predictions.parquet").stat().st_mtime_ns
    proc = rvhpc(*pack_args(tiny_store, out, "ct", "--seeds", "0,1,2"))
    assert proc.returncode == 0, proc.stderr
    assert f"{out / 'seed1'}: already done" in proc.stdout
    assert (out / "seed1" / "predictions.parquet").stat().st_mtime_ns == before
    assert_same_run(out / "seed0", singles[("ct", 0)])
    assert_same_run(out / "seed2", singles[("ct", 2)])


def test_paired_attr_seeds_give_each_member_its_own_statics(tiny_store, tmp_path):
    out = tmp_path / "pack"
    gauss = ("--static", "gaussian", "--dim", "4")
    proc = rvhpc(*pack_args(tiny_store, out, "ea", *gauss, "--seeds", "0,1", "--attr-seeds", "3,4"))
    assert proc.returncode == 0, proc.stderr
    for seed, attr in ((0, 3), (1, 4)):
        alone = single(
            tiny_store, tmp_path / f"s{seed}", "ea", seed, static="gaussian", dim=4, attr_seed=attr
        )
        assert_same_run(out / f"seed{seed}", alone)
    with np.load(out / "seed0" / "statics.npz") as a, np.load(out / "seed1" / "statics.npz") as b:
        assert not np.array_equal(a["values"], b["values"])


def test_default_threads_agree_within_1e5(tiny_store, tmp_path):
    """With several threads, each member agrees with its separate run (same threads) to 1e-5."""
    i = TINY.index("--threads")
    tiny = TINY[:i] + TINY[i + 2 :]
    env = cli_env(OMP_NUM_THREADS="2")
    out = tmp_path / "pack"
    # two threads per process oversubscribe a loaded machine badly: generous timeouts
    proc = rvhpc(
        *pack_args(tiny_store, out, "fm", "--seeds", "0,1,2", tiny=tiny), env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    for seed in SEEDS:
        alone = tmp_path / f"alone{seed}"
        proc = rvhpc(
            *pack_args(tiny_store, alone, "fm", "--seed", seed, tiny=tiny), env=env, timeout=900
        )
        assert proc.returncode == 0, proc.stderr
        a = pd.read_parquet(out / f"seed{seed}" / "predictions.parquet")["qsim"].to_numpy()
        b = pd.read_parquet(alone / "predictions.parquet")["qsim"].to_numpy()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_pack_options_are_checked(tiny_store, tmp_path):
    proc = rvhpc(
        *pack_args(tiny_store, tmp_path / "p", "ea", "--seeds", "0,1", "--attr-seeds", "3")
    )
    assert proc.returncode == 2 and "pair them" in proc.stderr
    proc = rvhpc(*pack_args(tiny_store, tmp_path / "p", "ea", "--seeds", "0,x"))
    assert proc.returncode == 2 and "--seeds takes integers" in proc.stderr
    proc = rvhpc(*pack_args(tiny_store, tmp_path / "p", "ea", "--seeds", "1,1"))
    assert proc.returncode == 2 and "own seed" in proc.stderr
    assert not (tmp_path / "p").exists()
