"""Numerics modes: which kernel path a training process takes, and so which bits it computes.

Training is chaotic: a difference in the last bit of one matmul grows into a different model, and
the demo's ensemble median NSE moved by up to 0.11 between four kernel paths (issue 23). torch,
MKL, oneDNN, numpy and OpenBLAS each pick a code path by the CPU they find, so two machines give
two results for the same seed unless the paths are fixed. Two modes:

``portable``
    The same bits for the same seed and thread count on every x86-64 CPU with AVX2 and FMA3
    (Intel or AMD, AVX-512 machines included), with the same software (the container's lock).
    torch's vectorised kernels at its AVX2 level (``ATEN_CPU_CAPABILITY=avx2``); MKL in its
    conditional-numerical-reproducibility branch ``COMPATIBLE,STRICT``, the only branch MKL
    supports on Intel and non-Intel CPUs alike (its AVX2 branch is Intel-only: on an AMD CPU
    ``MKL_CBWR=AVX2`` silently falls back to AUTO, measured here); oneDNN off (its blocking
    follows the cache sizes it detects), so CT/FM/LSTM take the hand-written recurrence instead
    of oneDNN's RNN; numpy's dispatch capped at AVX2 (its AVX-512 float64 exp/log/pow and
    quicksort give other bits, measured here); numpy's and scipy's OpenBLAS on its Haswell
    kernels (its SkylakeX dgemm gives other bits), which also computes the recurrence's large
    products (:func:`rvhpc.kernels.openblas_matmul`: MKL's ``COMPATIBLE`` branch is SSE2 code,
    a third of the speed), on torch's thread count; Adam in torch's fused kernel, whose square
    root is the vector unit's, not MKL's approximation-seeded one
    (:data:`rvhpc.kernels.FUSED_ADAM`). On a GPU: deterministic algorithms (repeatable on the
    same GPU model and software; across GPU models it is not).
``fast``
    Whatever this machine runs fastest: torch at the CPU's best level (or ``ATEN_CPU_CAPABILITY``
    where the user set it), MKL's own dispatch, oneDNN where the CPU has AVX-512. Repeatable on
    the same machine and software, not across CPU kinds.

Denormals are flushed (FTZ and DAZ) in both modes: flushing is an architectural MXCSR mode,
identical on every x86-64 CPU, so portable stays portable, and on Intel CPUs denormals cost a
training step 3.5-4.3x (issue 23); it changes only values below 1.2e-38 (``FLT_MIN``). Only
training processes flush (train, cell, bench, DDP ranks, array tasks); ``collect``'s Dask workers
compute float64 metrics in plain IEEE arithmetic, with numpy and OpenBLAS on their portable path
(:data:`METRICS_ENV`) in every mode: the metrics of the same predictions are the same bits
everywhere.

The settings that libraries read when they load are environment variables, so :func:`enter` runs
at the start of a training entry point, before torch, MKL and numpy load; where they are loaded
already with other settings (``rvhpc cell`` reads its manifest first) the ``rvhpc`` command
starts itself again with the settings in place (same pid, same arguments), and a library caller
gets one clear :class:`NumericsError` instead of a run on another path.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rvhpc.errors import RvhpcError

MODES = ("portable", "fast")
#: the default of train, run, cell and grid files (``bench`` and ``demo`` too); see docs/numerics.md
DEFAULT_MODE = "portable"
#: names the mode a process was started for (children inherit it with the settings below)
MODE_VAR = "RVHPC_NUMERICS"
#: set by a process that started itself again, so that it never loops
_REEXEC_VAR = "RVHPC_NUMERICS_REEXEC"

#: numpy's dispatch targets above AVX2, in numpy >= 2.4's names and in earlier numpy's (unknown
#: names are skipped by numpy with an ImportWarning, which Python ignores by default)
_NUMPY_ABOVE_AVX2 = (
    "X86_V4 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL "
    "AVX512_SPR"
)
#: numpy's and OpenBLAS's part: the environment of collect's Dask workers too, so that metrics
#: (KGE's correlation goes through OpenBLAS: its SkylakeX and Haswell kernels differ in the last
#: bit, measured here) are the same bits on every machine
METRICS_ENV = {"NPY_DISABLE_CPU_FEATURES": _NUMPY_ABOVE_AVX2, "OPENBLAS_CORETYPE": "Haswell"}
#: the environment of a portable process (read by the libraries when they load)
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE,STRICT",
    **METRICS_ENV,
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",  # deterministic cuBLAS (read when CUDA starts)
}
#: denormal handling of each mode: True = flush (FTZ and DAZ)
FLUSH = {"portable": True, "fast": True}


class NumericsError(RvhpcError):
    """This process cannot run in the numerics mode asked for."""


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`.

    Raises
    ------
    NumericsError
        Any other value, with the choices.
    """
    if mode not in MODES:
        raise NumericsError(f"--numerics {mode!r}: choose one of {', '.join(MODES)}")
    return mode


