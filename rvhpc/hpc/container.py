"""Run one command inside a container (building the image: :mod:`rvhpc.hpc.image`).

Array tasks run the cell through :func:`wrap_command`: ``apptainer exec`` (or ``singularity exec``)
on clusters, or bubblewrap (``bwrap``), the stand-in used where Apptainer cannot be installed. Both
see only the bound paths, so a task whose runs directory is not bound fails instead of writing
somewhere invisible. The wrapping is the per-rank command: multi-task cells put ``srun`` in front
of the wrapped argv, never inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rvhpc.errors import ContainerError

if TYPE_CHECKING:
    from rvhpc.hpc.profile import ContainerSettings

APPTAINER_INSTALL = "https://apptainer.org/docs/admin/main/installation.html"
#: host directories a ``bwrap`` sandbox with ``image: host`` sees read-only (besides Python itself)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
#: signals the bwrap launcher passes on to the sandboxed command (Apptainer forwards them too)
FORWARDED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGHUP)
_ALTERNATIVES = {
    "apptainer": ("apptainer", "singularity"),
    "singularity": ("singularity", "apptainer"),
    "bwrap": ("bwrap",),
}


@dataclass(frozen=True)
class Bind:
    """One bind mount: host ``src`` appears at ``dst`` inside the container."""

    src: str
    dst: str
    read_only: bool = False

    @classmethod
    def parse(cls, spec: str | os.PathLike[str]) -> Bind:
        """``src``, ``src:dst`` or ``src:dst:ro`` (Apptainer's syntax); paths become absolute."""
        text = os.fspath(spec)
        parts = text.split(":") if isinstance(spec, str) else [text]
        if not parts[0] or len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ContainerError(f"container bind {text!r}: use 'src', 'src:dst' or 'src:dst:ro'")
        src = os.path.abspath(os.path.expanduser(parts[0]))
        dst = parts[1] if len(parts) > 1 and parts[1] else src
        if not os.path.isabs(dst):
            raise ContainerError(
                f"container bind {text!r}: the destination must be an absolute path"
            )
        return cls(src, os.path.normpath(dst), len(parts) == 3 and parts[2] == "ro")

    def apptainer(self) -> str:
        """``src:dst[:ro]`` for ``--bind``; Apptainer's syntax has no escape for ',' or ':'."""
        if any(c in p for p in (self.src, self.dst) for c in ",:"):
            raise ContainerError(
                f"container bind {self.src}: apptainer cannot bind a path containing ',' "
                "or ':'; rename the folder"
            )
        return f"{self.src}:{self.dst}" + (":ro" if self.read_only else "")


def uses_container(settings: ContainerSettings | None) -> bool:
    """True when array tasks run in a container: an image is named and the runtime is not
    ``none``."""
    return settings is not None and settings.runtime != "none" and bool(settings.image)


def collect_binds(
    settings: ContainerSettings | None, binds: Iterable[str | os.PathLike[str]]
) -> list[Bind]:
    """The profile's binds, then ``binds`` (runs dir, store...), one per destination, parents
    first."""
    by_dst: dict[str, Bind] = {}
    for spec in [*(settings.binds if settings else []), *binds]:
        bind = Bind.parse(spec)
        by_dst.setdefault(bind.dst, bind)
    # a parent must be mounted before a bind inside it, or it would hide the inner one
    return sorted(by_dst.values(), key=lambda b: (b.dst.count("/"), b.dst))


def find_runtime(settings: ContainerSettings | None) -> str:
    """Path of the runtime's executable; apptainer and singularity stand in for each other."""
    runtime = settings.runtime if settings is not None else "none"
    if runtime == "none":
        raise ContainerError(
            "no container runtime is configured (container.runtime is 'none' or there is "
            "no container section in the profile)"
        )
    for name in _ALTERNATIVES[runtime]:
        found = shutil.which(name)
        if found:
            return found
    if runtime == "bwrap":
        raise ContainerError(
            "bwrap not found on PATH: install bubblewrap (apt-get install bubblewrap) or set "
            "container.runtime to apptainer, singularity or none in the site profile"
        )
    raise ContainerError(
        f"{runtime} not found on PATH (nor its alternative): install Apptainer "
        f"({APPTAINER_INSTALL}), `module load` it in the profile's modules, or set "
        "container.runtime to none"
    )


def wrap_command(
    argv: list[str], settings: ContainerSettings | None, binds: list[Path]
) -> list[str]:
    """The argv that runs ``argv`` in the container of ``settings``, with ``binds`` read-write.

    No settings, runtime ``none`` or no image: ``argv`` unchanged (the task runs bare). The
    runtime is named, not resolved: it is looked up on PATH of the compute node that runs it.
    """
    if not uses_container(settings):
        return list(argv)
    assert settings is not None and settings.image is not None
    mounts = collect_binds(settings, binds)
    if settings.runtime == "bwrap":
        return [
            sys.executable,
            "-m",
            "rvhpc.hpc.container",
            *bwrap_args(settings.image, mounts),
            *settings.extra_args,
            "--",
            *argv,
        ]
    image = settings.image
    if "://" not in image:
        image = os.path.abspath(os.path.expanduser(image))
    wrapped = [settings.runtime, "exec"]
    if settings.nv:
        wrapped.append("--nv")
    if mounts:
        wrapped += ["--bind", ",".join(b.apptainer() for b in mounts)]
    return [*wrapped, *settings.extra_args, image, *argv]


def host_dirs() -> list[str]:
    """Directories of the host a ``host`` sandbox needs: the system, Python, the venv, rvhpc."""
    import rvhpc

    dirs: list[str] = []
    package = str(
        Path(rvhpc.__file__).resolve().parent
    )  # an editable install lives outside the venv
    for path in (
        *SYSTEM_DIRS,
        sys.base_prefix,
        os.path.realpath(sys.base_prefix),
        sys.prefix,
        package,
    ):
        path = os.path.normpath(path)
        if any(path == d or path.startswith(d + "/") for d in dirs):
            continue
        dirs.append(path)
    return dirs


def bwrap_args(image: str, mounts: list[Bind], cwd: str | None = None) -> list[str]:
    """bubblewrap options: the image (``host`` or a root directory) read-only, ``mounts`` on top."""
    args: list[str] = []
    if image == "host":
        # the private /tmp first: the venv or the rvhpc checkout may themselves live below /tmp
        args += ["--tmpfs", "/tmp"]
        for path in host_dirs():
            if os.path.islink(path) and path in SYSTEM_DIRS:
                args += [
                    "--symlink",
                    os.readlink(path),
                    path,
                ]  # /lib -> usr/lib on merged-/usr systems
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        args += ["--ro-bind-try", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev"]
    else:
        root = os.path.abspath(os.path.expanduser(image))
        if root.endswith(".sif") or (os.path.exists(root) and not os.path.isdir(root)):
            raise ContainerError(
                f"container.image {image!r}: the bwrap runtime runs 'host' or an unpacked "
                "root directory, not an image file; use runtime apptainer for .sif files"
            )
        args += ["--ro-bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for bind in mounts:  # after the /tmp tmpfs, so binds below /tmp stay visible
        args += ["--ro-bind" if bind.read_only else "--bind", bind.src, bind.dst]
    if image == "host":  # like a .sif: nothing outside the binds and /tmp is writable
        args += ["--remount-ro", "/"]
    if cwd is not None:  # else the launcher picks it on the compute node (see run_bwrap)
        args += ["--chdir", _sandbox_cwd(mounts, cwd)]
    # net shared like Apptainer (DDP rendezvous); pid namespace so the command is pid 1 and
    # receives the signals the launcher forwards
    args += ["--unshare-all", "--share-net", "--die-with-parent", "--as-pid-1"]
    return args


def _sandbox_cwd(mounts: list[Bind], cwd: str) -> str:
    """The current directory when it is bound (as Apptainer does), else the first bind, else /."""
    for bind in sorted(mounts, key=lambda b: -len(b.src)):
        if cwd == bind.src or cwd.startswith(bind.src.rstrip("/") + "/"):
            return os.path.normpath(bind.dst + cwd[len(bind.src) :])
    return mounts[0].dst if mounts else "/"


def run_bwrap(args: list[str]) -> int:
    """Run ``bwrap ARGS`` and forward USR1/USR2/TERM/HUP to the sandboxed command (bwrap does not).

    Without ``--chdir`` the command starts in the current directory when it is bound (as with
    Apptainer), else in the first ``--bind`` destination, else in /.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ContainerError(
            "bwrap not found on PATH: install bubblewrap (apt-get install bubblewrap)"
        )
    options = args[: args.index("--")] if "--" in args else args
    if "--chdir" not in options:
        binds = [
            Bind(options[i + 1], options[i + 2])
            for i, a in enumerate(options[:-2])
            if a == "--bind"
        ]
        args = ["--chdir", _sandbox_cwd(binds, os.getcwd()), *args]
    child: list[int] = []
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not child:
            pending.append(signum)
            return
        try:
            os.kill(child[0], signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, forward)
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([bwrap, "--info-fd", str(write_fd), *args], pass_fds=(write_fd,))
    os.close(write_fd)
    with os.fdopen(read_fd) as info:
        text = info.read()  # EOF once the command is exec'd (or bwrap failed)
    try:
        child.append(int(json.loads(text)["child-pid"]))
    except (ValueError, KeyError, TypeError):
        pass  # bwrap failed before starting the command; its exit code says so
    for signum in pending if child else ():
        forward(signum, None)
    code = proc.wait()
    return 128 - code if code < 0 else code


def _main(args: list[str]) -> int:
    """``python -m rvhpc.hpc.container BWRAP_ARGS... -- CMD...``: the launcher of bwrap tasks."""
    try:
        return run_bwrap(args)
    except ContainerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 127


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
