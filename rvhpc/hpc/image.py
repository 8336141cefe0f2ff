"""Build rvhpc's container image: ``apptainer build`` (or ``singularity build``) of the packaged
definition (:func:`rvhpc.resources.container_definition`) in rvhpc's source tree.

The definition's ``%files`` copy ``pyproject.toml``, ``README.md``, ``rvhpc/`` and
``containers/requirements.lock`` from the folder the build runs in, so a build needs the source: a
checkout (found from the definition or the package), or ``--source DIR``. The build arguments pin
what the labels show: rvhpc's version, the git commit and ``SOURCE_DATE_EPOCH``, the commit's time,
which also fixes apt's archive snapshot and the timestamps inside the image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from rvhpc.errors import ContainerError
from rvhpc.hpc.container import APPTAINER_INSTALL

NO_BUILDER = (
    "neither apptainer nor singularity found on PATH: install Apptainer "
    f"({APPTAINER_INSTALL}) or build on a machine that has it, then copy the .sif"
)
#: what the definition's %files take from the source tree, relative to it
SOURCE_FILES = ("pyproject.toml", "README.md", "rvhpc/__init__.py", "containers/requirements.lock")


def build_command(
    def_file: Path,
    out: Path,
    runtime: str,
    *,
    fakeroot: bool = False,
    build_args: dict[str, str] | None = None,
) -> list[str]:
    """``apptainer build [--fakeroot] [--build-arg K=V ...] OUT DEF`` (singularity the same)."""
    argv = [runtime, "build"]
    if fakeroot:
        argv.append("--fakeroot")
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    return [*argv, str(out), str(def_file)]


def _is_source(folder: Path) -> bool:
    return all((folder / name).is_file() for name in SOURCE_FILES)


def source_root(def_file: Path, source: Path | None = None) -> Path:
    """The rvhpc source tree the build runs in (the %files sources are relative to it).

    ``source`` when given; else the checkout holding ``def_file`` (the packaged definition of an
    editable install, or ``containers/rvhpc.def``), or the one holding the imported rvhpc package.

    Raises
    ------
    ContainerError
        When ``source`` lacks a file the definition copies, or no source tree is found (rvhpc
        installed from a wheel): the message says to pass ``--source``.
    """
    if source is not None:
        missing = [name for name in SOURCE_FILES if not (Path(source) / name).is_file()]
        if missing:
            raise ContainerError(
                f"--source {source}: not an rvhpc source tree (no {', '.join(missing)}); pass a "
                "checkout of rvhpc"
            )
        return Path(source).resolve()
    import rvhpc

    for start in (Path(def_file).resolve(), Path(rvhpc.__file__).resolve().parent):
        for folder in start.parents:
            if _is_source(folder):
                return folder
    raise ContainerError(
        "the image is built from rvhpc's source (its %files copy pyproject.toml, README.md, rvhpc/ "
        "and containers/requirements.lock), and this rvhpc is installed without it: pass "
        "--source DIR with a checkout of rvhpc"
    )


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def build_args(root: Path) -> dict[str, str]:
    """The definition's build arguments: rvhpc's version, the commit of ``root`` and its time.

    ``GIT_COMMIT`` gets ``-dirty`` when tracked files differ from it. ``SOURCE_DATE_EPOCH`` is the
    commit time (``git log -1 --format=%ct``), or the environment's ``SOURCE_DATE_EPOCH`` outside
    a git checkout.

    Raises
    ------
    ContainerError
        When neither git nor the environment gives a time.
    """
    from rvhpc import __version__

    commit = _git(root, "rev-parse", "HEAD") or "unknown"
    if commit != "unknown" and _git(root, "status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    epoch = _git(root, "log", "-1", "--format=%ct") or os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch.isdigit():
        raise ContainerError(
            f"{root} is not a git checkout, so its commit time is unknown: set SOURCE_DATE_EPOCH "
            "(seconds since 1970) to the time of the source you build"
        )
    return {"VERSION": __version__, "GIT_COMMIT": commit, "SOURCE_DATE_EPOCH": epoch}


def build_image(
    def_file: Path,
    out: Path,
    runtime: str | None = None,
    *,
    source: Path | None = None,
    dry_run: bool = False,
    fakeroot: bool | None = None,
) -> list[str]:
    """Build ``out`` (a .sif) from ``def_file`` with apptainer or singularity; returns the argv run.

    ``runtime`` None picks apptainer, else singularity, from PATH. ``fakeroot`` None: on when not
    root. ``source``: the rvhpc source tree (default: see :func:`source_root`). ``dry_run`` returns
    the argv without running it (and without needing a runtime).

    Raises
    ------
    ContainerError
        A missing definition, source tree or builder, or a failed build.
    """
    def_file = Path(def_file)
    if not def_file.is_file():
        raise ContainerError(
            f"definition file {def_file} not found: pass --def PATH to an Apptainer .def file"
        )
    if runtime not in (None, "apptainer", "singularity"):
        raise ContainerError(f"cannot build with runtime {runtime!r}: use apptainer or singularity")
    names = (runtime,) if runtime else ("apptainer", "singularity")
    found = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if found is None and not dry_run:
        raise ContainerError(
            NO_BUILDER
            if runtime is None
            else f"{runtime} not found on PATH: install Apptainer ({APPTAINER_INSTALL}) or build "
            "on a machine that has it, then copy the .sif"
        )
    root = source_root(def_file, source)
    if fakeroot is None:
        fakeroot = os.geteuid() != 0
    argv = build_command(
        def_file.resolve(),
        Path(out).resolve(),
        found or names[0],
        fakeroot=fakeroot,
        build_args=build_args(root),
    )
    if dry_run:
        return argv
    Path(out).resolve().parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(argv, cwd=root)
    except OSError as exc:
        raise ContainerError(f"could not run {argv[0]}: {exc}") from None
    if proc.returncode != 0:
        raise ContainerError(
            f"{Path(argv[0]).name} build of {def_file} failed with exit code {proc.returncode} "
            "(its output is above); fix the definition or the build host and rerun"
        )
    return argv
