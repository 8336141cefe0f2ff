"""The process group of a DDP job and its collectives.

``rvhpc train`` runs unchanged as one process, under ``torchrun --nproc_per_node N`` or under
``srun -n N``; who is which rank is read once, by :class:`rvhpc.jobenv.JobEnv`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from rvhpc.evaluation.predict import predict_basins
from rvhpc.jobenv import JobEnv


class ProcessGroup:
    """Context manager: init the default process group (gloo on CPU, nccl on GPU) when world > 1."""

    def __init__(self, env: JobEnv, device: torch.device) -> None:
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


def predict_store(
    model: torch.nn.Module,
    sampler: Any,
    statics: torch.Tensor | None,
    n_basins: int,
    device: torch.device,
    env: JobEnv = JobEnv(),
    log_every: int = 50,
    stop: Callable[[], bool] | None = None,
) -> np.ndarray | None:
    """Predictions of all basins, split across ranks; the full array on rank 0, None elsewhere.

    A single process returns None too when ``stop()`` interrupted it (ranks of a DDP job evaluate
    different numbers of batches and cannot agree on a stop point, so they ignore ``stop``).
    """
    mine = list(range(env.rank, n_basins, env.world))
    pred = predict_basins(
        model,
        sampler,
        statics,
        mine,
        device,
        log_every=log_every,
        show=env.is_main,
        stop=None if env.distributed else stop,
    )
    if pred is None:
        return None
    parts = all_gather_objects((mine, pred))
    if not env.is_main:
        return None
    full = np.empty((n_basins, pred.shape[1]), dtype=np.float32)
    for idx, values in parts:
        full[idx] = values
    return full
