"""Memory measurements for the scale benchmarks: the peak RSS of a whole process tree, and the
USS / PSS of a set of processes that may share pages.

- :class:`TreePeak` polls the summed RSS of a process and all its descendants (a CLI with its
  Dask scheduler, nannies and workers; torchrun with its ranks). RSS counts a shared page once
  per process, so the sum over-counts what processes share: use it for one process tree.
- :func:`rollup` reads ``/proc/<pid>/smaps_rollup`` (Linux >= 4.14): ``USS`` (private pages:
  Private_Clean + Private_Dirty) is what a process alone adds, and ``PSS`` (each page divided by
  the number of processes mapping it) sums to the memory a set of processes really holds. A page
  of a file that only one process maps counts as that process's private page, so a lone reader
  of a memory-mapped store has the data in its USS; a second reader halves the PSS of each.
- :func:`hold` starts processes, waits until each says it is loaded, and keeps them alive while
  they are measured; :func:`sharing` does that for 1, 2, 4 copies of a reader command.

``python -m benchmarks.memtools`` checks the tools on this machine (no test suite needed): a tree
that allocates known amounts, and 1/2/4 readers of one file, memory-mapped against read-into-RAM.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil

MIB = 1024**2
GIB = 1024**3
#: the line a process under :func:`hold` prints once it holds what is to be measured
READY = "READY"


def tree_rss(pid: int) -> int:
    """Summed RSS in bytes of process ``pid`` and all its descendants now (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # ended between the listing and the read
            pass
    return total


class TreePeak:
    """Peak summed RSS of a process tree, polled every ``interval`` seconds in a thread.

    Parameters
    ----------
    pid : int
        The root process (the current one, or a ``Popen``'s pid).
    interval : float
        Seconds between polls. A peak shorter than that can be missed: 0.05 s catches the
        allocations of a Python process that builds arrays of hundreds of MB.

    Examples
    --------
    >>> with TreePeak(proc.pid) as peak:   # doctest: +SKIP
    ...     proc.wait()
    >>> peak.peak                          # doctest: +SKIP
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: Sequence[str], interval: float = 0.05, **popen) -> dict:
    """Run ``cmd`` to its end while polling its tree's RSS.

    Parameters
    ----------
    cmd : sequence of str
        The command line.
    interval : float
        Seconds between RSS polls (:class:`TreePeak`).
    **popen
        More arguments of ``subprocess.Popen`` (``env``, ``cwd``).

    Returns
    -------
    dict
        ``returncode``, ``wall_s``, ``peak_rss_bytes`` (whole tree) and ``output`` (stdout and
        stderr together).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )
    with TreePeak(proc.pid, interval) as peak:
        output, _ = proc.communicate()
    return {
        "returncode": proc.returncode,
        "wall_s": time.perf_counter() - t0,
        "peak_rss_bytes": peak.peak,
        "output": output,
    }


def rollup(pid: int) -> dict[str, int]:
    """The fields of ``/proc/<pid>/smaps_rollup`` in bytes, plus ``Uss``.

    Parameters
    ----------
    pid : int
        A process this user may inspect.

    Returns
    -------
    dict
        ``Rss``, ``Pss``, ``Shared_Clean``, ``Shared_Dirty``, ``Private_Clean``,
        ``Private_Dirty``, ``Swap``, ... as the kernel lists them, and ``Uss`` = Private_Clean +
        Private_Dirty.

    Raises
    ------
    FileNotFoundError
        The process is gone, or the kernel has no smaps_rollup (before Linux 4.14).
    """
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        value = rest.split()
        if len(value) == 2 and value[1] == "kB":
            fields[name.strip()] = int(value[0]) * 1024
    fields["Uss"] = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields


def uss_pss(pids: Sequence[int]) -> dict:
    """USS, PSS and RSS of each process and their sums, read at one moment.

    Parameters
    ----------
    pids : sequence of int
        The processes (each counted alone: children are not added).

    Returns
    -------
    dict
        ``per_process``: one ``{"pid", "uss", "pss", "rss"}`` per pid, in bytes; ``uss``, ``pss``,
        ``rss``: their sums. The summed PSS is the memory the set holds; the summed RSS counts
        shared pages once per process.
    """
    rows = []
    for pid in pids:
        r = rollup(pid)
        rows.append({"pid": pid, "uss": r["Uss"], "pss": r["Pss"], "rss": r["Rss"]})
    return {
        "per_process": rows,
        **{key: sum(row[key] for row in rows) for key in ("uss", "pss", "rss")},
    }


@contextmanager
def hold(cmds: Sequence[Sequence[str]], timeout: float = 600, **popen) -> Iterator[list[int]]:
    """Start every command, wait until each prints a line :data:`READY` on stdout, and yield
    their pids while they keep running; they are ended (stdin closed, then terminated) on exit.

    A command under measurement loads what it holds, prints READY, flushes, then blocks (reading
    stdin is the simplest: ``sys.stdin.read()``).

    Raises
    ------
    RuntimeError
        A command ended, or did not print READY within ``timeout`` seconds.
    """
    procs = []
    try:
        for cmd in cmds:
            procs.append(
                subprocess.Popen(
                    list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **popen
                )
            )
        deadline = time.monotonic() + timeout
        for proc in procs:
            _wait_ready(proc, deadline)
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    proc.wait()


