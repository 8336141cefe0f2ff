"""The recurrence's large per-batch CPU buffers, kept between batches."""

from __future__ import annotations

import threading

import torch


class _Workspace:
    """Reuses the large per-batch CPU buffers between batches.

    A fresh buffer of hundreds of MB is page-faulted in on every batch (glibc serves it by mmap),
    which cost a third of a training step here. A buffer goes back only after its backward pass, so
    a graph that is still alive never shares one; none ever leaves the recurrence.
    """

    def __init__(self, keep: int = 8) -> None:
        self._free: list[torch.Tensor] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self, numel: int, like: torch.Tensor) -> torch.Tensor:
        if like.device.type == "cpu":
            with self._lock:
                for k, buf in enumerate(self._free):
                    if buf.numel() == numel and buf.dtype == like.dtype:
                        return self._free.pop(k)
        return like.new_empty(numel)

    def give(self, *bufs: torch.Tensor) -> None:
        with self._lock:
            self._free.extend(b for b in bufs if b.device.type == "cpu")
            del self._free[: -self._keep]


#: the buffers of every recurrence in this process (forward and backward)
WORKSPACE = _Workspace()
