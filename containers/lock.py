"""Regenerate containers/requirements.lock with uv: every runtime dependency of rvhpc, transitively,
each pinned to one version with the sha256 of every file PyPI has for it.

    .venv/bin/python containers/lock.py                 # add what changed, keep the other pins
    .venv/bin/python containers/lock.py --upgrade       # newest versions within pyproject's ranges

Inputs: pyproject.toml's [project] dependencies and containers/requirements.in (the torch version
and the build backend). uv resolves once for every platform and Python >= 3.11 (markers say which
line applies where), reading the hashes from PyPI's index without downloading the wheels. The
image installs the lock with ``pip install --require-hashes --only-binary=:all:``; a second
resolution checks that every pin has a wheel for the image's Python (Ubuntu 24.04: CPython 3.12,
x86_64, glibc 2.39). uv comes with the test extra (scripts/bootstrap.sh installs it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = "containers/requirements.lock"
INPUTS = ("pyproject.toml", "containers/requirements.in")
#: the interpreter and platform of the image (containers/rvhpc.def: Ubuntu 24.04's python3)
IMAGE_PYTHON = ("--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_39")
INDEX = ("--index-url", "https://pypi.org/simple")


def uv(*args: str) -> None:
    """Run ``uv`` (the one installed beside this Python) in the repository root."""
    subprocess.run([sys.executable, "-m", "uv", *args], cwd=ROOT, check=True)


def main(argv: list[str]) -> None:
    upgrade = ["--upgrade"] if "--upgrade" in argv else []
    uv(
        "pip", "compile", *INPUTS, *INDEX, "--universal", "--python-version", "3.11",
        "--generate-hashes", "--custom-compile-command", "python containers/lock.py",
        "--quiet", "-o", LOCK, *upgrade,
    )  # fmt: skip
    # every pin installable from wheels on the image's Python (resolves, writes nothing)
    uv(
        "pip", "compile", LOCK, *INDEX, *IMAGE_PYTHON, "--only-binary", ":all:", "--quiet",
        "--no-deps", "-o", "/dev/null",
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
