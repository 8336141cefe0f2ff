"""Issue 10, defect 5: SIGTERM (or Ctrl-C) to ``rvhpc run`` stops its cells and waits for them.

A real ``rvhpc run`` of two cells is signalled while both train; it must forward SIGTERM to the
cells, wait until they checkpointed (exit 75), exit non-zero, and leave no process behind. A rerun
then resumes the cells from their checkpoints and finishes them: nothing trains twice at once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.hpc._gridtools import PYTHON, rvhpc, write_grid

#: enough epochs that both cells are still training when the signal comes, however fast an epoch
#: of the smoke settings is on the machine (a cell that finished first would exit 0, not 75)
EPOCHS = 24


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _session_members(sids: list[int]) -> list[int]:
    """Pids of live processes in any of these sessions (the cells run in their own sessions)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, sid = fields[0], int(fields[3])
        if sid in sids and state != "Z":
            alive.append(int(entry.name))
    return alive


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_run_stops_and_waits_for_its_cells(tmp_path: Path, signum: int) -> None:
    grid = write_grid(
        tmp_path,
        name="sig",
        experiments=[{"arch": "ea", "static": "physics", "seeds": [0, 1]}],
        epochs=EPOCHS,
    )
    runs = tmp_path / "runs" / "sig"
    proc = subprocess.Popen(
        [PYTHON, "-m", "rvhpc", "run", str(grid), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        # both cells are past their first epoch: their signal handlers are installed
        _wait_for(
            lambda: len(list(runs.rglob("epoch_001.pt"))) == 2 or proc.poll() is not None,
            600,
            "both cells to checkpoint epoch 1",
        )
        assert proc.poll() is None, proc.communicate()
        cells = _children(proc.pid)
        assert len(cells) == 2, cells
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, out + err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"stopped by {signal.Signals(signum).name}" in errors[0], err
    assert "2 checkpointed" in out, out
    assert _session_members(cells) == [], "cell processes outlived rvhpc run"
    ends = [
        json.loads(line)
        for path in (runs / ".rvhpc" / "attempts").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(e["code"] for e in ends if e["event"] == "end") == [75, 75], ends
    if signum == signal.SIGTERM:
        # the rerun resumes both cells from their checkpoints and finishes them
        again = rvhpc("run", grid, "--jobs", "2", cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr[-3000:]
        assert "2 cells run, 0 already done, 0 failed" in again.stdout
        assert len(list(runs.rglob("DONE"))) == 2
        for losses in runs.rglob("losses.csv"):  # every epoch once: resumed, not restarted
            epochs = [line.split(",")[0] for line in losses.read_text().splitlines()[1:]]
            assert epochs == [str(e) for e in range(1, EPOCHS + 1)], losses.read_text()
