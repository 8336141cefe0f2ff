"""The container definition, its pins, the apptainer/singularity wrapping and ``rvhpc container build``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from rvhpc.errors import ContainerError
from rvhpc.hpc.container import (
    NO_BUILDER,
    Bind,
    build_image,
    collect_binds,
    find_runtime,
    wrap_command,
)
from rvhpc.hpc.profile import ContainerSettings

REPO = Path(__file__).resolve().parents[2]
DEF = REPO / "containers" / "rvhpc.def"
LOCK = REPO / "containers" / "requirements.lock"
SECTIONS = ("%files", "%post", "%environment", "%runscript", "%test", "%labels", "%help")


def _sections(text: str) -> dict[str, str]:
    """``{'header': ..., '%post': body, ...}`` of an Apptainer definition."""
    parts = re.split(r"^(%[a-z]+)\s*$", text, flags=re.M)
    found = {"header": parts[0]}
    for name, body in zip(parts[1::2], parts[2::2]):
        found[name] = found.get(name, "") + body
    return found


def _pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _lock() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock line {line!r} is not name==version"
            pins[canonicalize_name(name)] = Version(version)
    return pins


# --- the definition file -------------------------------------------------------------------------


def test_definition_has_every_section_and_a_pinned_cuda_base():
    sections = _sections(DEF.read_text())
    assert set(SECTIONS) <= set(sections), f"missing: {set(SECTIONS) - set(sections)}"
    header = dict(
        line.split(":", 1)
        for line in sections["header"].splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert header["Bootstrap"].strip() == "docker"
    base = header["From"].strip()
    # an exact tag (x.y.z) or a digest, never a moving tag such as latest
    assert re.fullmatch(
        r"nvidia/cuda:\d+\.\d+\.\d+-(cudnn-)?runtime-ubuntu\d+\.\d+|\S+@sha256:[0-9a-f]{64}", base
    )


def test_runscript_runs_the_cli_and_test_section_checks_the_stack():
    sections = _sections(DEF.read_text())
    assert re.search(r'exec \S*rvhpc "\$@"', sections["%runscript"])
    assert "rvhpc --version" in sections["%test"]
    for module in ("torch", "h5py", "dask"):
        assert re.search(rf"import [^\n]*\b{module}\b", sections["%test"])
    labels = sections["%labels"]
    assert "{{ VERSION }}" in labels and "{{ GIT_COMMIT }}" in labels


def test_files_sources_exist_and_post_installs_lock_then_project_without_deps():
    sections = _sections(DEF.read_text())
    sources = [line.split()[0] for line in sections["%files"].splitlines() if line.strip()]
    assert "containers/requirements.lock" in sources and "rvhpc" in sources
    for source in sources:
        assert (REPO / source).exists(), f"%files source {source} is not in the repository"
    post = sections["%post"]
    torch_at = post.index("download.pytorch.org/whl/")
    lock_at = post.index("--no-deps -r /opt/rvhpc/src/containers/requirements.lock")
    project_at = post.index("--no-deps /opt/rvhpc/src")
    assert torch_at < lock_at < project_at
    assert "pip check" in post


def test_definition_defaults_match_the_project_version():
    arguments = dict(
        line.strip().split("=", 1)
        for line in _sections(DEF.read_text())["%arguments"].splitlines()
        if line.strip()
    )
    assert arguments["VERSION"] == _pyproject()["project"]["version"]


def test_torch_is_a_cuda_build_the_project_admits():
    arguments = dict(
        line.strip().split("=", 1)
        for line in _sections(DEF.read_text())["%arguments"].splitlines()
        if line.strip()
    )
    torch_spec = next(
        Requirement(r)
        for r in _pyproject()["project"]["dependencies"]
        if canonicalize_name(Requirement(r).name) == "torch"
    )
    pinned = Version(f"{arguments['TORCH_VERSION']}+{arguments['TORCH_CUDA']}")
    assert re.fullmatch(r"cu1[2-9]\d", pinned.local or ""), f"{pinned} is not a CUDA build"
    assert torch_spec.specifier.contains(pinned.public), f"torch {pinned} outside {torch_spec}"
    post = _sections(DEF.read_text())["%post"]
    assert '"torch=={{ TORCH_VERSION }}+{{ TORCH_CUDA }}"' in post
    assert '--index-url "https://download.pytorch.org/whl/{{ TORCH_CUDA }}"' in post


def test_lock_pins_every_project_dependency_within_its_range():
    pins = _lock()
    assert "torch" not in pins, "torch comes from the CUDA index in %post, not from the lock"
    for spec in _pyproject()["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        if name == "torch":
            continue
        assert name in pins, f"{req.name} is a dependency but not in requirements.lock"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {req}"


def test_lock_is_closed_under_the_dependencies_of_what_it_pins():
    """pip install --no-deps needs every transitive dependency pinned (the image runs pip check too).

    Read from the metadata of the installed packages whose version is the locked one (the lock is
    generated from the venv by containers/lock.py; a package upgraded since is left to pip check).
    """
    pins = _lock()
    env = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "extra": "",
    }
    checked = 0
    for name, version in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != version:
            continue
        checked += 1
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker is not None and not sub.marker.evaluate(env):
                continue
            sub_name = canonicalize_name(sub.name)
            assert sub_name in pins or sub_name == "torch", (
                f"{name} needs {sub}, which requirements.lock lacks"
            )
            if sub_name in pins:
                assert sub.specifier.contains(pins[sub_name], prereleases=True), (
                    f"{name} needs {sub} but the lock pins {pins[sub_name]}"
                )
    assert checked >= len(pins) // 2, (
        "most locked versions differ from the venv: rerun containers/lock.py"
    )


# --- wrap_command -------------------------------------------------------------------------------


def test_apptainer_exec_with_nv_binds_and_extra_args(tmp_path):
    settings = ContainerSettings(
        image="/images/rvhpc.sif",
        runtime="apptainer",
        binds=["/scratch/data:/data:ro"],
        extra_args=["--cleanenv"],
    )
    argv = wrap_command(
        ["python", "-m", "rvhpc", "cell", "m.json", "--index", "0"],
        settings,
        [tmp_path / "runs", tmp_path / "store dir"],
    )
    assert argv == [
        "apptainer",
        "exec",
        "--nv",
        "--bind",
        f"/scratch/data:/data:ro,{tmp_path}/runs:{tmp_path}/runs,{tmp_path}/store dir:{tmp_path}/store dir",
        "--cleanenv",
        "/images/rvhpc.sif",
        "python",
        "-m",
        "rvhpc",
        "cell",
        "m.json",
        "--index",
        "0",
    ]


def test_singularity_without_nv_or_binds():
    settings = ContainerSettings(
        image="docker://ghcr.io/x/rvhpc:1", runtime="singularity", nv=False
    )
    assert wrap_command(["rvhpc", "--version"], settings, []) == [
        "singularity",
        "exec",
        "docker://ghcr.io/x/rvhpc:1",
        "rvhpc",
        "--version",
    ]


def test_relative_image_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = wrap_command(["true"], ContainerSettings(image="img/rvhpc.sif"), [])
    assert argv[-2] == str(tmp_path / "img" / "rvhpc.sif")


@pytest.mark.parametrize(
    "settings",
    [
        None,
        ContainerSettings(image="/i.sif", runtime="none"),
        ContainerSettings(image=None, runtime="apptainer"),
    ],
)
def test_no_container_leaves_argv_unchanged(settings, tmp_path):
    argv = ["python", "-m", "rvhpc", "train", "--out", "a b"]
    assert wrap_command(argv, settings, [tmp_path]) == argv


def test_binds_one_per_destination_parents_first(tmp_path):
    settings = ContainerSettings(
        image="/i.sif", binds=[f"{tmp_path}/a/b", f"{tmp_path}/other:/data"]
    )
    binds = collect_binds(settings, [tmp_path / "a", tmp_path / "a" / "b"])
    assert [b.dst for b in binds] == ["/data", f"{tmp_path}/a", f"{tmp_path}/a/b"]


@pytest.mark.parametrize("spec", ["", "a:b:c:d", "/x:relative", "/x:/y:rx"])
def test_bad_bind_is_one_clear_error(spec):
    with pytest.raises(ContainerError, match="container bind"):
        Bind.parse(spec)


def test_apptainer_refuses_a_path_with_a_comma(tmp_path):
    with pytest.raises(ContainerError, match="','"):
        wrap_command(["true"], ContainerSettings(image="/i.sif"), [tmp_path / "a,b"])


def test_bwrap_refuses_a_sif_image():
    with pytest.raises(ContainerError, match="not an image file"):
        wrap_command(["true"], ContainerSettings(image="/images/rvhpc.sif", runtime="bwrap"), [])


def test_bwrap_image_directory_is_the_root(tmp_path):
    argv = wrap_command(
        ["true"], ContainerSettings(image=str(tmp_path), runtime="bwrap"), [tmp_path / "runs"]
    )
    assert argv[:3] == [sys.executable, "-m", "rvhpc.hpc.container"]
    i = argv.index("--ro-bind")
    assert argv[i : i + 3] == ["--ro-bind", str(tmp_path), "/"]
    assert argv[argv.index("--bind") : argv.index("--bind") + 3] == [
        "--bind",
        f"{tmp_path}/runs",
        f"{tmp_path}/runs",
    ]
    assert argv[-2:] == ["--", "true"]


# --- finding runtimes and building --------------------------------------------------------------


def _no_builders() -> None:
    """These tests are about a machine without Apptainer, like this one: make sure it is one."""
    assert not any(shutil.which(n) for n in ("apptainer", "singularity")), (
        "apptainer is installed here"
    )


def test_find_runtime_missing_says_what_to_do():
    _no_builders()
    with pytest.raises(ContainerError, match="apptainer not found on PATH .*install Apptainer"):
        find_runtime(ContainerSettings(image="/i.sif"))
    with pytest.raises(ContainerError, match="no container runtime"):
        find_runtime(None)


def test_find_runtime_finds_bwrap():
    assert find_runtime(ContainerSettings(image="host", runtime="bwrap")) == shutil.which("bwrap")


def test_build_image_without_apptainer_is_one_clear_error(tmp_path):
    _no_builders()
    with pytest.raises(ContainerError) as info:
        build_image(DEF, tmp_path / "rvhpc.sif")
    assert str(info.value) == NO_BUILDER
    assert not (tmp_path / "rvhpc.sif").exists()


def test_build_dry_run_shows_labels_and_paths(tmp_path):
    argv = build_image(DEF, tmp_path / "out dir" / "rvhpc.sif", dry_run=True, fakeroot=True)
    from rvhpc import __version__

    assert argv[:3] == ["apptainer", "build", "--fakeroot"]
    assert f"VERSION={__version__}" in argv and any(a.startswith("GIT_COMMIT=") for a in argv)
    assert argv[-2:] == [str(tmp_path / "out dir" / "rvhpc.sif"), str(DEF)]


def _rvhpc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rvhpc", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_container_build_without_apptainer_fails_with_one_line(tmp_path):
    _no_builders()
    proc = _rvhpc("container", "build", "--out", str(tmp_path / "rvhpc.sif"))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: {NO_BUILDER}"], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_container_build_missing_def(tmp_path):
    proc = _rvhpc("container", "build", "--def", str(tmp_path / "nope.def"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: definition file {tmp_path / 'nope.def'} not found: "
        "pass --def PATH to an Apptainer .def file"
    ]


def test_cli_container_build_dry_run_prints_the_command(tmp_path):
    proc = _rvhpc("container", "build", "--dry-run", "--out", str(tmp_path / "x.sif"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("apptainer build ") and str(tmp_path / "x.sif") in proc.stdout
