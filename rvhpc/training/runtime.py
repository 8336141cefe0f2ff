"""The process a run trains in: deterministic kernels, threads and matmul precision for the run
(:func:`deterministic`), and the C allocator's process-wide tuning (entry points only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def tune_cpu_allocator() -> bool:
    """Make glibc keep freed memory instead of returning every large block to the OS.

    Large tensors are otherwise mmap'ed and page-faulted in again on every batch; measured on this
    project's CPU (hidden 256, batch 256, seq 270) that made nn.LSTM training steps ~1.6x slower.
    Process-wide, so only entry points (``rvhpc train``/``bench``) should call it, once, early.
    Returns False where it does not apply (not glibc).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


@contextmanager
def deterministic(
    device: torch.device, threads: int | None, precision: str = "fp32", numerics: str = "fast"
) -> Iterator[None]:
    """Deterministic kernels on the CPU (bit-identical reruns), the requested thread count, and
    the matmul precision: fp32 is strict (TF32 off for matmuls and cuDNN, whatever torch's
    defaults), tf32 allows TF32 tensor cores on the GPU (no effect on the CPU).

    On a GPU, ``portable`` numerics turn deterministic algorithms on too (cuBLAS with the fixed
    workspace rvhpc.numerics sets, cuDNN deterministic and not autotuned): reruns on the same GPU
    model and software give the same bits; another GPU model does not. ``fast`` leaves torch's
    defaults there."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_threads = torch.get_num_threads()
    old_tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    old_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    if threads is not None:
        torch.set_num_threads(threads)
    if device.type == "cpu" or numerics == "portable":
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda" and numerics == "portable":
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old_tf32
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
