"""Portable numerics under the other vendor's code choices, on one Intel machine (issue 23).

MKL, oneDNN, torch's cpuinfo, numpy and OpenBLAS each pick their code by the CPU that ``cpuid``
reports: its vendor, family, features and cache sizes. This script builds an ``LD_PRELOAD`` shim
(``shims/fakecpuid.c``) that traps ``cpuid`` with Linux's CPUID faulting and answers as an AMD
EPYC Zen 4 would, then runs ``numerics_fingerprint`` natively and under the shim and compares the
42 building blocks. ``portable`` must not move; ``fast`` must (MKL's own dispatch sees another
CPU), which shows that the shim took effect. ``--demo`` also runs the whole portable demo under the
shim and prints its ``paper_table.md`` sha256.

What it cannot show: the instructions still run on this CPU, so an instruction whose result is
implementation-defined (``rcpps``/``rsqrtps``, x87 transcendentals) would still differ on a real
AMD. MKL's ``COMPATIBLE`` branch does not avoid them: its vector square root starts from
``rsqrtps``, which every portable run executed through Adam until Adam took torch's fused kernel
(``benchmarks/inexact_audit.py`` finds them by execution).

    python -m benchmarks.vendor_check [--demo] [--out FILE]

Needs an Intel CPU with CPUID faulting (``cpuid_fault`` in /proc/cpuinfo: Ivy Bridge and later,
and KVM guests) and a C compiler. Result: ``benchmarks/results/vendor_check.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import shims
from benchmarks.numerics_fingerprint import compare
from rvhpc.kernels import cpu_flags

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "vendor_check.json"


def unavailable() -> str | None:
    """Why this machine cannot run the check (None: it can)."""
    cpu = cpu_flags()
    if cpu["vendor"] != "GenuineIntel":
        return "vendor_check presents an Intel CPU as an AMD one: run it on an Intel machine"
    if not cpu["cpuid_fault"]:
        return "this CPU (or its hypervisor) has no CPUID faulting (cpuid_fault in /proc/cpuinfo)"
    if not shims.compiler():
        return "no C compiler (cc) to build the shim: install gcc"
    return None


def fingerprint(mode: str, out: Path, preload: Path | None) -> dict:
    """numerics_fingerprint in a fresh process, under the shim where ``preload`` is given."""
    env = dict(os.environ)
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    cmd = [sys.executable, "-m", "benchmarks.numerics_fingerprint", "--mode", mode]
    subprocess.run([*cmd, "--out", str(out)], env=env, check=True, cwd=HERE.parent,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return json.loads(out.read_text())


def check(modes: tuple[str, ...] = ("portable", "fast"), demo: bool = False) -> dict:
    """Each mode's components that differ between this CPU and the AMD it is presented as."""
    why = unavailable()
    if why:
        raise SystemExit(f"vendor_check: {why}")
    result: dict = {"presented_as": "AMD EPYC Zen 4 (AuthenticAMD, family 0x19 model 0x11)"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shim = shims.build("fakecpuid", folder)
        for mode in modes:
            native = fingerprint(mode, folder / f"{mode}_native.json", None)
            shimmed = fingerprint(mode, folder / f"{mode}_amd.json", shim)
            differ = compare(shimmed, native)
            result.setdefault("cpu", native["cpu"])
            result[mode] = {"components": len(native["components"]), "differ": differ}
        if demo:
            result["demo_paper_table_sha256"] = _demo_sha(folder / "demo", shim)
    return result


def _demo_sha(out: Path, shim: Path) -> str:
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    cmd = [sys.executable, "-m", "rvhpc", "demo", "--out", str(out)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return hashlib.sha256((out / "results" / "paper_table.md").read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="run the portable demo under it too")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = check(demo=args.demo)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for mode in ("portable", "fast"):
        r = result[mode]
        print(f"{mode}: {len(r['differ'])} of {r['components']} components differ as an AMD CPU")
        for key in r["differ"]:
            print(f"  differs: {key}")
    if "demo_paper_table_sha256" in result:
        print(f"portable demo as an AMD CPU: paper_table.md {result['demo_paper_table_sha256']}")
    return result


if __name__ == "__main__":
    main()
