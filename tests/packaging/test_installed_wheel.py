"""rvhpc installed like a user installs it: the wheel (built from the sdist) in a fresh venv without
-e, used from a folder outside the checkout. The template, profiles, grids and container definition
come from the package (rvhpc/resources), never from the checkout."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

from tests.packaging.conftest import run
from tests.packaging.lockfile import REPO

RESOURCES = REPO / "rvhpc" / "resources"


def _packaged() -> set[str]:
    """Every non-Python file under rvhpc/resources, as a path inside the package."""
    return {
        p.relative_to(REPO).as_posix()
        for p in RESOURCES.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
    }


def test_checkout_links_point_at_the_packaged_copies():
    """One copy of each file: the checkout's user-facing paths are links into rvhpc/resources."""
    for link, target in {
        "data/grids": "rvhpc/resources/grids",
        "slurm/profiles": "rvhpc/resources/profiles",
        "containers/rvhpc.def": "rvhpc/resources/container/rvhpc.def",
    }.items():
        assert (REPO / link).is_symlink(), f"{link} must link to {target}, not be a copy"
        assert (REPO / link).resolve() == (REPO / target).resolve()
    assert not (REPO / "slurm" / "templates").exists()


def test_wheel_and_sdist_carry_every_packaged_file(dist):
    wanted = _packaged()
    assert {"rvhpc/resources/templates/array.sbatch", "rvhpc/resources/grids/paper.yaml"} <= wanted
    in_wheel = set(zipfile.ZipFile(dist.wheel).namelist())
    assert wanted <= in_wheel, f"missing from the wheel: {sorted(wanted - in_wheel)}"
    with tarfile.open(dist.sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert wanted <= in_sdist, f"missing from the sdist: {sorted(wanted - in_sdist)}"
    assert "pyproject.toml" in in_sdist and "README.md" in in_sdist


def test_installed_rvhpc_runs_a_grid_from_outside_the_checkout(layer, tmp_path):
    env, cwd = layer.env(), tmp_path
    rvhpc = layer.bin("rvhpc")
    where = run([layer.python, "-c", "import rvhpc; print(rvhpc.__file__)"], cwd=cwd, env=env)
    installed = Path(where.stdout.strip())
    assert installed.is_relative_to(layer.root) and not installed.is_relative_to(REPO)

    shown = json.loads(run([rvhpc, "grid", "show", "paper", "--json"], cwd=cwd, env=env).stdout)
    assert Path(shown["file"]).is_relative_to(layer.root)  # the packaged grid
    assert len(shown["cells"]) == 175 and shown["estimate"]["basins"] == 531

    dry = run([rvhpc, "submit", "smoke", "--dry-run", "--profile", "local"], cwd=cwd, env=env)
    assert "#SBATCH --partition=debug" in dry.stdout  # the packaged profile `local`
    assert "# Rendered by rvhpc" in dry.stdout  # the packaged template
    assert f"{layer.python} -m rvhpc cell " in dry.stdout

    run([rvhpc, "-q", "run", "smoke", "--jobs", "2"], cwd=cwd, env=env)
    done = sorted((cwd / "runs" / "smoke").rglob("DONE"))
    assert len(done) == 6, done
    run([rvhpc, "-q", "collect", "smoke", "--out", "results"], cwd=cwd, env=env)
    table = (cwd / "results" / "paper_table.csv").read_text()
    assert table.startswith("architecture,physics,gaussian-8,one_hot,none\nEA-LSTM,"), table


def test_installed_container_build_uses_the_packaged_definition_and_asks_for_the_source(
    layer, tmp_path
):
    rvhpc, env = layer.bin("rvhpc"), layer.env()
    proc = run([rvhpc, "container", "build", "--dry-run", "--source", REPO], cwd=tmp_path, env=env)
    argv = proc.stdout.split()
    assert Path(argv[-1]).is_relative_to(layer.root) and argv[-1].endswith("rvhpc.def")
    assert any(a.startswith("SOURCE_DATE_EPOCH=") for a in argv)
    # installed from a wheel, there is no source tree to copy into the image: one clear line
    import subprocess

    bare = subprocess.run(
        [rvhpc, "container", "build", "--dry-run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert bare.returncode == 2, bare.stderr
    lines = bare.stderr.strip().splitlines()
    assert len(lines) == 1 and "--source DIR" in lines[0], bare.stderr
