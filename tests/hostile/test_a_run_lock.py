"""Defect 3: two trainers on one run directory both exited 0 and mixed their results (config.json
of one, predictions of the other). A trainer now holds RUN_DIR/train.lock; a second one gets one
line naming the holder, and a stale lock (dead pid here, expired lease elsewhere) is taken over."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

from tests.hostile.a_help import one_line
from tests.training.trainhelp import cli_env, rvhpc, train_args


def wait_for(predicate, proc, seconds=240):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None, f"first trainer ended early: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "first trainer did not start training"
        time.sleep(0.2)


def test_second_trainer_refused_then_stale_lock_taken_over(tiny_store, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "rvhpc", *map(str, train_args(tiny_store, out, epochs=200))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        wait_for(lambda: (out / "checkpoints").is_dir(), first)
        holder = json.loads((out / "train.lock").read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        config_before = (out / "config.json").read_text()
        # the case: another seed and epoch count into the same folder
        second = rvhpc(*train_args(tiny_store, out, "--seed", "7", epochs=1))
        one_line(second, 2, f"pid {first.pid}", f"host {socket.gethostname()}", "in use")
        same = rvhpc(*train_args(tiny_store, out, epochs=200))
        one_line(same, 2, f"pid {first.pid}", "in use")
        assert (out / "config.json").read_text() == config_before
        assert not (out / "predictions.parquet").exists()
        first.send_signal(signal.SIGKILL)  # dies holding the lock
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert json.loads((out / "train.lock").read_text())["pid"] == first.pid
    # same host, dead pid: the lock is stale; --force starts a 1-epoch run over
    third = rvhpc(*train_args(tiny_store, out, "--force", epochs=1))
    assert third.returncode == 0, third.stderr
    assert f"took over the lock of pid {first.pid}" in third.stderr
    assert not (out / "train.lock").exists(), "the lock is released at the end"
    assert json.loads((out / "config.json").read_text())["epochs"] == 1


def _plant_lock(out, host, age, lease=300.0):
    out.mkdir(parents=True)
    now = time.time() - age
    lock = {"host": host, "pid": 4242, "token": "x", "started": now, "renewed": now, "lease": lease}
    (out / "train.lock").write_text(json.dumps(lock))


def test_live_lease_on_another_host_refused(tiny_store, tmp_path):
    out = tmp_path / "run"
    _plant_lock(out, "node-elsewhere", age=10)
    proc = rvhpc(*train_args(tiny_store, out, epochs=1))
    one_line(proc, 2, "pid 4242 on host node-elsewhere", "in use")
    assert sorted(p.name for p in out.iterdir()) == ["train.lock"], "nothing written"


def test_expired_lease_on_another_host_taken_over(tiny_store, tmp_path):
    out = tmp_path / "run"
    _plant_lock(out, "node-elsewhere", age=1000)
    proc = rvhpc(*train_args(tiny_store, out, epochs=1))
    assert proc.returncode == 0, proc.stderr
    assert "took over the lock of pid 4242 on host node-elsewhere (its lease expired" in proc.stderr
    assert (out / "DONE").exists() and not (out / "train.lock").exists()


def test_foreign_lock_file_is_not_deleted(tiny_store, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train.lock").write_text("my notes\n")
    proc = rvhpc(*train_args(tiny_store, out, epochs=1))
    one_line(proc, 2, "train.lock", "not an rvhpc lock file")
    assert (out / "train.lock").read_text() == "my notes\n"
