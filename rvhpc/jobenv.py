"""The job environment: where this process sits, read once from torchrun's or Slurm's variables.

Every module that needs a rank, a rendezvous address, the array task, the restart count or a thread
count asks :class:`JobEnv` (the one reading of these variables), so that ``rvhpc train`` under
``torchrun``, under ``srun -n N`` and in a Slurm array task agree on who is rank 0.

Rules, in order:
- torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT: they win;
- under ``srun -n N`` (SLURM_NTASKS > 1) one task is one rank: SLURM_PROCID, SLURM_NTASKS,
  SLURM_LOCALID; the rendezvous host is the first node of SLURM_JOB_NODELIST and the port is
  :func:`master_port` of the job id unless MASTER_PORT is set;
- anything else is a single process, rank 0 of 1.

The batch script computes the same port in bash (:func:`master_port_shell`), so a job's ranks
meet on one port whether torch or the script chose it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rvhpc.errors import ConfigError

if TYPE_CHECKING:  # torch is imported only where a device is resolved
    import torch

#: rendezvous ports of Slurm jobs: PORT_BASE + job id % PORT_SPAN, distinct for concurrent jobs
PORT_BASE = 20000
PORT_SPAN = 20000


def master_port(job_id: int) -> int:
    """The rendezvous port of a Slurm job."""
    return PORT_BASE + job_id % PORT_SPAN


def master_port_shell() -> str:
    """The same rule as a bash arithmetic expression, for the batch script."""
    return f"$(( {PORT_BASE} + SLURM_JOB_ID % {PORT_SPAN} ))"


@dataclass(frozen=True)
class JobEnv:
    """Where this process sits in the job (see the module docstring for the rules)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    #: torchrun's own rendezvous store is joined through env://; Slurm ranks meet over tcp://
    from_torchrun: bool = False
    #: Slurm's job id, array job id, array task id and restart count ("" / 0 outside Slurm)
    job_id: str = ""
    array_job_id: str = ""
    array_task_id: str = ""
    restart: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def job_label(self) -> str:
        """``ARRAYJOB_TASK`` for an array task, the job id for a plain job, "" outside Slurm."""
        if self.array_job_id and self.array_task_id:
            return f"{self.array_job_id}_{self.array_task_id}"
        return self.job_id

    def task_index(self, index: int | None, offset: int = 0) -> int:
        """An explicit cell index, else SLURM_ARRAY_TASK_ID + offset."""
        if index is not None:
            return index
        if not self.array_task_id:
            raise ConfigError(
                "no cell index: pass --index I "
                "(outside a Slurm array task there is no SLURM_ARRAY_TASK_ID)"
            )
        return int(self.array_task_id) + offset

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> JobEnv:
        """Read the torchrun variables first, then Slurm's (one task = one rank)."""
        env = os.environ if environ is None else environ
        slurm = {
            "job_id": env.get("SLURM_JOB_ID", ""),
            "array_job_id": env.get("SLURM_ARRAY_JOB_ID", ""),
            "array_task_id": env.get("SLURM_ARRAY_TASK_ID", ""),
            "restart": _int(env, "SLURM_RESTART_COUNT", 0, strict=False),
        }
        if "RANK" in env and "WORLD_SIZE" in env:
            return cls(
                rank=_int(env, "RANK"),
                world=_int(env, "WORLD_SIZE"),
                local_rank=_int(env, "LOCAL_RANK", 0),
                master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
                master_port=_int(env, "MASTER_PORT", 29500),
                from_torchrun=True,
                **slurm,
            )
        if "SLURM_PROCID" in env and _int(env, "SLURM_NTASKS", 1) > 1:
            port = _int(env, "MASTER_PORT", master_port(_int(env, "SLURM_JOB_ID", 0)))
            addr = env.get("MASTER_ADDR") or first_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1"))
            return cls(
                rank=_int(env, "SLURM_PROCID"),
                world=_int(env, "SLURM_NTASKS"),
                local_rank=_int(env, "SLURM_LOCALID", 0),
                master_addr=addr,
                master_port=port,
                **slurm,
            )
        return cls(**slurm)


def first_host(nodelist: str) -> str:
    """First host of a Slurm node list (``node[01-04]`` -> ``node01``) via
    ``scontrol show hostnames``.

    Without scontrol, a single plain host name is returned as it is.
    """
    if shutil.which("scontrol"):
        proc = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=30
        )
        if proc.returncode == 0 and proc.stdout.split():
            return proc.stdout.split()[0]
    if any(c in nodelist for c in "[],"):
        raise ConfigError(
            f"cannot expand SLURM_JOB_NODELIST={nodelist!r} without scontrol: "
            "set MASTER_ADDR to the first node's host name"
        )
    return nodelist


def _int(env: Mapping[str, str], key: str, default: int | None = None, strict: bool = True) -> int:
    value = env.get(key)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"environment variable {key} is not set")
        return default
    try:
        return int(value.split("(")[0])  # SLURM_CPUS_PER_TASK-style values like "4(x2)"
    except ValueError:
        if not strict and default is not None:
            return default
        raise ConfigError(f"environment variable {key}={value!r} is not an integer") from None


def thread_count(requested: int | None, environ: Mapping[str, str] | None = None) -> int | None:
    """Intra-op threads: the option, else SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else
    torch's."""
    env = os.environ if environ is None else environ
    if requested is not None:
        return requested
    for key in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        if env.get(key):
            return max(1, _int(env, key))
    return None


def resolve_device(name: str, env: JobEnv) -> torch.device:
    """``auto`` -> the local GPU of this rank when CUDA is available, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown --device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name} asked for, but this machine has no usable CUDA GPU")
        if device.index is None:
            device = torch.device("cuda", env.local_rank % torch.cuda.device_count())
    return device
