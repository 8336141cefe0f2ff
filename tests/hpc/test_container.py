"""The container definition, the apptainer/singularity wrapping and ``rvhpc container build``.

The lock and the image's Python layer are tested in tests/packaging/test_image_layer.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from rvhpc.errors import ContainerError
from rvhpc.hpc.container import Bind, collect_binds, find_runtime, wrap_command
from rvhpc.hpc.image import NO_BUILDER, build_image, source_root
from rvhpc.hpc.profile import ContainerSettings
from rvhpc.resources import container_definition

REPO = Path(__file__).resolve().parents[2]
DEF = container_definition()
SECTIONS = ("%files", "%post", "%environment", "%runscript", "%test", "%labels", "%help")


def definition_sections(text: str) -> dict[str, str]:
    """``{'header': ..., '%post': body, ...}`` of an Apptainer definition."""
    parts = re.split(r"^(%[a-z]+)\s*$", text, flags=re.M)
    found = {"header": parts[0]}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = found.get(name, "") + body
    return found


def _pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


# --- the definition file -------------------------------------------------------------------------


def test_checkout_definition_is_the_packaged_one():
    """containers/rvhpc.def, the file a user builds by hand, is a link to the packaged copy."""
    assert (REPO / "containers" / "rvhpc.def").resolve() == DEF.resolve()
    assert DEF.resolve().is_relative_to(REPO / "rvhpc" / "resources")


def test_definition_has_every_section_and_a_base_pinned_by_digest():
    sections = definition_sections(DEF.read_text())
    assert set(SECTIONS) <= set(sections), f"missing: {set(SECTIONS) - set(sections)}"
    header = dict(
        line.split(":", 1)
        for line in sections["header"].splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert header["Bootstrap"].strip() == "docker"
    base = header["From"].strip()
    # a readable exact tag and the digest that is what gets pulled
    match = re.fullmatch(
        r"nvidia/cuda:\d+\.\d+\.\d+-(?:cudnn-)?runtime-ubuntu\d+\.\d+@(sha256:[0-9a-f]{64})", base
    )
    assert match, base
    assert f"org.opencontainers.image.base.digest {match[1]}" in sections["%labels"]


def test_runscript_runs_the_cli_and_test_section_trains_a_cell_to_done():
    sections = definition_sections(DEF.read_text())
    assert re.search(r'exec \S*rvhpc "\$@"', sections["%runscript"])
    test = sections["%test"]
    assert "rvhpc --version" in test
    for module in ("torch", "h5py", "dask"):
        assert re.search(rf"import [^\n]*\b{module}\b", test)
    assert "rvhpc -q train " in test and 'test -f "$work/cell/DONE"' in test
    # (tests/packaging/test_image_layer.py runs this section in the image's layer)
    labels = sections["%labels"]
    for arg in ("VERSION", "GIT_COMMIT", "SOURCE_DATE_EPOCH"):
        assert "{{ " + arg + " }}" in labels


def test_files_sources_exist_and_post_installs_the_hashed_lock_then_the_project():
    sections = definition_sections(DEF.read_text())
    sources = [line.split()[0] for line in sections["%files"].splitlines() if line.strip()]
    assert "containers/requirements.lock" in sources and "rvhpc" in sources
    for source in sources:
        assert (REPO / source).exists(), f"%files source {source} is not in the repository"
    post = sections["%post"]
    lock = "/opt/rvhpc/src/containers/requirements.lock"
    lock_at = post.index(f"install --require-hashes --only-binary=:all: -r {lock}")
    project_at = post.index("install --no-deps --no-build-isolation --no-index /opt/rvhpc/src")
    check_at = post.index("pip check")
    assert lock_at < project_at < check_at
    assert "--index-url" not in post and "download.pytorch.org" not in post  # PyPI's CUDA torch
    # the commit's time for apt's snapshot and the timestamps; the lock's hash in a label
    assert "export SOURCE_DATE_EPOCH={{ SOURCE_DATE_EPOCH }}" in post
    assert 'apt-get update --snapshot "$SNAPSHOT"' in post
    assert re.search(
        r"rvhpc.lock_sha256 .*sha256sum /opt/rvhpc/src/containers/requirements.lock", post
    )


def test_definition_defaults_match_the_project_version():
    arguments = dict(
        line.strip().split("=", 1)
        for line in definition_sections(DEF.read_text())["%arguments"].splitlines()
        if line.strip()
    )
    assert arguments["VERSION"] == _pyproject()["project"]["version"]
    assert not arguments["SOURCE_DATE_EPOCH"].isdigit()  # no stale default: the build passes it


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
        f"/scratch/data:/data:ro,{tmp_path}/runs:{tmp_path}/runs,"
        f"{tmp_path}/store dir:{tmp_path}/store dir",
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
    commit_time = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True
    ).stdout.strip()
    assert f"SOURCE_DATE_EPOCH={commit_time}" in argv
    assert argv[-2:] == [str(tmp_path / "out dir" / "rvhpc.sif"), str(DEF.resolve())]


def test_build_runs_in_the_source_tree_and_refuses_a_folder_that_is_none(tmp_path):
    assert source_root(DEF) == REPO
    assert source_root(REPO / "containers" / "rvhpc.def") == REPO
    with pytest.raises(ContainerError, match=r"--source .*not an rvhpc source tree .*pyproject"):
        source_root(DEF, tmp_path)


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
