"""Batch-script rendering: golden file, array splitting, quoting, and the rendered script run by
bash."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rvhpc.errors import ConfigError
from rvhpc.hpc import sbatch
from rvhpc.hpc.profile import SiteProfile
from rvhpc.resources import builtin_grid, profiles_dir

GOLDEN = Path(__file__).parent / "data" / "array_golden.sbatch"
WEIRD = "we ird'\"$(touch PWN1);`touch PWN2`; touch PWN3 $HOME"


def _render(profile: SiteProfile, runs: Path, offset: int = 0, array: str = "0-4%2") -> str:
    manifest = runs / ".rvhpc" / "manifests" / "g-0123456789ab.json"
    command = sbatch.cell_command(profile, manifest, offset, [runs])
    return sbatch.render(
        profile,
        job_name="rvhpc-g",
        array=array,
        log_file=runs / "logs" / "g" / "g_%A_%a.log",
        workdir=runs,
        command=command,
    )


def test_array_spec_and_chunks() -> None:
    assert sbatch.array_spec([0, 1, 2, 3, 4], 2) == "0-4%2"
    assert sbatch.array_spec([4, 0, 2, 3], None) == "0,2-4"
    assert sbatch.chunk(list(range(12)), 5) == [
        (0, [0, 1, 2, 3, 4]),
        (5, [0, 1, 2, 3, 4]),
        (10, [0, 1]),
    ]
    assert sbatch.chunk([1, 7, 8], 5) == [(0, [1]), (5, [2, 3])]
    for _offset, ids in sbatch.chunk(list(range(23)), 5):
        assert max(ids) < 5


def test_golden_script() -> None:
    profile = SiteProfile(
        name="site",
        partition="gpu",
        account="hydro",
        qos="normal",
        time_limit="04:00:00",
        cpus_per_task=8,
        mem_gb=32,
        gpus_per_node=1,
        modules=["cuda/12.1"],
        python="/opt/rvhpc/bin/python",
        signal_seconds=300,
        max_requeues=3,
        extra_sbatch=["--constraint=a100"],
    )
    text = _render(profile, Path("/scratch/runs"), offset=5)
    assert text == GOLDEN.read_text()


def test_multi_gpu_cells_launch_ddp_through_srun() -> None:
    profile = SiteProfile(nodes=2, gpus_per_node=4, python="/usr/bin/python3")
    text = _render(profile, Path("/runs"))
    assert "#SBATCH --ntasks-per-node=4" in text and "#SBATCH --gpus-per-node=4" in text
    assert (
        "srun --kill-on-bad-exit=1 --ntasks-per-node=4 --nodes=2 /usr/bin/python3 -m rvhpc cell"
        in text
    )
    assert "export MASTER_ADDR=" in text and "SLURM_JOB_ID % 20000" in text
    assert 'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"' in text


def test_skip_and_always_present_directives() -> None:
    text = _render(SiteProfile(skip_sbatch=["--mem"]), Path("/runs"))
    assert "--mem" not in text
    for needed in (
        "--signal=B:USR1@300",
        "--requeue",
        "--open-mode=append",
        "--array=0-4%2",
        "_%A_%a.log",
    ):
        assert needed in text


def test_line_breaks_in_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="line break"):
        _render(SiteProfile(partition="debug\nrm -rf /"), Path("/runs"))


def _fake_python(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fake = folder / "python"
    fake.write_text("#!/bin/bash\n" + body)
    fake.chmod(0o755)
    return fake


def _weird_profile(weird: Path, body: str, **extra) -> SiteProfile:
    return SiteProfile(
        partition=WEIRD,
        account=WEIRD,
        qos=WEIRD,
        modules=[WEIRD],
        cpus_per_task=1,
        python=str(_fake_python(weird / "bin", body)),
        **extra,
    )


def test_no_value_injects_shell(tmp_path: Path) -> None:
    weird = tmp_path / WEIRD
    out = tmp_path / "argv.bin"
    profile = _weird_profile(weird, f'printf \'%s\\0\' "$0" "$@" > {shlex.quote(str(out))}\n')
    script = weird / "job.sbatch"
    script.write_text(_render(profile, weird / "runs", offset=5))
    for line in script.read_text().splitlines():
        if line.startswith("#SBATCH "):  # every directive is one shell word
            assert len(shlex.split(line[len("#SBATCH ") :])) == 1, line
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "2", "SLURM_JOB_ID": "1"}
    proc = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    argv = out.read_bytes().decode().split("\0")[:-1]
    manifest = weird / "runs" / ".rvhpc" / "manifests" / "g-0123456789ab.json"
    assert argv == [profile.python, "-m", "rvhpc", "cell", str(manifest), "--offset", "5"]
    pwned = [p for p in tmp_path.rglob("PWN*")] + [p for p in Path.cwd().glob("PWN*")]
    assert not pwned


def test_sbatch_accepts_quoted_directives(tmp_path: Path, slurm_cluster) -> None:
    """sbatch itself parses the quoted header: --test-only validates without queueing a job."""
    weird = tmp_path / "a dir with 'quotes' and $x"
    profile = SiteProfile(
        partition="debug",
        cpus_per_task=1,
        mem_gb=0.1,
        time_limit="00:01:00",
        python=str(_fake_python(weird / "bin", "exit 0\n")),
    )
    script = tmp_path / "job.sbatch"
    script.write_text(_render(profile, weird / "runs"))
    (weird / "runs" / "logs" / "g").mkdir(parents=True)
    proc = subprocess.run(
        ["sbatch", "--test-only", str(script)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "to start at" in proc.stderr


def _start(script: Path, tmp_path: Path, restart: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "SLURM_ARRAY_TASK_ID": "0",
        "SLURM_JOB_ID": "999999999",
        "SLURM_RESTART_COUNT": str(restart),
    }
    return subprocess.Popen(
        ["bash", str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _signal_script(tmp_path: Path, sig: int, restart: int = 0) -> tuple[int, str, Path]:
    started, got = tmp_path / "started", tmp_path / "got"
    body = (
        f"trap 'echo USR1 > {got}; exit 75' USR1\n"
        f"trap 'echo TERM > {got}; exit 75' TERM\n"
        f"touch {started}\nwhile :; do sleep 0.1; done\n"
    )
    profile = SiteProfile(python=str(_fake_python(tmp_path / "bin", body)), max_requeues=3)
    script = tmp_path / "job.sbatch"
    script.write_text(_render(profile, tmp_path / "runs"))
    proc = _start(script, tmp_path, restart)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out, got


def test_usr1_is_forwarded_and_the_task_requeues(tmp_path: Path) -> None:
    code, out, got = _signal_script(tmp_path, signal.SIGUSR1)
    assert got.read_text().strip() == "USR1"
    assert "got SIGUSR1, forwarding it" in out
    assert "requeueing job 999999999 (restart 1 of at most 3)" in out
    # no such job here: scontrol fails, and the script says so and exits 75
    assert code == 75 and "requeue 999999999 failed" in out


def test_term_is_forwarded_without_requeue(tmp_path: Path) -> None:
    code, out, got = _signal_script(tmp_path, signal.SIGTERM)
    assert got.read_text().strip() == "TERM"
    assert code == 75 and "requeueing" not in out


def test_requeue_limit(tmp_path: Path) -> None:
    profile = SiteProfile(python=str(_fake_python(tmp_path / "bin", "exit 75\n")), max_requeues=3)
    script = tmp_path / "job.sbatch"
    script.write_text(_render(profile, tmp_path / "runs"))
    proc = _start(script, tmp_path, restart=3)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "giving up" in out and "max_requeues=3" in out


def test_example_profile_runs_the_cell_in_apptainer() -> None:
    from rvhpc.hpc.profile import load_profile

    profile = load_profile(profiles_dir() / "example.yaml")
    text = _render(profile, Path("/scratch/my runs"))
    command = next(line for line in text.splitlines() if "-m rvhpc cell" in line)
    argv = shlex.split(command.rstrip(" &"))
    assert argv[:3] == ["apptainer", "exec", "--nv"]
    assert "/scratch/my runs:/scratch/my runs" in argv[argv.index("--bind") + 1].split(",")
    assert argv[argv.index("/project/images/rvhpc.sif") + 1 : argv.index("cell")] == [
        "python3",
        "-m",
        "rvhpc",
    ]
    assert "#SBATCH --gpus-per-node=1" in text and "module load cuda/12.1" in text


def test_collect_job_goes_through_the_template_and_the_container(tmp_path: Path) -> None:
    from rvhpc.grid.expand import load_grid
    from rvhpc.hpc.profile import load_profile
    from rvhpc.hpc.slurm import collect_script

    profile = load_profile(profiles_dir() / "example.yaml")
    grid = load_grid(builtin_grid("smoke"))
    text = collect_script(grid, profile)
    template = sbatch.TEMPLATE.read_text()
    # every template line outside the slots is in the script, in order
    fixed = [line for line in template.splitlines() if "{{" not in line]
    lines = iter(text.splitlines())
    assert all(line in lines for line in fixed)  # a subsequence: consumes the iterator in order
    lines = text.splitlines()
    command = next(line for line in lines if "-m rvhpc collect" in line)
    argv = shlex.split(command.rstrip(" &"))
    assert argv[:3] == ["apptainer", "exec", "--nv"]
    assert argv[argv.index("collect") + 1] == str(grid.path)
    assert "module load cuda/12.1" in text
    for absent in ("--array", "--requeue", "--signal", "--gpus-per-node"):
        assert f"#SBATCH {absent}" not in text
