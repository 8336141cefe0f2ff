"""What this process computes with: the CPU, torch's kernel level, MKL's reproducibility mode,
oneDNN, numpy's dispatch, OpenBLAS, the denormal handling and the device. :func:`record` is the
provenance a run directory keeps (``provenance.json``); :mod:`rvhpc.numerics` checks a mode
against the same probes.

torch is imported inside the functions: ``collect`` reads provenance records without it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import socket
from functools import cache
from pathlib import Path
from typing import Any

#: MKL's CNR branch numbers (mkl_cbwr_get), and its STRICT bit
_CBWR_BRANCHES = {0: "OFF", 1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSSE3"}
_CBWR_BRANCHES |= {7: "SSE4_1", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 12: "AVX512", 14: "AVX512_E1"}
_CBWR_STRICT = 0x10000


@cache
def cpu_flags() -> dict[str, Any]:
    """The CPU's model name, vendor, family/model and the flags that pick kernel paths."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key and key not in info:
                info[key] = value.strip()
            if key == "flags":
                break
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "vendor": info.get("vendor_id", ""),
        "family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        "avx2": "avx2" in flags,
        "fma": "fma" in flags,
        "avx512f": "avx512f" in flags,
        "amx": any(f.startswith("amx") for f in flags),
        "cpuid_fault": "cpuid_fault" in flags,  # Linux can trap cpuid (benchmarks/vendor_check)
    }


@cache
def _libtorch() -> ctypes.CDLL | None:
    import torch

    path = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        return ctypes.CDLL(str(path))
    except OSError:
        return None


def mkl_cbwr() -> str:
    """MKL's conditional numerical reproducibility mode (``COMPATIBLE,STRICT``, ``OFF``...), or
    ``unknown`` where torch has no MKL whose mode can be read."""
    import torch

    lib = _libtorch()
    if lib is None or not torch.backends.mkl.is_available():
        return "unknown"
    try:
        value = int(lib.mkl_serv_cbwr_get(-1))  # MKL_CBWR_ALL; the documented mkl_cbwr_get's
    except AttributeError:
        return "unknown"
    name = _CBWR_BRANCHES.get(value & 0xFFFF, str(value & 0xFFFF))
    return f"{name},STRICT" if value & _CBWR_STRICT else name


def mkl_version() -> str:
    lib = _libtorch()
    if lib is None:
        return "unknown"
    try:
        buf = ctypes.create_string_buffer(256)
        lib.MKL_Get_Version_String(buf, 256)
        text = buf.value.decode(errors="replace")
        return text.replace("Intel(R) oneAPI Math Kernel Library ", "")
    except AttributeError:
        return "unknown"


def onednn_version() -> str:
    import torch

    for line in torch.__config__.show().splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            found = re.search(r"v\d+(\.\d+)+", line)
            return found.group(0) if found else line.strip(" -")
    return "none"


