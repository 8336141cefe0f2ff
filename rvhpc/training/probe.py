"""Training rates measured here for the work estimate (``rvhpc grid show GRID --estimate``).

What is worth measuring, and in which order. A training step at the paper's shape (hidden 256,
batch 256, seq 270) takes 1 to 10 s per member on a 2-core CPU, and a pack of K=5 about K times
that, so measuring every (arch, static width) of the paper's grid at K=1 and K=5 with repeats
would take most of an hour there (the estimate once ran 15 minutes without a word, and from
2-step measurements projected packing as *slower*: 66,883 vs 41,340 CPU device-hours). So the
probe spends a time budget in order of value, says each measurement as it is made, and every
figure it does not measure is marked as borrowed, never silently guessed:

1. K=1 of each arch at its widest-used static width (the job carrying most of the arch's work),
   warmed up first (one untimed step: buffers and kernels are made on the first step), then
   timed over a few steps of one fixed batch within a quarter of the budget.
2. The pack ratio from *paired* rounds: the samples/s of a K-member pack (all members) over the
   samples/s of K=1, from a K=1 step and a K=K step of the same arch and width back to back, so
   that load changes on a shared machine hit both sides of each ratio alike (1.0: a pack trains
   K members exactly as fast as K runs one after the other); the median of the rounds' ratios is
   taken, and its spread is stated. The job with the most packed work is paired first, for at
   least ``MIN_ROUNDS`` rounds when they fit (one round cannot state a spread); at least one
   round is always made.
3. K=1 of the other static widths of each arch, by share, as long as a warm-up and a step fit
   into the time left. At the paper's shape on a 2-core CPU they differ from their arch's first
   width by 1-3% (ea, fm) and up to 20% (ct), less than the pack ratio matters: a width not
   measured is charged its arch's nearest measured width, and the projection counts such cells
   as ``borrowed``.
4. Paired rounds of further jobs, while they fit.

Every packed per-member rate is the K=1 rate of its job times a pack ratio over K: its own ratio,
or the median ratio of the paired jobs (marked as such). So the packed and unpacked figures come
from the same probe, and load that changes between a K=1 and a K=5 measurement taken minutes
apart (2-step measurements once projected packing as 1.6x slower) cannot decide which looks
faster. At the paper's grid this takes 60-75 s on the 2-core development machine, idle.

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
#: paired rounds wanted of the first paired job, when they fit: enough to state a spread
MIN_ROUNDS = 3


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
        f"({', '.join(archs)}; a warm-up step, then timed steps), paired K=1/K=K rounds, then the "
        "other widths"
    )
    firsts, others = order[: len(archs)], order[len(archs) :]
    for n, job in enumerate(firsts):
        left = max(0.0, deadline - time.monotonic())
        _single(job, dev, data, shape, left / 4 / (len(firsts) - n))
    paired = sorted((j for j in order if j.members > 1), key=lambda j: -j.share)
    if paired:
        t_end = time.monotonic() + (deadline - time.monotonic()) / 2
        _pair(paired[0], dev, data, shape, t_end, deadline)
    for n, job in enumerate(others):
        left = deadline - time.monotonic()
        ref = _step_seconds(order, job)
        if 2 * ref > left:
            continue
        _single(job, dev, data, shape, left / 2 / (len(others) - n), ref)
    for job in paired[1:]:
        if job.single and _pair_cost(job) <= deadline - time.monotonic():
            _pair(job, dev, data, shape, deadline, deadline)
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


def _single(job: Job, dev: Any, data: Any, shape: dict, share_s: float, ref: float = 0.0) -> None:
    """A warm-up and then timed K=1 steps of one job within ``share_s``: at least one, and three
    when the first is over 25% off ``ref`` (its arch's step), so that one slow step of a
    shared machine (seen up to 2x here) does not become the job's rate."""
    pack = BenchPack(job.arch, 1, job.n_static, device=dev, data=data, **shape)
    pack.step()  # warm-up
    t_end = time.monotonic() + share_s
    while (
        not job.single
        or len(job.single) < MAX_STEPS
        and (time.monotonic() < t_end or len(job.single) < 3 and _off(job.single[0], ref))
    ):
        job.single.append(pack.step())
    _say(job, "K=1", job.single, shape["batch_size"])


def _off(seconds: float, ref: float) -> bool:
    return ref > 0 and abs(seconds / ref - 1) > 0.25


def _step_seconds(order: list[Job], job: Job) -> float:
    """A K=1 step of ``job`` as its arch's measured jobs took it."""
    steps = [t for j in order if j.arch == job.arch for t in j.single]
    return statistics.median(steps) if steps else 0.0


def _pair(job: Job, dev: Any, data: Any, shape: dict, t_end: float, deadline: float) -> None:
    """Paired rounds (K=1 step, then K=members step) of one job: one always, up to
    ``MIN_ROUNDS`` while they fit before ``deadline``, more while they fit before ``t_end``."""
    one = BenchPack(job.arch, 1, job.n_static, device=dev, data=data, **shape)
    pack = BenchPack(job.arch, job.members, job.n_static, device=dev, data=data, **shape)
    one.step(), pack.step()  # warm-up
    round_s = 0.0
    while len(job.ratios) < MAX_STEPS:
        end = deadline if len(job.ratios) < MIN_ROUNDS else t_end
        if job.ratios and time.monotonic() + round_s > end:
            break
        start = time.monotonic()
        t1, tk = one.step(), pack.step()
        round_s = time.monotonic() - start
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
