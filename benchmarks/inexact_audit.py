"""Which instructions with implementation-defined results a training run executes (issue 23).

A few x86 instructions have results the architecture bounds but does not fix: the reciprocal and
reciprocal-square-root approximations (``rcpps``, ``rsqrtps``, their scalar and VEX forms,
AVX-512's ``vrcp14``/``vrsqrt14``, FP16's ``vrcpph``/``vrsqrtph``) and the x87 transcendentals
(``fsin``, ``fcos``, ``fptan``, ``fpatan``, ``f2xm1``, ``fyl2x``). Intel and AMD compute them
differently, so a run that executes one can give other bits on the other maker's CPU whatever
else is fixed. ``vendor_check`` cannot see that (its shim changes which code the libraries pick,
not what an instruction computes), nor QEMU (it computes them exactly). This script finds them
by execution, on any x86-64 Linux machine with ``cc`` and ``objdump``:

1. it runs a command under ``shims/inexact_traps.c`` in list mode: every shared object loaded;
2. disassembles those objects and lists every such instruction (the *sites*);
3. runs the command again with an ``int3`` over every site: the shim records each site that
   runs and the numerics mode of its process, puts the instruction back and lets it run as it
   would have. (``rvhpc train`` starts in the user's environment, loads numpy, and starts itself
   again in portable numerics before it computes anything: what its first process executes is
   recorded with numerics ``-``.)

The default workload is a tiny portable ``rvhpc train`` of every architecture on a synthetic
store (training, evaluation and predictions), a control that must be caught (``torch.sqrt`` in
portable numerics, which MKL's ``COMPATIBLE`` vector math starts from ``rsqrtps``), a check that
a watched run computes the same weights as one without the shim, and the same run with every
``rsqrtps`` answered by another approximation within the architecture's bound, as a CPU of the
other maker would (the shim's ``RVHPC_TRAP_SWAP``): its weights must not move, while the
control's square roots do. Measured on an Intel Xeon before Adam was fused: every portable run
executed MKL's ``rsqrtps`` (through Adam's square root), and under the swap a 2-epoch EA run
changed all 569 weights; MKL's portable root of every float32 in [1, 4) changed in 1,335,713 of
16,777,216 (and differs from the correctly rounded root in 2,831,466 on the hardware).

    python -m benchmarks.inexact_audit [--out FILE] [--archs ea,ct]

Result: ``benchmarks/results/inexact_audit.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import shims
from rvhpc.kernels import cpu_flags
from rvhpc.numerics import PORTABLE_ENV

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "inexact_audit.json"
ARCHS = ("ea", "sr", "ct", "fm", "lstm")
#: mnemonics whose results are bounded, not fixed, by the architecture (AT&T names, as objdump
#: prints them)
INEXACT = re.compile(
    r"v?rcp(ps|ss)|v?rsqrt(ps|ss)|vrcp(14|28)(ps|pd|ss|sd)|vrsqrt(14|28)(ps|pd|ss|sd)"
    r"|vrcp(ph|sh)|vrsqrt(ph|sh)|vexp2(ps|pd)|f(sin|cos|sincos|ptan|patan|2xm1|yl2x|yl2xp1)"
)
_LINE = re.compile(r"^\s*([0-9a-f]+):\t(\S+)")
_LABEL = re.compile(r"^[0-9a-f]+ <(.+)>:$")
#: a tiny training run (a few seconds on one core)
TINY = ["--epochs", "1", "--hidden", "8", "--seq-length", "30", "--batch-size", "32",
        "--threads", "1"]  # fmt: skip
#: the control: a portable torch.sqrt of 2^20 float32 in [1, 1.125), whose bits it prints
CONTROL = (
    "from rvhpc import numerics; numerics.enter('portable'); import hashlib, torch; "
    "x = torch.arange(0x3F800000, 0x3F900000, dtype=torch.int32).view(torch.float32); "
    "print(hashlib.sha256(torch.sqrt(x).numpy().tobytes()).hexdigest())"
)


def unavailable() -> str | None:
    """Why this machine cannot run the audit (None: it can)."""
    if platform.machine() != "x86_64" or sys.platform != "linux":
        return "the audit watches x86-64 instructions on Linux"
    if not shims.compiler():
        return "no C compiler (cc) to build the shim: install gcc"
    if not shutil.which("objdump"):
        return "no objdump to find the instructions: install binutils"
    return None


def sites(library: str) -> list[dict]:
    """Every instruction of :data:`INEXACT` in ``library``: offset from its load address,
    mnemonic, and the symbol it lies in (the nearest label objdump prints above it)."""
    proc = subprocess.Popen(
        ["objdump", "-d", "--no-show-raw-insn", "-w", library],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="replace",
    )  # fmt: skip
    found, symbol = [], "?"
    assert proc.stdout is not None
    for line in proc.stdout:
        if line[:1] != " ":
            label = _LABEL.match(line)
            symbol = label.group(1) if label else symbol
            continue
        m = _LINE.match(line)
        if m and INEXACT.fullmatch(m.group(2)):
            found.append({"offset": int(m.group(1), 16), "insn": m.group(2), "symbol": symbol})
    proc.wait()
    return found


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


class Auditor:
    """Runs commands under the trap shim; disassembles each library once."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.shim = shims.build("inexact_traps", work)
        self.sites: dict[str, list[dict]] = {}
        self.table = work / "sites.txt"  # the shim's list of the sites in ``sites``

    def _env(self, env: dict[str, str], **files: Path) -> dict[str, str]:
        out = {**env, "LD_PRELOAD": str(self.shim)}
        out.update({f"RVHPC_TRAP_{k.upper()}": str(v) for k, v in files.items()})
        return out

    def learn(self, cmd: list[str], env: dict[str, str]) -> None:
        """Run ``cmd`` with nothing armed (it computes as it does without the shim) and
        disassemble every library it loads that is not known yet."""
        listing = self.work / "loaded.txt"
        listing.unlink(missing_ok=True)
        proc = _run(cmd, self._env(env, list=listing), self.work)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
        for lib in sorted(set(listing.read_text().split())):
            if lib not in self.sites:
                self.sites[lib] = sites(lib)
        self.table.write_text(
            "".join(f"{lib}\t{s['offset']:x}\n" for lib, ss in self.sites.items() for s in ss)
        )

    def watch(self, name: str, cmd: list[str], env: dict[str, str], swap: bool = False) -> dict:
        """Run ``cmd`` with every known site armed; the sites it executed and its last output
        line. ``swap``: answer ``rsqrtps`` with another approximation (see the shim)."""
        env = {**env, "RVHPC_TRAP_SWAP": "rsqrtps"} if swap else env
        hits, listing = self.work / f"hits-{name}.txt", self.work / f"loaded-{name}.txt"
        proc = _run(cmd, self._env(env, sites=self.table, hits=hits, list=listing), self.work)
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: {' '.join(cmd)} failed: {proc.stderr[-2000:]}")
        index = {(lib, s["offset"]): s for lib, ss in self.sites.items() for s in ss}
        found = []
        for line in sorted(set(hits.read_text().splitlines()) if hits.exists() else ()):
            lib, off, mode = line.split("\t")
            found.append({"library": lib, **index[(lib, int(off, 16))], "numerics": mode})
        unaudited = sorted(set(listing.read_text().split()) - set(self.sites))
        output = (proc.stdout.strip().splitlines() or [""])[-1]
        return {"name": name, "hits": found, "unaudited": unaudited, "output": output}


