"""wrap_command for real, with bubblewrap standing in for Apptainer: only bound paths are visible.

bwrap is installed by scripts/test.sh; without it these tests fail under CI and skip elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rvhpc.hpc.container import wrap_command
from rvhpc.hpc.profile import ContainerSettings
from rvhpc.resources import builtin_grid

pytestmark = pytest.mark.sandbox
HOST = ContainerSettings(image="host", runtime="bwrap")
TINY = [
    "--arch",
    "lstm",
    "--static",
    "none",
    "--epochs",
    "1",
    "--hidden",
    "8",
    "--seq-length",
    "30",
    "--batch-size",
    "64",
    "--device",
    "cpu",
    "--threads",
    "1",
]


@pytest.fixture(scope="module", autouse=True)
def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs bubblewrap (scripts/test.sh installs it)")
        pytest.skip("bwrap not found: apt-get install bubblewrap")
    return path


def _run(
    argv: list[str], binds: list[Path], cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        wrap_command(argv, HOST, binds), capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture
def dirs(tmp_path):
    """inputs/ with a file, outputs/ empty, secret/ with a file that is never bound."""
    for name in ("inputs", "outputs", "secret"):
        (tmp_path / name).mkdir()
    (tmp_path / "inputs" / "in.txt").write_text("forty-two")
    (tmp_path / "secret" / "key.txt").write_text("hidden")
    return tmp_path


COPY = """
import json, os, sys
src, dst, secret = sys.argv[1:4]
text = open(os.path.join(src, "in.txt")).read()
open(os.path.join(dst, "out.txt"), "w").write(text.upper())
print(json.dumps({"cwd": os.getcwd(), "secret": os.path.exists(secret), "tmp": os.listdir("/tmp"),
                  "pid": os.getpid()}))
"""


def test_bound_dirs_are_readable_and_writable_and_nothing_else_is_visible(dirs):
    proc = _run(
        [
            sys.executable,
            "-c",
            COPY,
            str(dirs / "inputs"),
            str(dirs / "outputs"),
            str(dirs / "secret"),
        ],
        [dirs / "inputs", dirs / "outputs"],
        cwd=dirs / "outputs",
    )
    assert proc.returncode == 0, proc.stderr
    assert (dirs / "outputs" / "out.txt").read_text() == "FORTY-TWO"
    seen = json.loads(proc.stdout)
    assert seen["secret"] is False  # a sibling of the bound dirs is invisible
    assert seen["cwd"] == str(dirs / "outputs")  # the bound current directory is kept
    assert seen["pid"] == 1  # own pid namespace: signals come through the launcher
    # private /tmp: only the mount points of the binds, none of the host's other files
    # (and of the venv / rvhpc source when they themselves live below /tmp, as in a CI clone)
    from rvhpc.hpc.container import host_dirs

    below_tmp = {
        p.parts[2]
        for p in [dirs, *map(Path, host_dirs())]
        if p.parts[1:2] == ("tmp",) and len(p.parts) > 2
    }
    assert sorted(seen["tmp"]) == sorted(below_tmp)


def test_unbound_input_fails(dirs):
    proc = _run(
        [
            sys.executable,
            "-c",
            COPY,
            str(dirs / "inputs"),
            str(dirs / "outputs"),
            str(dirs / "secret"),
        ],
        [dirs / "outputs"],
    )
    assert proc.returncode != 0
    assert "FileNotFoundError" in proc.stderr and "in.txt" in proc.stderr
    assert not (dirs / "outputs" / "out.txt").exists()


def test_unbound_output_never_reaches_the_host(dirs):
    proc = _run(
        [
            sys.executable,
            "-c",
            COPY,
            str(dirs / "inputs"),
            str(dirs / "outputs"),
            str(dirs / "secret"),
        ],
        [dirs / "inputs"],
    )
    assert proc.returncode != 0
    assert "out.txt" in proc.stderr
    assert list((dirs / "outputs").iterdir()) == []


def test_outside_binds_and_tmp_the_sandbox_is_read_only(dirs):
    script = "import os; os.makedirs('/var/rvhpc-probe')"
    proc = _run([sys.executable, "-c", script], [dirs / "outputs"])
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr


SLEEPER = """
import os, signal, sys, time
out = sys.argv[1]
def stop(signum, frame):
    open(os.path.join(out, "signal"), "w").write(str(signum))
    sys.exit(7)
