"""Issue 10, defect 12a: the Dask dashboard listens where the scheduler does (loopback by default),
not on every interface. Checked on the real listening sockets (/proc/net/tcp*)."""

from __future__ import annotations

from pathlib import Path

from rvhpc.hpc.dask_cluster import LOOPBACK, dask_client, slurm_cluster_kwargs
from rvhpc.hpc.profile import SiteProfile, load_profile

_LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


def listening_addresses(port: int) -> set[str]:
    """Hex local addresses of the sockets listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1].split("/")[0])


def test_local_cluster_dashboard_on_loopback() -> None:
    with dask_client("local", workers=1) as client:
        info = client.scheduler_info()
        assert info["address"].startswith(f"tcp://{LOOPBACK}:")
        dashboard = info["services"]["dashboard"]
        scheduler = listening_addresses(_port(info["address"]))
        board = listening_addresses(dashboard)
    assert scheduler and scheduler <= _LOOPBACK_HEX, scheduler
    assert board and board <= _LOOPBACK_HEX, f"dashboard listens on {board}"


def test_slurm_cluster_dashboard_beside_its_scheduler() -> None:
    from dask_jobqueue import SLURMCluster

    local = slurm_cluster_kwargs(load_profile("local"))["scheduler_options"]
    assert local["host"] == LOOPBACK and local["dashboard_address"] == f"{LOOPBACK}:0"
    # a site without a host: workers on other nodes reach the scheduler on every interface, and
    # the dashboard follows it there (both ":0"-style, the same address)
    site = slurm_cluster_kwargs(SiteProfile(name="site"))["scheduler_options"]
    assert "host" not in site and site["dashboard_address"] == ":0"
    with SLURMCluster(**slurm_cluster_kwargs(load_profile("local"))) as cluster:
        # no worker job is submitted: only the scheduler and its dashboard start, here
        board = listening_addresses(_port(cluster.dashboard_link.split("/status")[0]))
        scheduler = listening_addresses(_port(cluster.scheduler_address))
    assert scheduler and scheduler <= _LOOPBACK_HEX, scheduler
    assert board and board <= _LOOPBACK_HEX, f"dashboard listens on {board}"