def _wait_ready(proc: subprocess.Popen, deadline: float) -> None:
    """Read ``proc``'s stdout up to its READY line (a reader thread keeps the deadline)."""
    seen: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            seen.append(line)
            if line.strip() == READY:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(max(0.0, deadline - time.monotonic()))
    if not seen or seen[-1].strip() != READY:
        raise RuntimeError(
            f"{proc.args[:3]}... did not print {READY} (exit {proc.poll()}): {''.join(seen)[-500:]}"
        )


def sharing(cmd: Sequence[str], counts: Sequence[int] = (1, 2, 4), **popen) -> list[dict]:
    """USS/PSS of 1, 2, 4 (``counts``) copies of one reader command running side by side.

    Returns
    -------
    list of dict
        Per count: ``processes``, ``uss_each_mib`` (per process, in order), ``uss_max_mib``,
        ``pss_total_mib``, ``rss_total_mib``, and ``extra_uss_mib``: the largest USS of a process
        beyond the first (what each extra process adds privately; None for one process).
    """
    results = []
    for n in counts:
        with hold([cmd] * n, **popen) as pids:
            m = uss_pss(pids)
        uss = [row["uss"] / MIB for row in m["per_process"]]
        results.append(
            {
                "processes": n,
                "uss_each_mib": [round(u, 1) for u in uss],
                "uss_max_mib": round(max(uss), 1),
                "pss_total_mib": round(m["pss"] / MIB, 1),
                "rss_total_mib": round(m["rss"] / MIB, 1),
                "extra_uss_mib": round(max(uss[1:]), 1) if n > 1 else None,
            }
        )
    return results


# ------------------------------------------------------------------------ self-check

_ALLOC = """
import subprocess, sys, numpy as np
a = np.ones({mib} * 2**20, np.uint8)          # touched: resident
if {child}:
    sub = subprocess.Popen([sys.executable, "-c", {inner!r}])
    sub.wait()
"""

_READER = """
import mmap, sys, numpy as np
path, mode = sys.argv[1], sys.argv[2]
if mode == "mmap":
    with open(path, "rb") as f:
        data = np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)
else:
    data = np.fromfile(path, np.uint8)            # a private copy
total = int(data[::4096].sum())                   # touch every page
print("READY", flush=True)
sys.stdin.read()
"""


def _check_tree() -> dict:
    """A process of 150 MiB whose child holds 100 MiB: the tree's peak is at least 250 MiB."""
    inner = "import numpy as np, time; a = np.ones(100 * 2**20, np.uint8); time.sleep(1.0)"
    code = _ALLOC.format(mib=150, child=True, inner=inner)
    r = run_measured([sys.executable, "-c", code])
    peak = r["peak_rss_bytes"] / MIB
    ok = r["returncode"] == 0 and peak >= 250
    return {"peak_rss_mib": round(peak, 1), "expected_at_least_mib": 250, "ok": ok}


def _check_sharing(size_mib: int = 256) -> dict:
    """1/2/4 readers of one file: memory-mapped, the data count once in the summed PSS and not in
    the USS of a second reader; read into RAM, every reader holds its own copy."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.bin"
        with open(path, "wb") as f:
            f.write(os.urandom(size_mib * MIB))
        out = {}
        for mode in ("mmap", "copy"):
            out[mode] = sharing([sys.executable, "-c", _READER, str(path), mode])
    checks = []
    for row in out["mmap"]:
        checks.append(row["pss_total_mib"] < size_mib + 60 * row["processes"])
        if row["extra_uss_mib"] is not None:
            checks.append(row["extra_uss_mib"] < size_mib / 4)
    for row in out["copy"]:
        checks.append(min(row["uss_each_mib"]) >= size_mib * 0.95)
    return {"file_mib": size_mib, **out, "ok": all(checks)}


def _check_against_psutil() -> dict:
    """This process's USS and PSS from smaps_rollup agree with psutil's reading of smaps."""
    mine = rollup(os.getpid())
    full = psutil.Process().memory_full_info()
    ok = all(
        abs(mine[key] - getattr(full, attr)) <= max(4 * MIB, 0.05 * getattr(full, attr))
        for key, attr in (("Uss", "uss"), ("Pss", "pss"), ("Rss", "rss"))
    )
    return {
        "uss_mib": round(mine["Uss"] / MIB, 1),
        "psutil_uss_mib": round(full.uss / MIB, 1),
        "ok": ok,
    }


def main() -> int:
    """Run the self-checks; print what was measured; exit 1 when a check fails."""
    same = _check_against_psutil()
    print(
        f"USS of this process: {same['uss_mib']} MiB (smaps_rollup), "
        f"{same['psutil_uss_mib']} MiB (psutil): {same['ok']}"
    )
    tree = _check_tree()
    print(f"tree peak RSS: {tree['peak_rss_mib']} MiB (>= 250 expected): {tree['ok']}")
    share = _check_sharing()
    print(f"readers of one {share['file_mib']} MiB file (MiB):")
    print(f"{'mode':>5} {'procs':>5} {'USS max':>8} {'extra USS':>9} {'PSS sum':>8} {'RSS sum':>8}")
    for mode in ("mmap", "copy"):
        for row in share[mode]:
            extra = "-" if row["extra_uss_mib"] is None else f"{row['extra_uss_mib']:.1f}"
            print(
                f"{mode:>5} {row['processes']:>5} {row['uss_max_mib']:>8.1f} {extra:>9} "
                f"{row['pss_total_mib']:>8.1f} {row['rss_total_mib']:>8.1f}"
            )
    print(f"sharing checks: {share['ok']}")
    return 0 if same["ok"] and tree["ok"] and share["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
