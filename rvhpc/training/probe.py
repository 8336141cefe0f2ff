"""Training rates measured here for the work estimate (``rvhpc grid show GRID --estimate``).

What is worth measuring, and in which order. A training step at the paper's shape (hidden 256,
batch 256, seq 270) takes 1 to 10 s per member on a 2-core CPU, and a pack of K=5 about K times
that, so measuring every (arch, static width) of the paper's grid at K=1 and K=5 with repeats
would take most of an hour there (the estimate once ran 15 minutes without a word, and from
2-step measurements projected packing as *slower*: 66,883 vs 41,340 CPU device-hours). So the
probe spends a time budget in order of value, says each measurement as it is made, and every
figure it does not measure is marked as borrowed, never silently guessed:

1. K=1 of every job (an arch at one static width), the jobs carrying most of the grid's work
   first; each job is warmed up (one untimed step: buffers and kernels are made on the first
   step), then timed over a few steps of one fixed batch within its share of the budget. At least
   one job per arch is always measured.
2. The pack ratio from *paired* rounds: the samples/s of a K-member pack (all members) over the
   samples/s of K=1, from a K=1 step and a K=K step of the same arch and width back to back, so
   that load changes on a shared machine hit both sides of each ratio alike (1.0: a pack trains
   K members exactly as fast as K runs one after the other); the median of the rounds' ratios is
   taken. The jobs with the most work are paired first, as long as a round fits into the time
   left; at least one job is always paired (the cheapest, when none fits).
3. Every packed per-member rate is the K=1 rate of its job times a pack ratio over K: its own
   ratio, or the median ratio of the paired jobs (marked as such). So the packed and unpacked
   figures come from the same probe, and load that changes between a K=1 and a K=5 measurement
   taken minutes apart (2-step measurements once projected packing as 1.6x slower) cannot
   decide which looks faster.

Each rate states its spread: (max - min) / median of its timed steps or rounds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from rvhpc import progress
from rvhpc.jobenv import JobEnv, resolve_device, thread_count
from rvhpc.training.bench import BenchPack, synthetic_store

#: the most timed steps of one job (a GPU reaches it in seconds; the budget ends it on a CPU)
MAX_STEPS = 8


@dataclass
class Job:
    """One arch at one static width, whose packs hold up to ``members`` cells; ``share`` is its
    fraction of the grid's sample-epochs (what orders the probe)."""

    arch: str
    n_static: int
    members: int
    share: float
    single: list[float] = field(default_factory=list)  # seconds of timed K=1 steps
    ratios: list[float] = field(default_factory=list)  # paired rounds: pack samples/s over K=1's

    @property
    def label(self) -> str:
        return f"{self.arch} d={self.n_static}"


