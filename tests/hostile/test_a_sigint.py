"""Defect 12 (second half): Ctrl-C lost the epoch in progress, whereas SIGTERM and SIGUSR1 saved a
partial checkpoint. SIGINT now checkpoints the same way, then exits 130 with one line."""

from __future__ import annotations

import signal

import torch

from tests.training.test_resume import EPOCHS, start_and_signal_in_epoch_2
from tests.training.trainhelp import rvhpc, train_args


def test_ctrl_c_saves_partial_checkpoint_and_resumes(tiny_store, tmp_path):
    out = tmp_path / "run"
    code, stderr = start_and_signal_in_epoch_2(tiny_store, out, signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert (
        len(errors) == 1 and "interrupted (Ctrl-C)" in errors[0] and "rerun to resume" in errors[0]
    )
    partial = out / "checkpoints" / "partial.pt"
    state = torch.load(partial, weights_only=True)
    assert state["epoch"] == 2 and state["batches_done"] >= 1
    assert not (out / "train.lock").exists(), "the lock is released on Ctrl-C"
    proc = rvhpc(*train_args(tiny_store, out, epochs=EPOCHS))
    assert proc.returncode == 0, proc.stderr
    assert f"at epoch 2, batch {state['batches_done']}" in proc.stderr
