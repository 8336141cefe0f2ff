"""Bad input through the real CLI: one line on stderr, a non-zero exit, nothing written."""

from __future__ import annotations

import shutil

import h5py
import pytest

from tests.training.trainhelp import cli_env, rvhpc, train_args


def assert_one_line_error(proc, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--arch", "transformer"], ["transformer", "ea, ct"]),
        (["--static", "fancy"], ["fancy", "physics"]),
        (["--static", "gaussian"], ["--dim"]),
        (["--static", "mixed", "--dim", "20"], ["--dim must be >= 28", "20"]),
        (["--arch", "lstm", "--static", "physics"], ["lstm"]),
        (["--epochs", "0"], ["epochs"]),
    ],
)
def test_bad_training_options(tiny_store, tmp_path, extra, words):
    out = tmp_path / "run"
    assert_one_line_error(rvhpc(*train_args(tiny_store, out, *extra)), *words)
    assert not out.exists()


def test_missing_store(tmp_path):
    out = tmp_path / "run"
    assert_one_line_error(
        rvhpc(*train_args(tmp_path / "nope.h5", out)), "nope.h5", "rvhpc data prepare"
    )
    assert not out.exists()


def test_store_of_another_format_version(tiny_store, tmp_path):
    old = tmp_path / "old.h5"
    shutil.copy(tiny_store, old)
    with h5py.File(old, "r+") as f:
        f.attrs["format_version"] = 999
    out = tmp_path / "run"
    assert_one_line_error(rvhpc(*train_args(old, out)), "old.h5", "999", "rvhpc data prepare")
    assert not out.exists()


def test_global_batch_must_divide_across_ranks(tiny_store, tmp_path):
    out = tmp_path / "run"
    env = cli_env(
        RANK="0", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="1"
    )
    proc = rvhpc(*train_args(tiny_store, out, "--batch-size", 33), env=env)
    assert_one_line_error(proc, "--batch-size 33", "divisible", "2 ranks")
    assert not out.exists()


@pytest.mark.parametrize("epoch", [0, 3, 99])
def test_evaluate_epoch_out_of_range(trained_run, tmp_path, epoch):
    out = tmp_path / "eval"
    assert_one_line_error(
        rvhpc("evaluate", trained_run, "--epoch", epoch, "--out", out), f"--epoch {epoch}", "1..2"
    )
    assert not out.exists() and not (trained_run / "evaluation").exists()


def test_evaluate_bad_reference_weights(tiny_store, tmp_path):
    out = tmp_path / "eval"
    proc = rvhpc(
        "evaluate",
        "--reference-weights",
        tmp_path / "missing.pt",
        "--store",
        tiny_store,
        "--arch",
        "ea",
        "--static",
        "one_hot",
        "--out",
        out,
    )
    assert_one_line_error(proc, "missing.pt")
    proc = rvhpc(
        "evaluate",
        "--reference-weights",
        tmp_path / "missing.pt",
        "--store",
        tiny_store,
        "--static",
        "physics",
    )
    assert_one_line_error(proc, "--arch", "--out")
    proc = rvhpc("evaluate", tmp_path / "not_a_run")
    assert_one_line_error(proc, "not_a_run")
    assert not out.exists()


def test_bench_bad_arch():
    assert_one_line_error(rvhpc("bench", "--arch", "gru", "--steps", 1), "gru")


def test_eval_warmup_before_data_start_fails_before_training(tiny_store, tmp_path):
    out = tmp_path / "run"
    proc = rvhpc(
        "train",
        "--store",
        tiny_store,
        "--out",
        out,
        "--hidden",
        8,
        "--seq-length",
        400,
        "--epochs",
        1,
    )
    assert_one_line_error(proc, "warm-up")
    assert not out.exists()
