"""``LD_PRELOAD`` shims of the numerics benchmarks, compiled where they run (the C compiler is the
one of the machine: a shim is built for its own libc).

- ``fakecpuid.c``: answers ``cpuid`` as an AMD EPYC Zen 4 (``benchmarks/vendor_check.py``);
- ``inexact_traps.c``: records which instructions with implementation-defined results a process
  executes (``benchmarks/inexact_audit.py``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def compiler() -> str | None:
    """The C compiler on PATH (None: none)."""
    return shutil.which("cc") or shutil.which("gcc")


def build(name: str, folder: Path) -> Path:
    """Shim ``name`` (``fakecpuid``, ``inexact_traps``) compiled into ``folder``; needs
    :func:`compiler`."""
    lib = folder / f"{name}.so"
    cmd = [str(compiler()), "-O2", "-shared", "-fPIC", "-o", str(lib), str(HERE / f"{name}.c")]
    subprocess.run([*cmd, "-ldl", "-lm"], check=True)
    return lib
