"""The README's main-job command, run as written, and the study's point on its own output:
every model given a static vector beats the no-static LSTM in ensemble median NSE."""

from __future__ import annotations

import os
import subprocess

import pandas as pd
import pytest

from tests.cli.test_readme import REPO, quick_start_commands


# the demo trains 14 cells, 2 at a time: about 9 minutes on 2 cores; the limits leave room for a
# slower CI machine
@pytest.mark.timeout(1800)
def test_readme_demo_command_runs_the_study_and_statics_beat_no_statics() -> None:
    demo_command = quick_start_commands()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(
        ["bash", "-c", demo_command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert proc.returncode == 0, (
        f"{demo_command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    results = REPO / "demo-out" / "results"
    summary = pd.read_csv(results / "summary.csv").set_index("experiment")
    expected = {"EP", "EG-8", "EG-32", "EM-32", "EO", "CP", "LSTM"}
    assert set(summary.index) == expected
    assert (summary["seeds"] == 2).all()
    no_static = summary.loc["LSTM", "ensemble_median_nse"]
    with_static = summary.drop(index="LSTM")["ensemble_median_nse"]
    assert (with_static > no_static).all(), summary["ensemble_median_nse"].to_string()
    for name in ("paper_table.md", "summary.md", "metrics.parquet"):
        assert (results / name).stat().st_size > 0
    assert list(results.glob("*.png")), "no figures written"
    assert "demo finished" in proc.stdout
