"""Grids with ``--pack seeds``: cells that differ only in seed train as one batched model per
process (local runner and the real Slurm cluster), and every cell still ends DONE with its own
status, attempts and run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.hpc._gridtools import REPO, rvhpc, write_grid


def test_pack_groups_pair_attr_seeds_and_split_an_attr_axis() -> None:
    from rvhpc.grid.cells import Cell
    from rvhpc.grid.packing import pack_groups

    def cell(index, seed, attr, arch="ea"):
        config = {"arch": arch, "static": "gaussian", "dim": 8, "seed": seed, "attr_seed": attr}
        return Cell(index, f"c{index}", "EG-8", arch, "gaussian", 8, attr, seed, Path("r"), config)

    paired = [cell(0, 0, 10), cell(1, 1, 11), cell(2, 2, 12), cell(3, 0, 0, arch="sr")]
    assert [[c.index for c in g] for g in pack_groups(paired)] == [[0, 1, 2], [3]]
    axis = [cell(0, 0, 1), cell(1, 1, 1), cell(2, 0, 2), cell(3, 1, 2)]
    assert [[c.index for c in g] for g in pack_groups(axis)] == [[0, 1], [2, 3]]


def test_run_smoke_packed_locally_completes_every_cell(tmp_path: Path) -> None:
    proc = rvhpc("run", "smoke", "--jobs", "2", "--pack", "seeds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "6 cells run, 0 already done, 0 failed" in proc.stdout
    status = json.loads(rvhpc("status", "smoke", "--json", cwd=tmp_path).stdout)
    assert status["counts"]["done"] == 6
    attempts = list((tmp_path / "runs" / "smoke" / ".rvhpc" / "attempts").glob("*.jsonl"))
    assert len(attempts) == 6
    pids = {
        json.loads(line)["pid"]
        for a in attempts
        for line in a.read_text().splitlines()
        if json.loads(line)["event"] == "start"
    }
    assert len(pids) == 4  # ea/physics x2 seeds, ea/gaussian x2 seeds, one_hot, lstm
    again = rvhpc("run", "smoke", "--pack", "seeds", cwd=tmp_path)
    assert again.returncode == 0 and "0 cells run, 6 already done" in again.stdout


def test_profile_pack_shrinks_the_array_in_a_dry_run(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    prof = yaml.safe_load((REPO / "slurm" / "profiles" / "local.yaml").read_text())
    prof["pack"] = "seeds"
    (tmp_path / "packed.yaml").write_text(yaml.safe_dump(prof))
    proc = rvhpc("submit", grid, "--profile", tmp_path / "packed.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "--pack seeds" in proc.stdout
    assert "6 cells in 4 task(s)" in proc.stderr
    proc = rvhpc("submit", grid, "--profile", "local", "--pack", "bogus", "--dry-run")
    assert proc.returncode == 2 and "unknown pack mode 'bogus'" in proc.stderr


@pytest.mark.slurm
def test_packed_submission_on_slurm_ends_with_every_cell_done(
    tmp_path: Path, slurm_cluster
) -> None:
    from tests.hpc.test_slurm_integration import _all_done, _status, _submit, _wait

    grid = write_grid(tmp_path, name="packed")
    ids = _submit(grid, "--pack", "seeds", "--max-parallel", "2")
    subs = json.loads((tmp_path / "runs" / "packed" / ".rvhpc" / "submissions.json").read_text())
    arrays = subs["arrays"]
    # 4 tasks instead of 6; leads 0, 2, 4 and 5 (MaxArraySize 5 splits off the last)
    assert [(a["offset"], a["task_ids"]) for a in arrays] == [(0, [0, 2, 4]), (5, [0])]
    assert arrays[0]["packs"]["0"] == [0, 1] and arrays[0]["packs"]["2"] == [2, 3]
    _wait("every packed cell DONE", grid, lambda: _all_done(grid))
    st = _status(grid)
    assert [c["state"] for c in st["cells"]] == ["done"] * 6
    assert {c["job"] for c in st["cells"][:2]} == {f"{ids[0]}_0"}


def test_grid_estimate_from_rates_packed_and_unpacked(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)  # 5 basins x 730 training days x 2 epochs per cell
    rates = [
        {"arch": "ea", "members": 1, "samples_per_s_per_member": 100.0, "device": "cpu"},
        {"arch": "ea", "members": 2, "samples_per_s_per_member": 80.0, "device": "cpu"},
        {"arch": "lstm", "members": 1, "samples_per_s_per_member": 50.0, "device": "cpu"},
    ]
    (tmp_path / "rates.json").write_text("\n".join(json.dumps(r) for r in rates))
    proc = rvhpc("grid", "show", grid, "--estimate", "--rates", tmp_path / "rates.json", "--json")
    assert proc.returncode == 0, proc.stderr
    pr = json.loads(proc.stdout)["estimate"]["projection"]
    cell = 5 * 730 * 2
    assert pr["hours_unpacked"] == pytest.approx((5 * cell / 100 + cell / 50) / 3600)
    # packs: ea/physics x2 and ea/gaussian x2 at 80/s per member, one_hot alone, lstm alone
    assert pr["hours_packed"] == pytest.approx((2 * cell / 80 + cell / 100 + cell / 50) / 3600)
    assert (pr["cells"], pr["packs"]) == (6, 4)
    text = rvhpc("grid", "show", grid, "--rates", tmp_path / "rates.json").stdout
    assert "device-hours unpacked (6 processes)" in text and "packed (--pack seeds, 4" in text
    (tmp_path / "bad.json").write_text('[{"arch": "ea"}]')
    bad = rvhpc("grid", "show", grid, "--rates", tmp_path / "bad.json")
    assert bad.returncode == 2 and "every entry needs" in bad.stderr


def test_bench_members_prints_one_json_line(tmp_path: Path) -> None:
    proc = rvhpc(
        "bench", "--arch", "ct", "--members", "2", "--n-static", "40", "--hidden", "8",
        "--batch-size", "16", "--seq-length", "10", "--steps", "1", "--warmup", "0",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    result = json.loads(line)
    assert (result["members"], result["n_static"], result["arch"]) == (2, 40, "ct")
    assert result["samples_per_s"] == pytest.approx(2 * result["samples_per_s_per_member"])
