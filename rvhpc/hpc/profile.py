"""Site profiles: what a cluster needs to run one grid cell (and Dask workers for collect).

A profile is a YAML file: a path, or a name looked up in :func:`profile_dirs` (rvhpc's own profiles,
``rvhpc/resources/profiles``, last). Precedence when submitting:
command-line flag > profile > built-in default. Unknown keys are refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from rvhpc.config_io import Float, Int, Strict, load_yaml_model
from rvhpc.errors import ConfigError
from rvhpc.resources import profiles_dir

_TIME = re.compile(r"^(\d+-)?\d{1,2}:\d{2}:\d{2}$|^\d+$")


class ContainerSettings(Strict):
    """How array tasks run inside a container. ``runtime: none`` runs bare."""

    image: str | None = None  # .sif file (apptainer/singularity) or a root dir ("host" for bwrap)
    runtime: Literal["apptainer", "singularity", "bwrap", "none"] = "apptainer"
    binds: list[str] = Field(default_factory=list)  # "src[:dst[:ro]]"; runs dir and store are added
    nv: bool = True  # --nv: expose the NVIDIA driver (apptainer/singularity)
    extra_args: list[str] = Field(default_factory=list)


class DaskWorkers(Strict):
    """dask-jobqueue SLURMCluster worker jobs for ``rvhpc collect --scheduler slurm``."""

    cores: Int = Field(1, ge=1)
    memory_gb: Float = Field(4.0, gt=0)
    processes: Int = Field(1, ge=1)
    walltime: str = "01:00:00"
    lifetime_min: Int = Field(50, ge=1)  # workers retire before their wall time and are replaced
    max_jobs: Int = Field(4, ge=1)


class SiteProfile(Strict):
    """Resources and environment of one grid cell on a Slurm site."""

    name: str = "default"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: str = "24:00:00"  # per array task: HH:MM:SS or D-HH:MM:SS
    nodes: Int = 1
    gpus_per_node: Int = Field(0, ge=0)  # > 1 (or nodes > 1): DDP through srun, one task per GPU
    cpus_per_task: Int = 4
    mem_gb: Float = Field(16.0, gt=0)
    modules: list[str] = Field(default_factory=list)  # `module load` names
    setup: list[str] = Field(default_factory=list)  # verbatim shell lines written by the site admin
    python: str | None = None  # interpreter for bare runs; default: the submitting one
    container: ContainerSettings | None = None
    extra_sbatch: list[str] = Field(default_factory=list)  # verbatim `--key=value` directives
    skip_sbatch: list[str] = Field(
        default_factory=list
    )  # drop generated directives containing these
    signal_seconds: Int = Field(300, ge=0)  # --signal=B:USR1@N before the time limit
    max_requeues: Int = Field(3, ge=0)
    max_array_size: Int | None = Field(None, ge=1)  # default: MaxArraySize (scontrol show config)
    pack: str | None = None  # "seeds": one array task per group of cells differing only in seed
    dask: DaskWorkers = Field(default_factory=DaskWorkers)

    @field_validator("time_limit")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("use HH:MM:SS, D-HH:MM:SS or minutes")
        return value

    @field_validator("pack")
    @classmethod
    def _check_pack(cls, value: str | None) -> str | None:
        if value not in (None, "none", "seeds"):
            raise ValueError("use seeds or none")
        return value

    @field_validator("skip_sbatch")
    @classmethod
    def _no_empty_skip(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("an empty entry would drop every #SBATCH line; remove it")
        return value

    @field_validator("nodes", "cpus_per_task")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be >= 1")
        return value

    @property
    def tasks_per_node(self) -> int:
        """DDP ranks per node: one per GPU, or one on CPU nodes."""
        return max(1, self.gpus_per_node)

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node


def profile_dirs() -> list[Path]:
    """Where profile names are looked up: $RVHPC_PROFILES, ./slurm/profiles, rvhpc's profiles."""
    dirs = [Path(p) for p in os.environ.get("RVHPC_PROFILES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "slurm" / "profiles")
    dirs.append(profiles_dir())
    return dirs


def load_profile(name_or_path: str | Path | None) -> SiteProfile:
    """A profile from a path or a name (``local`` -> slurm/profiles/local.yaml); None = defaults."""
    if name_or_path is None:
        return SiteProfile()
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return load_yaml_model(SiteProfile, candidate)
    for folder in profile_dirs():
        for ext in (".yaml", ".yml"):
            path = folder / f"{name_or_path}{ext}"
            if path.is_file():
                return load_yaml_model(SiteProfile, path)
    searched = ", ".join(str(d) for d in profile_dirs())
    raise ConfigError(
        f"profile {str(name_or_path)!r} not found (looked in {searched}); "
        "pass a path to a YAML file"
    )
