"""The Dask cluster behind ``rvhpc collect``: local processes, Slurm worker jobs, or an address.

``local`` starts a LocalCluster of single-threaded worker processes sized to the machine;
every worker computes with numpy and OpenBLAS on their portable path (rvhpc.numerics.METRICS_ENV)
and IEEE denormals;
``slurm`` starts a dask-jobqueue SLURMCluster from the site profile's ``dask`` section (workers
retire ``lifetime_min`` into their wall time, staggered, and adaptive scaling replaces them);
anything else is taken as the address of a running scheduler. :func:`run_with_dask` is the one
place that starts the client of ``rvhpc collect`` and of the demo.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rvhpc import progress
from rvhpc.data.pool import usable_cpus
from rvhpc.errors import ConfigError, SchedulerError
from rvhpc.hpc.profile import SiteProfile, load_profile
from rvhpc.hpc.quoting import module_loads, quoted, sbatch_option
from rvhpc.numerics import METRICS_ENV

SCHEDULERS = ("local", "slurm")
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def walltime_minutes(walltime: str) -> float:
    """Minutes of a Slurm time string (``MM``, ``HH:MM:SS``, ``D-HH:MM:SS``)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{2}):(\d{2})|(\d+)", walltime.strip())
    if not m:
        raise ConfigError(f"dask.walltime {walltime!r}: use HH:MM:SS, D-HH:MM:SS or minutes")
    if m.group(5):
        return float(m.group(5))
    days, h, mnt, s = (int(g or 0) for g in m.groups()[:4])
    return days * 1440 + h * 60 + mnt + s / 60


def slurm_cluster_kwargs(
    profile: SiteProfile, log_dir: Path | None = None, job_name: str = "rvhpc-dask"
) -> dict:
    """SLURMCluster arguments from a site profile (pure: rendered and tested without Slurm)."""
    dask = profile.dask
    wall = walltime_minutes(dask.walltime)
    if dask.lifetime_min >= wall:
        raise ConfigError(
            f"profile {profile.name}: dask.lifetime_min ({dask.lifetime_min}) must be below "
            f"dask.walltime ({dask.walltime}) so workers retire before Slurm kills them"
        )
    stagger = max(1, min(5, dask.lifetime_min // 10))
    # every profile value goes through rvhpc.hpc.quoting, as in the array jobs' scripts
    prologue = module_loads(profile.modules) + list(profile.setup)
    prologue.append(f"export OMP_NUM_THREADS={max(1, dask.cores // max(1, dask.processes))}")
    # metrics on numpy's and OpenBLAS's portable path, whatever the node (rvhpc.numerics)
    prologue += [f"export {k}={shlex.quote(v)}" for k, v in sorted(METRICS_ENV.items())]
    extra = [sbatch_option("qos", profile.qos)] if profile.qos else []
    if log_dir is not None:  # dask-jobqueue would write the folder unquoted into -o/-e
        for key, ext in (("output", "out"), ("error", "err")):
            extra.append(sbatch_option(key, str(Path(log_dir) / f"{job_name}-%J.{ext}")))
    scheduler_options: dict = {"dashboard_address": ":0"}  # no host: workers on any node
    if profile.name == "local":  # the one-node test cluster: keep everything on loopback
        scheduler_options["host"] = LOOPBACK
        scheduler_options["dashboard_address"] = f"{LOOPBACK}:0"  # beside the scheduler
    return dict(
        queue=quoted("partition", profile.partition) if profile.partition else None,
        account=quoted("account", profile.account) if profile.account else None,
        cores=dask.cores,
        processes=dask.processes,
        memory=f"{dask.memory_gb}GB",
        walltime=quoted("dask.walltime", dask.walltime),
        job_name=quoted("job name", job_name),
        python=quoted("python", profile.python or sys.executable),
        scheduler_options=scheduler_options,
        job_script_prologue=prologue,
        job_extra_directives=extra,
        worker_extra_args=[
            "--lifetime",
            f"{dask.lifetime_min}m",
            "--lifetime-stagger",
            f"{stagger}m",
            "--lifetime-restart",
        ],
    )


@contextmanager
def dask_client(
    scheduler: str = "local",
    workers: int | None = None,
    profile: str | Path | None = None,
    log_dir: Path | None = None,
    job_name: str = "rvhpc-dask",
) -> Iterator:
    """A connected ``distributed.Client``; the cluster it started (if any) is closed on exit.

    Parameters
    ----------
    scheduler : ``local``, ``slurm`` or a scheduler address (``tcp://host:8786``).
    workers : worker processes (local) or worker jobs (slurm); default: CPUs / profile
        ``dask.max_jobs``.
    profile : site profile name or path for ``slurm`` (default ``local``'s values when None).
    """
    from distributed import Client, LocalCluster

    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if scheduler == "local":
        import dask

        # set before each worker process starts, so numpy and OpenBLAS load on that path
        spawn_env = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **METRICS_ENV}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env}):
            cluster = LocalCluster(
                n_workers=workers or usable_cpus(),
                threads_per_worker=1,
                processes=True,
                host=LOOPBACK,
                dashboard_address=f"{LOOPBACK}:0",  # the dashboard binds where the scheduler does
            )
    elif scheduler == "slurm":
        from dask_jobqueue import SLURMCluster

        site = load_profile(profile)
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
        cluster = SLURMCluster(**slurm_cluster_kwargs(site, log_dir, job_name))
        n = workers or site.dask.max_jobs
        cluster.adapt(minimum_jobs=n, maximum_jobs=max(n, site.dask.max_jobs))
    elif "://" in scheduler or ":" in scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); "
                f"start one (dask scheduler) or use local/slurm"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    else:
        raise ConfigError(
            f"--scheduler {scheduler!r}: use local, slurm or a scheduler address like tcp://host:8786"
        )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def run_with_dask(
    work: Callable[[Any], T],
    out: Path,
    scheduler: str = "local",
    workers: int | None = None,
    profile: str | Path | None = None,
    announce: Callable[[str], None] = progress.log,
) -> T:
    """Run ``work(client)`` on a Dask cluster started for a job that writes into ``out``.

    ``out`` is checked first: a cluster (worker jobs on Slurm, above all) is slow to start and
    a waste to abandon over an output folder that cannot be written. Worker logs go to
    ``out/dask-logs``; the dashboard's address is announced as soon as the client is connected;
    the cluster is closed on return.

    Parameters
    ----------
    work : callable
        Takes the connected ``distributed.Client``; its result is returned.
    out : Path
        The job's output folder (created).
    scheduler, workers, profile
        As :func:`dask_client`.
    announce : callable
        Receives the line ``dask dashboard: <address>`` (default: a progress line; the CLI
        prints it on stdout, where it stays under ``--quiet``).

    Returns
    -------
    The result of ``work``.

    Raises
    ------
    RvhpcError
        ``out`` cannot be created or written (RunDirError); a bad scheduler, worker count or
        profile (ConfigError); an unreachable scheduler (SchedulerError); whatever ``work``
        raises.
    """
    from rvhpc.grid.manifest import check_writable

    out = Path(out)
    check_writable(out, "--out", "choose a folder you can write to")
    with dask_client(scheduler, workers=workers, profile=profile, log_dir=out / "dask-logs") as c:
        announce(f"dask dashboard: {c.dashboard_link}")
        return work(c)