def numpy_above_avx2() -> list[str]:
    """numpy's enabled dispatch targets above AVX2 (AVX-512 and later)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [
        t for t in __cpu_dispatch__ if __cpu_features__.get(t) and ("AVX512" in t or t == "X86_V4")
    ]


def worker_numerics() -> dict[str, str]:
    """What a process without torch computes metrics with (collect's Dask workers): numpy's
    dispatch level, OpenBLAS's kernels and how numpy's float64 arithmetic treats a denormal."""
    import numpy as np

    tiny = np.array([1e-310]) * np.float64(1.0)
    return {
        "numpy_dispatch": "avx512" if numpy_above_avx2() else "avx2",
        "openblas_coretype": openblas_corename(),
        "denormals": "ieee" if tiny[0] != 0 else "flushed",
    }


def denormals() -> str:
    """``flushed`` or ``ieee``: how torch's threads (every one of them) treat a denormal, or
    ``mixed`` when they disagree (``torch.set_flush_denormal`` sets only the calling thread, and
    a thread pool started before it keeps the old mode: measured here, half of a 2-thread op was
    flushed)."""
    import torch

    n = max(1, torch.get_num_threads()) * 65536  # above torch's grain: every thread takes part
    out = torch.full((n,), 1e-39, dtype=torch.float32).mul_(1.0)
    zeros = int((out == 0).sum())
    return "flushed" if zeros == n else ("ieee" if zeros == 0 else "mixed")


@cache
def capability() -> str:
    """torch's CPU kernel level (fixed once torch has chosen it)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def onednn_rnn() -> bool:
    """Whether torch's fused LSTM (``aten::lstm``) runs oneDNN's RNN: wherever oneDNN is on.

    Without oneDNN the fused kernel falls back to torch's own LSTM, slower here than rvhpc's
    hand-written recurrence (demo shape, one thread, portable: 2,767-2,981 vs 3,379-3,597 samples/s
    for LSTM), so rvhpc.models.fused takes it only with oneDNN.
    """
    import torch

    return torch.backends.mkldnn.is_available() and torch._C._get_mkldnn_enabled()


def onednn_matmul() -> bool:
    """Whether rvhpc's step matmuls go through oneDNN's linear: oneDNN on, and torch at an AVX-512
    level.

    Measured at [256, 256] x [256, 768], one thread: on an AMD CPU with AVX-512, oneDNN 240 vs
    MKL 110 GFLOP/s (MKL does not use AVX-512 there); on an AVX2-only AMD CPU, oneDNN 1448 vs
    MKL 1230 us, and at the demo's [256, 32] x [32, 96] 69 vs 26 us (MKL's in-place addmm).
    """
    return onednn_rnn() and capability().upper().startswith("AVX512")


def openblas_matmul() -> bool:
    """Whether rvhpc's recurrence matmuls go through numpy's OpenBLAS on its Haswell kernels: in
    portable numerics (where OPENBLAS_CORETYPE is Haswell), instead of MKL's ``COMPATIBLE`` branch.

    Measured at [256, 256] x [256, 768], one thread, on this project's AMD EPYC (Zen 4): MKL
    ``COMPATIBLE`` (SSE2) 34 GFLOP/s, OpenBLAS Haswell 95, MKL's own dispatch 100. OpenBLAS takes
    its kernels and its blocking from the core type it is told, not from the CPU or its caches.
    """
    return (
        os.environ.get("RVHPC_NUMERICS") == "portable"
        and os.environ.get("OPENBLAS_CORETYPE") == "Haswell"
    )


#: the thread-count entry points of an OpenBLAS build: numpy's wheels (64-bit ints, prefixed),
#: then a plain OpenBLAS (a distribution's numpy linked to the system's)
_SET_THREADS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                "openblas_set_num_threads")  # fmt: skip
_GET_THREADS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                "openblas_get_num_threads")  # fmt: skip


@cache
def _openblas() -> ctypes.CDLL | None:
    """numpy's OpenBLAS library, as loaded in this process (None where numpy has none).

    Several may be loaded: scipy's wheels bring an OpenBLAS of their own (32-bit ints, other
    symbol names), loaded first where scipy was imported first. numpy's is the one in numpy's
    ``numpy.libs`` folder, else the one with numpy's entry points."""
    import numpy

    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    paths = [p for p in dict.fromkeys(line.split()[-1] for line in maps) if "openblas" in p.lower()]
    paths = [p for p in paths if p.startswith("/") and ".so" in p]
    own = Path(numpy.__file__).resolve().parent.parent / "numpy.libs"
    paths.sort(key=lambda p: Path(p).parent != own)
    for path in paths:
        lib = ctypes.CDLL(path)
        if any(hasattr(lib, name) for name in _GET_THREADS):
            return lib
    return None


def _openblas_fn(names: tuple[str, ...]) -> Any:
    lib = _openblas()
    for name in names:
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            return fn
    raise RuntimeError(f"numpy's OpenBLAS has none of {', '.join(names)}")


_CORENAME = ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename")


