"""Kill and signal a real training process mid-epoch, resume it, and get bit-identical weights and
predictions to an uninterrupted run (CPU, one thread)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.training.trainhelp import (
    assert_same_predictions,
    assert_same_weights,
    cli_env,
    rvhpc,
    train_args,
    weights,
)

EPOCHS = 3


@pytest.fixture(scope="module")
def uninterrupted(tiny_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    proc = rvhpc(*train_args(tiny_store, out, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    return out


def start_and_signal_in_epoch_2(
    store: Path, out: Path, signum: int, *extra: object
) -> tuple[int, str]:
    """Start ``rvhpc train``, send ``signum`` once epoch 1 is checkpointed and epoch 2 has begun."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rvhpc", *map(str, train_args(store, out, *extra, epochs=EPOCHS))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    seen = []
    deadline = time.monotonic() + 300
    try:
        for line in proc.stderr:
            seen.append(line)
            if f"epoch 2/{EPOCHS}: 1/" in line:
                assert (out / "checkpoints" / "epoch_001.pt").exists()
                proc.send_signal(signum)
                break
            assert time.monotonic() < deadline, "training did not reach epoch 2"
        rest_out, rest_err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(seen) + rest_err


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tiny_store, uninterrupted, tmp_path):
    out = tmp_path / "run"
    code, _ = start_and_signal_in_epoch_2(tiny_store, out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (out / "DONE").exists()
    assert not (out / f"checkpoints/epoch_{EPOCHS:03d}.pt").exists(), (
        "the kill came too late to test a resume"
    )

    proc = rvhpc(*train_args(tiny_store, out, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    for epoch in range(1, EPOCHS + 1):
        assert_same_weights(weights(out, epoch), weights(uninterrupted, epoch))
    assert_same_predictions(out, uninterrupted)


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM])
def test_slurm_signal_checkpoints_exits_75_and_resumes_exactly(
    tiny_store, uninterrupted, tmp_path, signum
):
    out = tmp_path / "run"
    code, stderr = start_and_signal_in_epoch_2(tiny_store, out, signum)
    assert code == 75, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rerun to resume" in errors[0] and "Traceback" not in stderr
    assert not (out / "DONE").exists()
    partial = out / "checkpoints" / "partial.pt"
    assert partial.exists(), "a signal inside epoch 2 leaves a mid-epoch checkpoint"
    state = torch.load(partial, weights_only=True)
    assert state["epoch"] == 2 and state["batches_done"] >= 1

    proc = rvhpc(*train_args(tiny_store, out, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    assert f"at epoch 2, batch {state['batches_done']}" in proc.stderr
    assert not partial.exists()
    for epoch in range(1, EPOCHS + 1):
        assert_same_weights(weights(out, epoch), weights(uninterrupted, epoch))
    assert_same_predictions(out, uninterrupted)


#: an epoch of 2,000 of the tiny store's ~2,800 windows: 63 batches of 32
DRAW = ("--samples-per-epoch", 2000)
DRAW_BATCHES = 63


@pytest.fixture(scope="module")
def uninterrupted_drawn(tiny_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted_drawn") / "run"
    proc = rvhpc(*train_args(tiny_store, out, *DRAW, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    assert "each epoch draws 2,000 of the" in proc.stderr
    for epoch in range(1, EPOCHS + 1):
        assert f"epoch {epoch}/{EPOCHS}: {DRAW_BATCHES}/{DRAW_BATCHES} loss" in proc.stderr
    return out


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGUSR1])
def test_samples_per_epoch_resumes_mid_epoch_bit_identical(
    tiny_store, uninterrupted, uninterrupted_drawn, tmp_path, signum
):
    out = tmp_path / "run"
    code, stderr = start_and_signal_in_epoch_2(tiny_store, out, signum, *DRAW)
    assert not (out / "DONE").exists()
    assert not (out / f"checkpoints/epoch_{EPOCHS:03d}.pt").exists()
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        # the run dir holds a run of 2,000 windows per epoch: resuming it with every window is
        # refused, not mixed
        other = rvhpc(*train_args(tiny_store, out, epochs=EPOCHS))
        assert other.returncode == 2 and "samples_per_epoch 2000 -> (unset)" in other.stderr
    else:
        assert code == 75, stderr
        state = torch.load(out / "checkpoints" / "partial.pt", weights_only=True)
        assert state["epoch"] == 2 and 1 <= state["batches_done"] < DRAW_BATCHES

    proc = rvhpc(*train_args(tiny_store, out, *DRAW, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    for epoch in range(1, EPOCHS + 1):
        assert_same_weights(weights(out, epoch), weights(uninterrupted_drawn, epoch))
    assert_same_predictions(out, uninterrupted_drawn)
    # and the draw is in effect: not the run that visits every window
    every = weights(uninterrupted, 1)
    assert any(not torch.equal(a, every[k]) for k, a in weights(out, 1).items())
