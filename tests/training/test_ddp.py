"""Two-process DistributedDataParallel on the CPU (gloo): under torchrun and under the real Slurm
(``srun -n 2`` inside ``sbatch``). Exactly one complete result, written by rank 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from rvhpc.evaluation.metrics import METRIC_NAMES
from tests.training.trainhelp import run_tree, train_args

TORCHRUN = Path(sys.executable).with_name("torchrun")
N_EVAL_DAYS = len(pd.date_range("1999-01-01", "2000-09-30", freq="D"))


def assert_one_complete_result(run: Path, epochs: int = 2) -> None:
    assert (run / "DONE").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        f"epoch_{e:03d}.pt" for e in range(1, epochs + 1)
    ]
    losses = pd.read_csv(run / "losses.csv")
    assert list(losses["epoch"]) == list(range(1, epochs + 1))
    pred = pd.read_parquet(run / "predictions.parquet")
    assert len(pred) == 4 * N_EVAL_DAYS and not pred.duplicated(["basin", "date"]).any()
    assert pred["basin"].nunique() == 4 and pred["qsim"].notna().all() and (pred["qsim"] >= 0).all()
    metrics = pd.read_csv(run / "metrics.csv", dtype={"basin": str})
    assert list(metrics.columns) == ["basin", *METRIC_NAMES] and len(metrics) == 4
    assert json.loads((run / "config.json").read_text())["batch_size"] == 32
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    # every rank's kernel path is recorded, each in the default (portable) numerics it entered
    (session,) = json.loads((run / "provenance.json").read_text())["sessions"]
    assert [r["numerics"] for r in session["ranks"]] == ["portable", "portable"]
    assert {r["capability"] for r in session["ranks"]} == {"AVX2"}


def test_torchrun_two_ranks_gloo(tiny_store, tmp_path):
    run = tmp_path / "run"
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "rvhpc",
        *map(str, train_args(tiny_store, run)),
    ]
    proc = run_tree(cmd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP: 2 ranks, gloo via env://, 16 samples per rank and step" in proc.stderr
    assert proc.stdout.count("done, median NSE") == 1  # rank 0 reports, rank 1 stays silent
    assert proc.stderr.count("epoch 1/2: train loss") == 1
    assert_one_complete_result(run)


def test_srun_two_ranks_in_sbatch(slurm_cluster, tiny_store, tmp_path):
    run = tmp_path / "run"
    log = tmp_path / "slurm.out"
    argv = " ".join(
        f"'{a}'" for a in [sys.executable, "-m", "rvhpc", *map(str, train_args(tiny_store, run))]
    )
    script = tmp_path / "ddp.sbatch"
    script.write_text(
        "#!/bin/bash\n#SBATCH --ntasks=2\n#SBATCH --cpus-per-task=1\n#SBATCH --time=10\n"
        f"#SBATCH --output={log}\nsrun --ntasks=2 {argv}\n"
    )
    proc = run_tree(
        ["sbatch", "--wait", "--parsable", "--partition=debug", str(script)],
        timeout=900,
        cwd=tmp_path,
    )
    output = log.read_text() if log.exists() else ""
    assert proc.returncode == 0, f"{proc.stderr}\n{output[-3000:]}"
    job_id = int(proc.stdout.strip().split(";")[0])
    assert f"DDP: 2 ranks, gloo via tcp://localhost:{20000 + job_id % 20000}" in output, output[
        -3000:
    ]
    # only rank 0 logs and writes: one line per epoch and one result line
    assert output.count("epoch 1/2: train loss") == 1 and output.count("over 4 basins") == 1
    assert_one_complete_result(run)


def test_torchrun_ranks_split_samples_per_epoch(tiny_store, tmp_path):
    """Two ranks split one draw of N windows per epoch: the CLI run takes 63 steps of 16 windows
    per rank (2,000 / 32 rounded up; a rank that ignored N would take 90 and its all-reduce would
    not line up), and in a real gloo group the ranks' plans, built as training builds them, are
    the two halves of every global batch of the one-process draw."""
    draw = ("--samples-per-epoch", 2000)
    run = tmp_path / "run"
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2"]
    proc = run_tree([*cmd, "-m", "rvhpc", *map(str, train_args(tiny_store, run, *draw))])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP: 2 ranks, gloo via env://, 16 samples per rank and step" in proc.stderr
    assert "each epoch draws 2,000 of the" in proc.stderr
    assert "epoch 1/2: 63/63 loss" in proc.stderr and "epoch 2/2: 63/63 loss" in proc.stderr
    assert_one_complete_result(run)

    script = tmp_path / "plans.py"
    script.write_text(SPLIT_CHECK)
    proc = run_tree([*cmd, str(script), str(tiny_store), str(tmp_path / "ok")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ok").read_text() == "2 ranks, 63 steps, 2000 distinct windows"


SPLIT_CHECK = """
import sys
from pathlib import Path

import numpy as np
import torch

from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
from rvhpc.jobenv import JobEnv
from rvhpc.training.distributed import ProcessGroup, all_gather_objects
from rvhpc.training.order import epoch_order, epoch_plan

env = JobEnv.from_environ()
n = len(WindowSampler(open_store(sys.argv[1], period="train", warmup=29), 30).train_samples())
with ProcessGroup(env, torch.device("cpu")):
    plans = all_gather_objects(epoch_plan(n, 32, 0, 2, env, samples_per_epoch=2000))
if env.rank == 0:
    one = epoch_plan(n, 32, 0, 2, JobEnv(), samples_per_epoch=2000)
    assert len(plans) == 2 and len(plans[0]) == len(plans[1]) == len(one) == 63
    for k, batch in enumerate(one):
        np.testing.assert_array_equal(np.concatenate([plans[0][k], plans[1][k]]), batch)
    seen = set(np.concatenate([np.concatenate(p) for p in plans]).tolist())
    assert seen == set(epoch_order(n, 0, 2, 2000).tolist())
    Path(sys.argv[2]).write_text(f"2 ranks, {len(one)} steps, {len(seen)} distinct windows")
"""