def openblas_corename() -> str:
    """The kernels numpy's OpenBLAS runs, as it reports them (``Haswell`` in portable numerics);
    ``OPENBLAS_CORETYPE`` (or ``auto``) where it cannot say."""
    try:
        fn = _openblas_fn(_CORENAME)
    except RuntimeError:
        return os.environ.get("OPENBLAS_CORETYPE", "auto")
    fn.restype = ctypes.c_char_p
    return (fn() or b"").decode().strip() or os.environ.get("OPENBLAS_CORETYPE", "auto")


def openblas_found() -> bool:
    """Whether numpy computes its products on an OpenBLAS whose thread count rvhpc can set."""
    return _openblas() is not None


def set_openblas_threads(n: int) -> None:
    """Hand numpy's OpenBLAS ``n`` threads: the count torch trains with. Its bits depend on it
    (it splits a product by thread count: 1 and 2 threads differ in the last bits, measured
    here), so it is part of the thread count a portable run records; each count repeats its own
    bits. Unset, OpenBLAS would start one thread per CPU of the machine."""
    fn = _openblas_fn(_SET_THREADS)
    fn.argtypes = [ctypes.c_int]
    fn(n)


def openblas_threads() -> int:
    """numpy's OpenBLAS's thread count."""
    fn = _openblas_fn(_GET_THREADS)
    fn.restype = ctypes.c_int
    return int(fn())


def lstm_kernel() -> str:
    return "onednn-rnn" if onednn_rnn() else "recurrence"


def matmul_path() -> str:
    if onednn_matmul():
        return "onednn"
    return "openblas-haswell+mkl" if openblas_matmul() else "mkl"


#: Adam on a CPU in torch's fused kernel (True) or torch's default one. torch's default Adam takes
#: the square root of the second moments through MKL's vector math, whose ``COMPATIBLE`` branch
#: starts it from ``rsqrtps``: an approximation whose bits are each CPU maker's own (Intel's and
#: AMD's differ) and that the root does not refine away (on an Intel Xeon it differed from the
#: correctly rounded root in the last bit for 17 % of all float32 in [1, 4)). Every portable run
#: executed it (``benchmarks/inexact_audit.py``), so its bits followed the vendor. The fused
#: kernel's root is the vector unit's ``sqrtps``, exact in IEEE arithmetic on every CPU.
FUSED_ADAM = {"portable": True, "fast": False}


def fused_adam(mode: str | None, device: Any) -> bool:
    """Whether a run in ``mode`` on ``device`` takes Adam's fused kernel (:data:`FUSED_ADAM`;
    on a GPU torch's default, as before: its bits are the GPU model's anyway)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    return kind == "cpu" and FUSED_ADAM.get(str(mode), False)


def record(device: Any, mode: str | None) -> dict[str, Any]:
    """Everything that decides the bits of a run in this process: versions, CPU, kernel path,
    threads, numerics mode, denormals, device (on a GPU its name and CUDA version)."""
    import numpy as np
    import torch

    cpu = cpu_flags()
    out: dict[str, Any] = {
        "numerics": mode,
        "denormals": denormals(),
        "torch": torch.__version__,
        "mkl": mkl_version(),
        "onednn": onednn_version(),
        "numpy": np.__version__,
        "cpu": cpu["model"],
        "cpu_vendor": cpu["vendor"],
        "cpu_family_model": cpu["family_model"],
        "cpu_avx512": cpu["avx512f"],
        "cpu_amx": cpu["amx"],
        "capability": capability(),
        "mkl_cbwr": mkl_cbwr(),
        "onednn_enabled": bool(torch.backends.mkldnn.enabled),
        "matmul": matmul_path(),
        "lstm_kernel": lstm_kernel(),
        "adam": "fused" if fused_adam(mode, device) else "default",
        "numpy_dispatch": "avx2" if not numpy_above_avx2() else "avx512",
        "openblas_coretype": openblas_corename(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "host": socket.gethostname(),
    }
    if getattr(device, "type", str(device)) == "cuda":
        out |= {
            "device_name": torch.cuda.get_device_name(device),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        }
    return out
