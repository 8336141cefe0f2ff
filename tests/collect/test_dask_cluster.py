"""Scheduler selection: SLURMCluster settings from a site profile, a real run on the local Slurm."""

from __future__ import annotations

import subprocess
import time
import uuid

import pandas as pd
import pytest

from rvhpc.collect import collect
from rvhpc.errors import ConfigError, RunDirError, SchedulerError
from rvhpc.hpc.dask_cluster import (
    dask_client,
    run_with_dask,
    slurm_cluster_kwargs,
    walltime_minutes,
)
from rvhpc.hpc.profile import SiteProfile, load_profile
from tests.collect.conftest import cell, noisy, observed


def test_slurm_kwargs_from_profile(tmp_path):
    site = SiteProfile(
        name="hpc",
        partition="gpu",
        account="hyd",
        qos="long",
        modules=["python/3.11"],
        setup=["source /opt/env.sh"],
        dask={
            "cores": 4,
            "processes": 2,
            "memory_gb": 8,
            "walltime": "02:00:00",
            "lifetime_min": 100,
            "max_jobs": 3,
        },
    )
    kw = slurm_cluster_kwargs(site, tmp_path / "logs")
    assert (kw["queue"], kw["account"], kw["cores"], kw["processes"]) == ("gpu", "hyd", 4, 2)
    assert kw["memory"] == "8.0GB" and kw["walltime"] == "02:00:00"
    assert kw["job_extra_directives"] == [
        "--qos=long",
        f"--output={tmp_path}/logs/rvhpc-dask-%J.out",
        f"--error={tmp_path}/logs/rvhpc-dask-%J.err",
    ]
    assert kw["job_script_prologue"][:2] == ["module load python/3.11", "source /opt/env.sh"]
    assert "export OPENBLAS_CORETYPE=Haswell" in kw["job_script_prologue"]
    assert kw["worker_extra_args"] == [
        "--lifetime",
        "100m",
        "--lifetime-stagger",
        "5m",
        "--lifetime-restart",
    ]
    assert "host" not in kw["scheduler_options"]
    assert load_profile("local").name == "local"
    assert slurm_cluster_kwargs(load_profile("local"))["scheduler_options"]["host"] == "127.0.0.1"

    from dask_jobqueue import SLURMCluster

    script = SLURMCluster(
        **{**kw, "scheduler_options": {"host": "127.0.0.1", "dashboard_address": None}}
    ).job_script()
    assert (
        "#SBATCH -p gpu" in script
        and "#SBATCH --qos=long" in script
        and "--lifetime 100m" in script
    )


def test_bad_scheduler_settings():
    late = SiteProfile(dask={"walltime": "00:30:00", "lifetime_min": 30})
    with pytest.raises(ConfigError, match="lifetime_min .30. must be below dask.walltime"):
        slurm_cluster_kwargs(late)
    assert walltime_minutes("1-00:30:00") == 1470 and walltime_minutes("45") == 45
    with pytest.raises(ConfigError, match="--scheduler 'sluurm'"):
        with dask_client("sluurm"):
            pass
    with pytest.raises(SchedulerError, match="cannot reach a Dask scheduler"):
        with dask_client("tcp://127.0.0.1:9"):
            pass


def test_run_with_dask_checks_out_then_starts_one_client(tmp_path):
    """The one start of collect's and the demo's client: --out is checked before any cluster
    starts; the work runs on a real local cluster that is gone afterwards."""
    blocker = tmp_path / "file"
    blocker.write_text("a file where the results folder should go")
    called = []
    with pytest.raises(RunDirError, match="--out .* cannot be created"):
        run_with_dask(called.append, blocker / "res")
    assert called == []
    lines: list[str] = []
    clients = []

    def work(client):
        clients.append(client)
        return client.submit(sum, [1, 2], pure=False).result()

    assert run_with_dask(work, tmp_path / "res", workers=1, announce=lines.append) == 3
    assert len(lines) == 1 and lines[0].startswith("dask dashboard: http://127.0.0.1:")
    assert (tmp_path / "res").is_dir() and clients[0].status == "closed"


def _jobs(name: str) -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.split("\n") if out.stdout.strip() else []


def test_local_workers_compute_on_the_portable_numpy_path(monkeypatch):
    """collect's workers: numpy at AVX2, OpenBLAS's Haswell kernels, IEEE denormals (metrics of
    the same predictions are the same bits on every machine; rvhpc.numerics), whatever the
    environment of the process that starts them."""
    from rvhpc.kernels import worker_numerics
    from rvhpc.numerics import METRICS_ENV

    for key in METRICS_ENV:
        monkeypatch.delenv(key, raising=False)
    with dask_client("local", workers=1) as client:
        seen = client.run(worker_numerics)
    assert list(seen.values()) == [
        {"numpy_dispatch": "avx2", "openblas_coretype": "Haswell", "denormals": "ieee"}
    ], seen


def test_collect_on_slurm_cluster(tmp_path, slurm_cluster):
    qobs = observed(3)
    runs = tmp_path / "runs"
    for seed in (1, 2):
        cell(runs, "ea", "physics", None, seed, qobs, noisy(qobs, seed))
        cell(runs, "ea", "one_hot", None, seed, qobs, noisy(qobs, 5 + seed))
    name = f"rvhpc-test-{uuid.uuid4().hex[:8]}"
    try:
        with dask_client(
            "slurm", workers=1, profile="local", log_dir=tmp_path / "logs", job_name=name
        ) as client:
            client.wait_for_workers(1, timeout=240)
            assert _jobs(name), "no worker job in squeue"
            rep = collect(runs, tmp_path / "res", client)
            worker_env = client.run(lambda: __import__("os").environ.get("SLURM_JOB_ID"))
            from rvhpc.kernels import worker_numerics

            numerics_seen = client.run(worker_numerics)
        assert all(v for v in worker_env.values()), worker_env
        assert all(v["numpy_dispatch"] == "avx2" for v in numerics_seen.values()), numerics_seen
        assert len(rep.computed) == 4 and rep.problems == []
        m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
        assert set(m["experiment"]) == {"EP", "EO"} and (m["member"] == "ensemble").sum() == 2 * 3
    finally:
        for _ in range(60):  # scancel from cluster.close() may still be completing
            leftover = _jobs(name)
            if not leftover:
                break
            time.sleep(0.5)
        if leftover:
            subprocess.run(["scancel", "-n", name], timeout=30)
    assert leftover == [], f"worker jobs left running: {leftover}"
