"""Fixtures of the packaging tests: the sdist and wheel built from this checkout, and the image's
Python layer installed here from containers/requirements.lock into a fresh venv.

Building needs ``build`` and installing ``uv`` (both in the test extra, scripts/bootstrap.sh); the
lock's files come from the package index (PyPI; uv caches them), the CPU torch wheel standing in for
PyPI's CUDA build from pip's configured sources, as scripts/bootstrap.sh installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.lockfile import REPO, cpu_requirements, read_lock

#: what a source tree copy for building leaves out (build outputs, venvs, runs of the checkout)
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "runs", "demo-out", "bench-out"
)


def run(argv: list, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; fail the test with its output when it fails."""
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@dataclass
class Dist:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Dist:
    """``python -m build`` of a copy of the checkout: the sdist, then the wheel built from it."""
    work = tmp_path_factory.mktemp("build")
    src = work / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=IGNORED)
    out = work / "dist"
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src])
    (sdist,) = out.glob("rvhpc-*.tar.gz")
    (wheel,) = out.glob("rvhpc-*.whl")
    return Dist(sdist, wheel)


@dataclass
class Layer:
    """A fresh venv holding the image's Python layer and the rvhpc wheel (no -e)."""

    root: Path
    requirements: Path  # the lock as installed here (CPU torch for the CUDA one)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    def env(self) -> dict[str, str]:
        """The environment of a user of this venv: its bin first, nothing of the checkout."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONNOUSERSITE"] = "1"
        env["MPLBACKEND"] = "Agg"
        return env


def _cpu_torch_wheel(folder: Path) -> Path:
    """The CPU wheel of the torch CI runs (pip's configured sources), fetched into ``folder``."""
    import torch

    version = torch.__version__.split("+")[0]
    run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", folder, f"torch=={version}+cpu"]
    )  # fmt: skip
    (wheel,) = folder.glob("torch-*.whl")
    return wheel


@pytest.fixture(scope="session")
def layer(tmp_path_factory, dist) -> Layer:
    """``python -m venv`` + the lock installed with hashes required (uv, resolving nothing beyond
    it) + the wheel without its dependencies: what containers/rvhpc.def's %post does with pip."""
    work = tmp_path_factory.mktemp("layer")
    requirements = work / "requirements-cpu.txt"
    requirements.write_text(cpu_requirements(read_lock(), _cpu_torch_wheel(work)))
    root = work / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    uv = [sys.executable, "-m", "uv", "pip", "install", "--python", python, "--quiet"]
    run([*uv, "--require-hashes", "--only-binary", ":all:", "-r", requirements])
    run([*uv, "--no-deps", "--offline", dist.wheel])
    return Layer(root, requirements)
