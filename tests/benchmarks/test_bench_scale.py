"""benchmarks/bench_scale.py end to end at its smallest configuration (``--tiny``), so that the
driver of issue 22's benchmark and the parts it calls cannot rot: every part runs for real (store
builds, reader processes, the first-batch children, ``rvhpc collect``), the report and the
projection are written, and re-rendering the JSON gives the same report. No timings are
asserted; the tiny sizes do not meet the issue's targets and are not meant to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_scale import main
from rvhpc.data.writer import store_bytes

REPO = Path(__file__).resolve().parents[2]


def test_tiny_run_writes_every_part_the_targets_and_the_projection(tmp_path):
    out = tmp_path / "bench_scale"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--tiny", "--out", str(out),
         "--nh-python", str(tmp_path / "no-nh" / "python"), "--work", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["errors"] == {}
    assert set(result["part_s"]) == {"build", "readers", "first_batch", "collect"}
    assert "load average" in result["uptime_before"] and "load average" in result["uptime_after"]

    build = result["build_summary"]
    assert set(build) == {"caravan", "camels_us"}
    assert set(build["caravan"]["time_vs_pandas_parse"]) == {"3", "6"}
    readers = result["readers"]
    assert [r["processes"] for r in readers["mapped"]] == [2]
    assert readers["summary"]["counted_once"] is True
    assert readers["throughput"]["train_samples"] > 0
    fb = result["first_batch"]
    assert "no neuralhydrology venv" in fb["neuralhydrology_skipped"]
    cold, warm = fb["sizes"]["3"]["rvhpc_cold"], fb["sizes"]["3"]["rvhpc_warm"]
    assert cold["samples"] == warm["samples"] > 0
    assert cold["batch_x_d_shape"] == [256, 365, 5]
    assert set(result["collect"]["sizes"]) == {"2", "4"}
    assert "baseline" not in result["collect"]["sizes"]["2"]

    kinds = " | ".join(t["target"] for t in result["targets"])
    for words in ("build peak RSS", "pandas parse", "extra process", "counted once", "sampling",
                  "collect"):  # fmt: skip
        assert words in kinds
    proj = result["projection"]
    row = {(r["basins"], r["years"]): r for r in proj["rows"]}[(22_000, 70)]
    assert row["store_gb"]["5"] == round(store_bytes(22_000, 25_568, 5) / 1e9, 1) == 13.6
    # the order (8 bytes per window) plus the measured index (at most the int32 pairs' 8)
    assert round(22_000 * 25_568 * 8 / 1e9, 2) <= row["index_order_gb"]
    assert row["index_order_gb"] <= round(22_000 * 25_568 * 16 / 1e9, 2)
    assert row["uss_gb"] > row["index_order_gb"]
    assert row["node_gb"]["baseline"] > row["node_gb"]["new"]
    for column in ("store_gb", "build_h", "build_rss_gb", "uss_gb", "node_gb", "collect_gb"):
        assert column in proj["formulas"] and column in row

    report = out.with_suffix(".md").read_text()
    assert "## Projection" in report and "| 22,000 x 70 |" in report
    again = tmp_path / "again"
    main(["--from-json", str(out.with_suffix(".json")), "--out", str(again)])
    assert again.with_suffix(".md").read_text() == report
