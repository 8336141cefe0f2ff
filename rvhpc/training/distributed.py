"""The distributed environment: ranks from torchrun or Slurm, process group set-up, threads.

``rvhpc train`` runs unchanged as one process, under ``torchrun --nproc_per_node N`` (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT set by torchrun) or under ``srun -n N`` (rank and
world from SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID, the rendezvous host is the first node of
SLURM_JOB_NODELIST, the port is 20000 + job id % 20000 unless MASTER_PORT is set).
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from rvhpc.errors import ConfigError


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    #: torchrun's own rendezvous store is joined through env://; Slurm ranks meet over tcp://
    from_torchrun: bool = False

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DistEnv:
        """Read the torchrun variables first, then Slurm's (one task = one rank)."""
        env = os.environ if environ is None else environ
        if "RANK" in env and "WORLD_SIZE" in env:
            return cls(
                rank=_int(env, "RANK"),
                world=_int(env, "WORLD_SIZE"),
                local_rank=_int(env, "LOCAL_RANK", 0),
                master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
                master_port=_int(env, "MASTER_PORT", 29500),
                from_torchrun=True,
            )
        if "SLURM_PROCID" in env and _int(env, "SLURM_NTASKS", 1) > 1:
            job_id = _int(env, "SLURM_JOB_ID", 0)
            port = _int(env, "MASTER_PORT", 20000 + job_id % 20000)
            addr = env.get("MASTER_ADDR") or first_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1"))
            return cls(
                rank=_int(env, "SLURM_PROCID"),
                world=_int(env, "SLURM_NTASKS"),
                local_rank=_int(env, "SLURM_LOCALID", 0),
                master_addr=addr,
                master_port=port,
            )
        return cls()


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


def _int(env: Mapping[str, str], key: str, default: int | None = None) -> int:
    value = env.get(key)
    if value is None or value == "":
        if default is None:
            raise ConfigError(f"environment variable {key} is not set")
        return default
    try:
        return int(value.split("(")[0])  # SLURM_CPUS_PER_TASK-style values like "4(x2)"
    except ValueError:
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


def resolve_device(name: str, env: DistEnv) -> torch.device:
    """``auto`` -> the local GPU of this rank when CUDA is available, else the CPU."""
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


class ProcessGroup:
    """Context manager: init the default process group (gloo on CPU, nccl on GPU) when world > 1."""

    def __init__(self, env: DistEnv, device: torch.device) -> None:
        self.env = env
        self.device = device
        self._owned = False
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.init_method = (
            "env://" if env.from_torchrun else f"tcp://{env.master_addr}:{env.master_port}"
        )

    def __enter__(self) -> ProcessGroup:
        if self.env.distributed and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group(
                self.backend,
                init_method=self.init_method,
                rank=self.env.rank,
                world_size=self.env.world,
            )
            self._owned = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._owned and dist.is_initialized():
            # Gloo's destructor joins its worker threads while holding the GIL; a worker still
            # freeing a finished collective's Python tensors needs the GIL, and the two deadlock
            # (pytorch/pytorch#56297; seen here after all_gather_object + barrier). Giving the
            # workers a moment without the GIL lets them finish first.
            gc.collect()
            time.sleep(0.5)
            dist.destroy_process_group()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (a collective; no-op alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (a list of one without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