def probe(
    jobs: list[Job],
    *,
    hidden: int,
    batch_size: int,
    seq_length: int,
    device: str = "auto",
    budget_s: float = 60.0,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Measure K=1 rates and pack ratios of ``jobs`` within about ``budget_s`` seconds.

    Parameters
    ----------
    jobs : list[Job]
        What the grid trains; several widths of one arch are separate jobs.
    hidden, batch_size, seq_length : int
        The grid's training shape.
    device : str
        ``auto`` (the GPU when there is one), ``cpu``, ``cuda``.
    budget_s : float
        Seconds to spend; the minimum (one timed step per arch, one paired round) may exceed it.
    threads : int, optional
        CPU threads (default: as ``rvhpc train`` chooses).

    Returns
    -------
    list[dict]
        Rate entries (:class:`rvhpc.grid.rates.Rate` keys): K=1 of every measured job and, for
        jobs with packs, K=members, each with ``spread``, ``steps`` and a ``note`` on its origin.

    Raises
    ------
    ConfigError
        A shape that does not fit into the device's memory.
    """
    import torch

    from rvhpc.training.runtime import tune_cpu_allocator

    tune_cpu_allocator()  # as rvhpc train does: otherwise steps are ~1.6x slower (runtime.py)
    n_threads = thread_count(threads)
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    dev = resolve_device(device, JobEnv())
    data = synthetic_store(seq_length=seq_length)
    shape = dict(hidden=hidden, batch_size=batch_size, seq_length=seq_length)
    deadline = time.monotonic() + budget_s
    order = _value_order(jobs)
    archs = list(dict.fromkeys(j.arch for j in order))
    progress.log(
        f"estimate: {len(order)} (arch, static width) jobs at hidden {hidden}, batch {batch_size},"
        f" seq {seq_length} on {dev}, about {budget_s:.0f} s: first K=1 of each arch "
        f"({', '.join(archs)}; a warm-up step, then timed steps), then paired K=1/K=K rounds"
    )
    archs_done: set[str] = set()
    for n, job in enumerate(order):
        left = deadline - time.monotonic()
        if job.arch in archs_done and left <= 0:
            continue
        pack = BenchPack(job.arch, 1, job.n_static, device=dev, data=data, **shape)
        pack.step()  # warm-up
        share = max(0.0, left) / (2 * (len(order) - n))  # half of the budget for K=1
        t_end = time.monotonic() + share
        while not job.single or (time.monotonic() < t_end and len(job.single) < MAX_STEPS):
            job.single.append(pack.step())
        archs_done.add(job.arch)
        _say(job, "K=1", job.single, batch_size)
        del pack
    remaining = [j for j in order if j.single and j.members > 1]
    while remaining:
        left = deadline - time.monotonic()
        fits = [j for j in remaining if _pair_cost(j) <= left]
        if not fits and any(j.ratios for j in order):
            break
        job = fits[0] if fits else min(remaining, key=_pair_cost)  # at least one, the cheapest
        remaining.remove(job)
        _pair(job, dev, data, shape, deadline, max(1, len(fits)))
    return _rates(order, batch_size, str(dev), shape)


def _pair_cost(job: Job) -> float:
    """Seconds of a warm-up and one paired round, from the job's K=1 steps."""
    return 2 * statistics.median(job.single) * (1 + job.members)


def _value_order(jobs: list[Job]) -> list[Job]:
    """Each arch's largest job first (archs by share), then the other jobs by share."""
    by_share = sorted(jobs, key=lambda j: -j.share)
    firsts: dict[str, Job] = {}
    for j in by_share:
        firsts.setdefault(j.arch, j)
    return list(firsts.values()) + [j for j in by_share if firsts[j.arch] is not j]


def _pair(job: Job, dev: Any, data: Any, shape: dict, deadline: float, jobs_left: int) -> None:
    """Paired rounds (K=1 step, then K=members step) of one job within its share of the time."""
    one = BenchPack(job.arch, 1, job.n_static, device=dev, data=data, **shape)
    pack = BenchPack(job.arch, job.members, job.n_static, device=dev, data=data, **shape)
    one.step(), pack.step()  # warm-up
    t_end = time.monotonic() + max(0.0, deadline - time.monotonic()) / jobs_left
    while not job.ratios or (time.monotonic() < t_end and len(job.ratios) < MAX_STEPS):
        t1, tk = one.step(), pack.step()
        job.ratios.append(t1 * job.members / tk)  # (K * batch / tk) / (batch / t1)
        progress.log(
            f"estimate: {job.label} paired round {len(job.ratios)}: K=1 {t1:.2f} s/step, "
            f"K={job.members} {tk:.2f} s/step: the pack trains {job.ratios[-1]:.2f}x the "
            "samples/s of K=1"
        )


def _say(job: Job, what: str, seconds: list[float], batch: int) -> None:
    med = statistics.median(seconds)
    progress.log(
        f"estimate: {job.label} {what}: {batch / med:,.1f} samples/s per member "
        f"(median of {len(seconds)} step(s), {med:.2f} s/step{_spread_text(seconds)})"
    )


def spread(values: list[float]) -> float | None:
    """The relative spread of repeated measurements.

    Parameters
    ----------
    values : list[float]
        Seconds per step, or ratios.

    Returns
    -------
    float or None
        (max - min) / median; None for fewer than two values.
    """
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / statistics.median(values)


def _spread_text(values: list[float]) -> str:
    s = spread(values)
    return "" if s is None else f", spread {s:.0%}"


def _rates(order: list[Job], batch: int, device: str, shape: dict) -> list[dict[str, Any]]:
    """Rate entries: K=1 per measured job, and K=members from its own or the median ratio; a
    pack's per-member rate is its samples/s (K=1's times the ratio) shared by K members."""
    ratios = [r for j in order for r in j.ratios]
    pooled = statistics.median(ratios) if ratios else None
    sources = ", ".join(j.label for j in order if j.ratios)
    out = []
    for job in order:
        if not job.single:
            continue
        rate1 = batch / statistics.median(job.single)
        base = dict(arch=job.arch, n_static=job.n_static, device=device, **shape)
        out.append(
            dict(base, members=1, samples_per_s_per_member=rate1, steps=len(job.single),
                 spread=spread(job.single), note=f"measured, {len(job.single)} step(s)")
        )  # fmt: skip
        if job.members == 1 or pooled is None:
            continue
        own = bool(job.ratios)
        ratio = statistics.median(job.ratios) if own else pooled
        note = f"K=1 rate x pack ratio {ratio:.2f} / {job.members}: " + (
            f"{len(job.ratios)} paired round(s)" if own else f"ratio borrowed from {sources}"
        )
        out.append(dict(base, members=job.members,
                        samples_per_s_per_member=rate1 * ratio / job.members,
                        steps=len(job.ratios) if own else 0,
                        spread=spread(job.ratios if own else ratios), note=note))  # fmt: skip
    return out
