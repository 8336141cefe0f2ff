"""Defect 2: the Dask worker job script took the profile's modules, python, partition, account and
qos unquoted. It now goes through rvhpc.hpc.quoting, the path the array jobs use."""

from __future__ import annotations

import subprocess

import pytest
from dask_jobqueue.slurm import SLURMJob

from rvhpc.errors import ConfigError
from rvhpc.hpc.dask_cluster import slurm_cluster_kwargs
from rvhpc.hpc.profile import SiteProfile

#: SLURMCluster arguments that are the cluster's, not the job's
_CLUSTER_ONLY = ("scheduler_options",)


def job_script(profile: SiteProfile, log_dir=None) -> str:
    kw = slurm_cluster_kwargs(profile, log_dir)
    for key in _CLUSTER_ONLY:
        kw.pop(key)
    return SLURMJob(scheduler="tcp://127.0.0.1:9", name="w0", **kw).job_script()


def test_hostile_profile_values_run_nothing(tmp_path):
    profile = SiteProfile(
        modules=["cuda/$(touch PWNED)", "gcc;touch PWNED2"],
        python="true $(touch PWNED3)",
        partition="gpu $(touch PWNED4)",
        account="acct`touch PWNED5`",
        qos="q'$(touch PWNED6)'",
    )
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "job.sh"
    script.write_text(job_script(profile, log_dir=tmp_path / "logs $(touch PWNED7)"))
    # `module` records its arguments, as the real one would see them
    proc = subprocess.run(
        [
            "bash",
            "-c",
            'module() { printf "%s\\n" "$@" >> module.args; }; export -f module; bash "$1"',
            "bash",
            str(script),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    made = sorted(p.name for p in work.iterdir())
    assert not [n for n in made if n.startswith("PWNED")], (made, script.read_text())
    assert (work / "module.args").read_text().splitlines() == [
        "load",
        "cuda/$(touch PWNED)",
        "load",
        "gcc;touch PWNED2",
    ]
    # the interpreter is looked up as one word: the whole hostile string, not `true`
    assert "true $(touch PWNED3): command not found" in proc.stderr, proc.stderr


@pytest.mark.parametrize("field", ["partition", "account", "qos", "python"])
def test_line_breaks_refused(field):
    profile = SiteProfile(**{field: "gpu\ntouch PWNED"})
    with pytest.raises(ConfigError, match="line break"):
        slurm_cluster_kwargs(profile)


def test_module_line_break_refused():
    with pytest.raises(ConfigError, match="modules: .* holds a line break"):
        slurm_cluster_kwargs(SiteProfile(modules=["cuda\ntouch PWNED"]))