signal.signal(signal.SIGUSR1, stop)
open(os.path.join(out, "ready"), "w").write("1")
time.sleep(120)
"""


def test_signals_reach_the_sandboxed_command(dirs):
    """Slurm's time-limit signal must reach the training (to checkpoint), as with apptainer exec."""
    proc = subprocess.Popen(
        wrap_command(
            [sys.executable, "-c", SLEEPER, str(dirs / "outputs")], HOST, [dirs / "outputs"]
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120  # a wait for readiness, not a timing assertion
    while not (dirs / "outputs" / "ready").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the sandboxed command never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=120) == 7, proc.stderr.read()
    assert (dirs / "outputs" / "signal").read_text() == str(int(signal.SIGUSR1))


# --- the real entry points: rvhpc cell (what an array task runs) and rvhpc train -----------------


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The shipped smoke grid, cut to two cheap cells (lstm, 1 epoch, seeds 0 and 1), in a folder
    with a space in its name; its data prepared and its manifest written. Returns (grid,
    manifest)."""
    import yaml

    from rvhpc import progress
    from rvhpc.data.ensure import ensure_data
    from rvhpc.grid.expand import load_grid
    from rvhpc.grid.manifest import data_plan, write_manifest

    progress.set_quiet(True)
    folder = tmp_path_factory.mktemp("smoke grid")
    spec = yaml.safe_load(builtin_grid("smoke").read_text())
    spec["train"]["epochs"] = spec["train"]["lr_late_epoch"] = 1
    spec["experiments"] = [{"arch": "lstm", "static": "none", "seeds": [0, 1]}]
    (folder / "smoke.yaml").write_text(yaml.safe_dump(spec))
    grid = load_grid(folder / "smoke.yaml")
    ensure_data(data_plan(grid))
    return grid, write_manifest(grid)


def _cell(manifest: Path, index: int, binds: list[Path]) -> subprocess.CompletedProcess:
    return _run(
        [sys.executable, "-m", "rvhpc", "-q", "cell", str(manifest), "--index", str(index)], binds
    )


def test_array_task_runs_its_cell_in_the_sandbox(smoke):
    grid, manifest = smoke
    cell = grid.cells[0]
    proc = _cell(manifest, cell.index, [grid.runs_dir])
    assert proc.returncode == 0, proc.stderr
    assert (cell.run_dir / "DONE").is_file()
    assert (cell.run_dir / "metrics.csv").read_text().count("\n") > 1


def test_array_task_without_its_run_dir_bound_leaves_nothing_on_the_host(smoke):
    from rvhpc.hpc.array_task import attempts_file, read_attempts

    grid, manifest = smoke
    cell = grid.cells[1]
    # the manifest, the attempt log and the store are visible; the runs of the cells are not, so
    # the training can only write to the sandbox's private /tmp, which vanishes with it
    proc = _cell(manifest, cell.index, [grid.state_dir, grid.store.parent])
    assert not cell.run_dir.exists(), proc.stderr
    # the attempt log is bound: the cell did train to the end in there
    events = read_attempts(attempts_file(manifest, cell))
    assert [e["event"] for e in events] == ["start", "end"] and events[-1][
        "code"
    ] == proc.returncode == 0


def _train(store: Path, out: Path, binds: list[Path]) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "rvhpc",
        "-q",
        "train",
        "--store",
        str(store),
        "--out",
        str(out),
        *TINY,
    ]
    return _run(argv, binds)


def test_training_cell_in_the_sandbox_writes_the_same_results_as_bare(tiny_store, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    proc = _train(tiny_store, runs / "sandboxed", [tiny_store.parent, runs])
    assert proc.returncode == 0, proc.stderr
    sandboxed = runs / "sandboxed"
    assert (sandboxed / "DONE").is_file() and (sandboxed / "predictions.parquet").is_file()
    bare = subprocess.run(
        [
            sys.executable,
            "-m",
            "rvhpc",
            "-q",
            "train",
            "--store",
            str(tiny_store),
            "--out",
            str(runs / "bare"),
            *TINY,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bare.returncode == 0, bare.stderr
    assert (sandboxed / "metrics.csv").read_bytes() == (runs / "bare" / "metrics.csv").read_bytes()


def test_training_cell_without_the_store_bound_fails_with_one_line(tiny_store, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    proc = _train(tiny_store, runs / "cell", [runs])
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(tiny_store) in lines[0], (
        proc.stderr
    )
    assert not (runs / "cell" / "DONE").exists()