def tiny_store(folder: Path) -> Path:
    """A synthetic CAMELS US store of 4 basins (the tests' ``tiny_store``)."""
    from rvhpc import progress
    from rvhpc.data.store import prepare_store
    from rvhpc.data.synth import synthesize

    progress.set_quiet(True)
    tree = synthesize(folder / "camels", n_basins=4, start="1998-01-01", end="2003-12-31", seed=0)
    return prepare_store(
        tree.root, tree.basin_file, folder / "store.h5",
        train_period=("2000-10-01", "2002-09-30"), eval_period=("1999-01-01", "2000-09-30"),
    )  # fmt: skip


def train_cmd(store: Path, out: Path, arch: str) -> list[str]:
    static = "none" if arch == "lstm" else "physics"
    return [sys.executable, "-m", "rvhpc", "train", "--store", str(store), "--out", str(out),
            "--arch", arch, "--static", static, "--numerics", "portable", *TINY]  # fmt: skip


def same_weights(a: Path, b: Path) -> bool:
    import torch

    wa, wb = (torch.load(p / "checkpoints" / "epoch_001.pt", weights_only=True)["model"]
              for p in (a, b))  # fmt: skip
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def audit(archs: tuple[str, ...] = ARCHS, work: Path | None = None) -> dict:
    """Audit a portable training of each of ``archs`` and the control; see the module doc.

    Besides the executed sites: ``same_bits_when_watched`` (the first arch's watched run against an
    unwatched one), ``same_bits_under_other_rsqrt`` (the same with ``rsqrtps`` answered by another
    approximation: True where training never executes it) and ``control_moves_under_other_rsqrt``
    (the control's square roots under that approximation: True shows the swap takes effect, and
    that MKL's root keeps bits of the approximation it starts from)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = work or Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RVHPC_", "LD_PRELOAD"))}
        env["OMP_NUM_THREADS"] = "1"
        portable = {**env, **PORTABLE_ENV, "RVHPC_NUMERICS": "portable"}
        store = tiny_store(work)
        auditor = Auditor(work)
        control = [sys.executable, "-c", CONTROL]
        first = archs[0]
        auditor.learn(train_cmd(store, work / "plain", first), env)  # also the unwatched run
        auditor.learn(control, portable)
        runs = [auditor.watch(f"train-{a}", train_cmd(store, work / a, a), env) for a in archs]
        auditor.watch("swapped", train_cmd(store, work / "swapped", first), env, swap=True)
        checks = auditor.watch("control", control, portable)
        swapped = auditor.watch("control-swapped", control, portable, swap=True)
        return {
            "cpu": cpu_flags(),
            "libraries": {lib: len(s) for lib, s in sorted(auditor.sites.items())},
            "sites": sum(len(s) for s in auditor.sites.values()),
            "runs": runs,
            "control": checks,
            "same_bits_when_watched": same_weights(work / first, work / "plain"),
            "same_bits_under_other_rsqrt": same_weights(work / "swapped", work / "plain"),
            "control_moves_under_other_rsqrt": checks["output"] != swapped["output"],
        }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--archs", default=",".join(ARCHS))
    args = parser.parse_args(argv)
    why = unavailable()
    if why:
        raise SystemExit(f"inexact_audit: {why}")
    result = audit(tuple(args.archs.split(",")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['sites']} sites in {len(result['libraries'])} libraries")
    for run in [*result["runs"], result["control"]]:
        what = {f"{h['symbol']} ({h['insn']}, numerics {h['numerics']})" for h in run["hits"]}
        print(f"  {run['name']}: {len(run['hits'])} executed: {', '.join(sorted(what)) or '-'}")
        if run["unaudited"]:
            print(f"    loaded but not disassembled: {', '.join(run['unaudited'])}")
    for key in ("same_bits_when_watched", "same_bits_under_other_rsqrt",
                "control_moves_under_other_rsqrt"):  # fmt: skip
        print(f"  {key}: {result[key]}")
    return result


if __name__ == "__main__":
    main()