def environment(mode: str) -> dict[str, str | None]:
    """The environment variables a process in ``mode`` starts with (None: unset).

    ``fast`` unsets what a portable rvhpc parent set (it names itself in RVHPC_NUMERICS) and
    keeps values a user chose: ``ATEN_CPU_CAPABILITY=avx2 rvhpc train --numerics fast`` runs fast
    at AVX2.
    """
    check_mode(mode)
    if mode == "portable":
        return {MODE_VAR: mode, **PORTABLE_ENV}
    inherited = os.environ.get(MODE_VAR) == "portable"
    unset = {k: None for k, v in PORTABLE_ENV.items() if inherited and os.environ.get(k) == v}
    return {MODE_VAR: mode, **unset}


def child_environment(mode: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``mode``'s settings, for a process
    rvhpc starts (the local runner's cells): it then loads its libraries on the right path."""
    env = dict(os.environ if base is None else base)
    for key, value in environment(mode).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


_entered: str | None = None
#: set by rvhpc's console entry points: only then may :func:`enter` start the command again
cli_argv: list[str] | None = None


def enter(mode: str, flush: bool | None = None) -> None:
    """Put this process into ``mode`` (an entry point calls it before anything imports torch).

    Sets the environment of :func:`environment`, imports torch, sets the denormal handling
    (before torch's thread pool starts, so every worker thread inherits it), oneDNN on or off,
    then checks the result (:func:`problems`). ``flush`` overrides :data:`FLUSH` (benchmarks).

    Raises
    ------
    NumericsError
        The process loaded torch or numpy with other settings and cannot start itself again
        (a library caller), or the machine cannot run ``mode`` (no AVX2 for portable).
    """
    global _entered
    want = environment(mode)
    ready = all(os.environ.get(k) == v for k, v in want.items() if k != MODE_VAR)
    loaded = [m for m in ("numpy", "torch") if m in sys.modules]
    if not ready and loaded:
        _restart_or_refuse(mode, want, loaded)
    for key, value in want.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    import torch

    torch.set_flush_denormal(FLUSH[mode] if flush is None else flush)
    torch.backends.mkldnn.enabled = mode == "fast"
    _entered = mode
    found = problems(mode, FLUSH[mode] if flush is None else flush)
    if found:
        raise NumericsError(f"--numerics {mode}: {found[0]}")


def _restart_or_refuse(mode: str, want: dict[str, str | None], loaded: list[str]) -> None:
    if cli_argv is not None and not os.environ.get(_REEXEC_VAR):
        env = child_environment(mode)
        env[_REEXEC_VAR] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", "rvhpc", *cli_argv], env)
    keys = ", ".join(f"{k}={v}" for k, v in want.items() if v is not None and k != MODE_VAR)
    raise NumericsError(
        f"--numerics {mode}: {' and '.join(loaded)} already loaded without its settings; "
        f"start training through the rvhpc command, or set {keys or 'nothing'} before importing "
        "them (rvhpc.numerics.enter first)"
    )


def problems(mode: str, flush: bool) -> list[str]:
    """What keeps this process from computing ``mode``'s bits (empty: nothing)."""
    import torch

    from rvhpc import kernels

    found = []
    if torch.backends.mkldnn.enabled != (mode == "fast"):
        found.append(f"oneDNN is {'on' if torch.backends.mkldnn.enabled else 'off'}")
    state = kernels.denormals()
    if state != ("flushed" if flush else "ieee"):
        found.append(
            f"denormal handling is {state} in torch's thread pool, not "
            f"{'flushed' if flush else 'ieee'} (the pool started before rvhpc.numerics.enter)"
        )
    if mode == "portable":
        cap = torch.backends.cpu.get_cpu_capability()
        if cap != "AVX2":
            found.append(
                f"torch runs its {cap} kernels, not AVX2 (a CPU without AVX2 and FMA3 cannot run "
                "portable numerics: use --numerics fast)"
                if kernels.cpu_flags().get("avx2")
                else f"this CPU has no AVX2 (torch: {cap}): use --numerics fast"
            )
        cbwr = kernels.mkl_cbwr()
        if cbwr != PORTABLE_ENV["MKL_CBWR"]:
            found.append(f"MKL runs in CNR mode {cbwr}, not {PORTABLE_ENV['MKL_CBWR']}")
        above = kernels.numpy_above_avx2()
        if above:
            found.append(f"numpy dispatches to {', '.join(above)}")
        if not kernels.openblas_found():
            found.append("numpy computes on no OpenBLAS (portable numerics needs numpy's wheel)")
    return found


def ensure(mode: str) -> None:
    """Make sure this process computes in ``mode`` before a run starts: :func:`enter` it if no
    entry point did; otherwise check it (a process entered as portable may also train fast:
    oneDNN goes on, and provenance.json records the kernel path it really took).

    Raises
    ------
    NumericsError
        The process cannot compute in ``mode`` (see :func:`enter` and :func:`problems`).
    """
    check_mode(mode)
    if _entered is None:
        enter(mode)
        return
    import torch

    torch.backends.mkldnn.enabled = mode == "fast"
    found = problems(mode, FLUSH[mode])
    if found:
        raise NumericsError(
            f"--numerics {mode}: {found[0]} (this process was started for {_entered} numerics)"
        )


def entered() -> str | None:
    """The mode :func:`enter` put this process in (None: never called)."""
    return _entered


#: provenance fields that decide the bits of a CPU run, and of a GPU run
_KEY_CPU = (
    "numerics",
    "denormals",
    "torch",
    "mkl",
    "capability",
    "matmul",
    "mkl_cbwr",
    "lstm_kernel",
    "adam",
    "numpy_dispatch",
    "openblas_coretype",
    "threads",
)
_KEY_GPU = ("numerics", "torch", "device_name", "cuda", "cudnn", "deterministic")


def kernel_key(record: dict[str, Any]) -> tuple:
    """What decides the bits of a run, from one provenance record: the mode and the kernel path,
    plus for ``fast`` on a CPU the CPU itself (its bits follow the CPU's own dispatch)."""
    if str(record.get("device", "cpu")).startswith("cuda"):
        return ("gpu", *(str(record.get(k)) for k in _KEY_GPU))
    key = tuple(str(record.get(k)) for k in _KEY_CPU)
    return key + ((str(record.get("cpu")),) if record.get("numerics") != "portable" else ())


def describe(record: dict[str, Any]) -> str:
    """A short label of a record's kernel path for messages."""
    device = str(record.get("device", "?"))
    if device.startswith("cuda"):
        return f"{record.get('numerics')}, {record.get('device_name')}, CUDA {record.get('cuda')}"
    parts = [
        str(record.get("numerics")),
        str(record.get("capability")),
        str(record.get("matmul")),
        f"MKL CNR {record.get('mkl_cbwr')}",
        f"Adam {record.get('adam')}",
        f"{record.get('threads')} thread(s)",
        f"denormals {record.get('denormals')}",
    ]
    if record.get("numerics") != "portable":
        parts.append(str(record.get("cpu")))
    return ", ".join(parts)
