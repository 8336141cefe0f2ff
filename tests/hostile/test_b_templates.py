"""Issue 10, defect 10: the batch-script template's slots are filled in one pass, so a value that
holds a slot name is never filled again. Before: a ``{{prologue}}`` in a path split the --chdir
line (sbatch then dropped --mem, --time, --signal, --requeue) and an ``{{epilogue}}`` vanished."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import yaml

from rvhpc.hpc import sbatch
from rvhpc.hpc.profile import SiteProfile
from tests.hostile._b_support import rvhpc
from tests.hpc._gridtools import write_grid


def _header(script: str) -> list[str]:
    """The directives sbatch reads: the #SBATCH lines before the first other line."""
    lines = script.splitlines()[1:]
    out = []
    for line in lines:
        if not line.startswith("#SBATCH"):
            break
        out.append(line)
    return out


def test_slot_names_in_paths_survive_rendering(tmp_path: Path) -> None:
    runs = tmp_path / "a{{prologue}}b{{epilogue}}c"
    manifest = runs / ".rvhpc" / "manifests" / "g-0123456789ab.json"
    profile = SiteProfile(modules=["cuda/12"], setup=["echo set up"])
    text = sbatch.render(
        profile,
        job_name="rvhpc-g",
        array="0-1",
        log_file=runs / "logs" / "g_%A_%a.log",
        workdir=runs,
        command=sbatch.cell_command(profile, manifest, 0, [runs]),
    )
    header = _header(text)
    keys = [line.split("=")[0].removeprefix("#SBATCH ") for line in header]
    for key in ("--chdir", "--mem", "--time", "--signal", "--requeue", "--output"):
        assert key in keys, header
    assert f"#SBATCH --chdir={shlex.quote(str(runs))}" in header
    assert str(manifest) in text  # the command keeps the {{epilogue}} in its path
    assert text.count("module load cuda/12") == 1 and text.count("echo set up") == 1
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)


def test_dry_run_submit_of_a_runs_dir_named_like_slots(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    data = yaml.safe_load(grid.read_text())
    data["runs_dir"] = "runs/x{{prologue}}y{{epilogue}}z"
    grid.write_text(yaml.safe_dump(data, sort_keys=False))
    profile = tmp_path / "site.yaml"
    profile.write_text("max_array_size: 1000\nmodules: [gcc]\n")
    proc = rvhpc("submit", grid, "--profile", profile, "--dry-run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = proc.stdout.split("\n", 1)[1].split("# would run:")[0]
    runs = (tmp_path / "runs" / "x{{prologue}}y{{epilogue}}z").resolve()
    header = _header(script)
    assert f"#SBATCH --chdir={shlex.quote(str(runs))}" in header, header
    assert any(line.startswith("#SBATCH --mem=") for line in header), header
    assert any(line.startswith("#SBATCH --requeue") for line in header), header
    assert script.count("module load gcc") == 1
    assert f"{runs}/.rvhpc/manifests/" in script
