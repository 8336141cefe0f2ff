"""Process-wide tuning of the C allocator for training on a CPU (entry points only)."""

from __future__ import annotations


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
