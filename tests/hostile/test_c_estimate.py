"""Issue 19, items 6 and 7: the work estimate counts each cell's own basins and period, and a
rates file is checked strictly (a rate or member count of 0, text, a bare number or null ended
in a traceback; a negative or NaN rate printed negative or ``nan`` device-hours)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rvhpc.grid.basinlists import synthetic_ids
from tests.hostile._c_support import bounded, refused
from tests.hpc._gridtools import write_grid

GOOD = {"arch": "ea", "members": 1, "samples_per_s_per_member": 100.0}
TRAIN = {"hidden": 4, "seq_length": 20, "batch_size": 64, "epochs": 3, "device": "cpu"}


def _rates_file(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "rates.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _entry(**changes) -> str:
    return json.dumps([{**GOOD, **changes}])


RATES = {
    "members 0": (_entry(members=0), "entry 0: members"),
    "members as text": (_entry(members="two"), "entry 0: members"),
    "members true": (_entry(members=True), "entry 0: members"),
    "members 1.5": (_entry(members=1.5), "entry 0: members"),
    "rate 0": (_entry(samples_per_s_per_member=0), "entry 0: samples_per_s_per_member"),
    "rate as text": (_entry(samples_per_s_per_member="fast"), "samples_per_s_per_member"),
    "rate null": (_entry(samples_per_s_per_member=None), "samples_per_s_per_member"),
    "rate negative": (_entry(samples_per_s_per_member=-5), "samples_per_s_per_member"),
    "rate NaN": (_entry().replace("100.0", "NaN"), "samples_per_s_per_member"),
    "rate Infinity": (_entry().replace("100.0", "Infinity"), "samples_per_s_per_member"),
    "an unknown arch": (_entry(arch="gpt"), "entry 0: arch"),
    "a bare number": ("42", "expected bench results"),
    "null": ("null", "expected bench results"),
    "a string": ('"fast"', "expected bench results"),
    "an empty list": ("[]", "expected bench results"),
    "a list of numbers": ("[1, 2]", "entry 0: expected a bench result"),
    "rates: 5": ('{"rates": 5}', "expected bench results"),
    "a second entry broken": (
        json.dumps([GOOD, {**GOOD, "members": -1}]),
        "entry 1: members",
    ),
    "a missing key": ('[{"arch": "ea"}]', "every entry needs"),
    "JSON nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "not JSON": ("rate: 5\n", "not JSON"),
    "not UTF-8": (b"\xff\xfe[1]", "not UTF-8"),
    "a 5 MB file": ("[" + " " * (5 << 20) + "]", "larger than"),
    "measured at another shape": (_entry(hidden=64), "measured at hidden 64"),
}


@pytest.mark.parametrize("case", list(RATES))
def test_bad_rates_files_are_one_line(tmp_path: Path, case: str) -> None:
    content, needle = RATES[case]
    rates = _rates_file(tmp_path, content)
    run = bounded("grid", "show", write_grid(tmp_path), "--rates", rates, timeout=120)
    line = refused(run, f"--rates {rates}", needle)
    assert "nan" not in line.split(needle)[0].lower()


def test_a_good_rates_file_gives_positive_hours(tmp_path: Path) -> None:
    rates = [dict(GOOD, arch=a) for a in ("ea", "lstm")] + [dict(GOOD, members=2, hidden=8)]
    path = _rates_file(tmp_path, "\n".join(json.dumps(r) for r in rates))
    run = bounded("grid", "show", write_grid(tmp_path), "--rates", path, "--json")
    assert run.returncode == 0, run.stderr
    pr = json.loads(run.stdout)["estimate"]["projection"]
    assert pr["hours_unpacked"] > pr["hours_packed"] > 0


def _scenario_grid(folder: Path) -> Path:
    """Named lists (9 and 5 basins of 9 synthetic ones), a training period of the last year next
    to the whole two years, and a 3-fold PUB experiment on the 9-basin list."""
    ids = synthetic_ids(9, 3)
    (folder / "lists").mkdir(parents=True)
    for name, chosen in (("all", ids), ("half", ids[::2])):
        (folder / "lists" / f"{name}.txt").write_text("".join(f"{b}\n" for b in chosen))
    spec = {
        "name": "scen",
        "data": {
            "synthetic": {"basins": 9, "start": "2000-01-01", "end": "2003-12-31", "seed": 3},
            "basins": {"all": "lists/all.txt", "half": "lists/half.txt"},
            "store": "runs/data/store.h5",
            "train_period": ["2002-01-01", "2003-12-31"],
            "eval_period": ["2000-03-01", "2001-12-31"],
        },
        "runs_dir": "runs",
        "train": TRAIN,
        "experiments": [
            {
                "arch": "ea",
                "static": "physics",
                "seeds": [0, 1],
                "train_periods": [{"last_years": 1}, ["2002-01-01", "2003-12-31"]],
            },
            {
                "arch": "lstm",
                "static": "none",
                "basin_lists": ["all"],
                "evaluation": {"scheme": "kfold", "folds": 3, "seed": 0},
            },
        ],
    }
    path = folder / "scen.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_estimate_counts_each_cells_own_basins_and_period(tmp_path: Path) -> None:
    grid = _scenario_grid(tmp_path)
    # ea: 2 lists (9, 5 basins) x 2 periods (365, 730 days) x 2 seeds; lstm: 3 folds of the
    # 9-basin list, each training on the 6 basins of the other two folds, over 730 days
    ea = 2 * (9 + 5) * (365 + 730)
    lstm = 3 * 6 * 730
    want = (ea + lstm) * TRAIN["epochs"]
    run = bounded("grid", "show", grid, "--json")
    assert run.returncode == 0, run.stderr
    work = json.loads(run.stdout)["estimate"]
    assert work["sample_epochs"] == want
    assert work["basins_range"] == [5, 9] and work["days_range"] == [365, 730]
    text = bounded("grid", "show", grid)
    assert "unknown basin count" not in text.stdout
    assert f"{want:,} sample-epochs" in text.stdout and "5..9 basins x 365..730 days" in text.stdout
    # the projection charges the same per-cell work: rate 10 samples/s per member
    rates = [dict(GOOD, arch=a, samples_per_s_per_member=10.0) for a in ("ea", "lstm")]
    rates += [dict(GOOD, members=2, samples_per_s_per_member=8.0)]
    path = _rates_file(tmp_path, json.dumps({"rates": rates}))
    run = bounded("grid", "show", grid, "--rates", path, "--json")
    assert run.returncode == 0, run.stderr
    pr = json.loads(run.stdout)["estimate"]["projection"]
    assert pr["hours_unpacked"] == pytest.approx(want / 10 / 3600)
    packed = (ea / 2 / 8 + lstm / 10) * TRAIN["epochs"]  # ea pairs of seeds at 8/s per member
    assert pr["hours_packed"] == pytest.approx(packed / 3600)


def test_estimate_measures_and_says_so_as_it_goes(tmp_path: Path) -> None:
    """``--estimate`` on a tiny grid: one log line per measurement, rates with their origin and
    spread, positive hours; the budget bounds the time."""
    run = bounded(
        "grid", "show", write_grid(tmp_path), "--estimate", "--estimate-seconds", 3, "--json"
    )
    assert run.returncode == 0, run.stderr
    logs = [line for line in run.stderr.splitlines() if "estimate:" in line]
    assert any("ea d=27 K=1:" in line and "samples/s per member" in line for line in logs), logs
    assert any("paired round 1" in line for line in logs), logs
    work = json.loads(run.stdout)["estimate"]
    notes = {(r["arch"], r["members"]): r["note"] for r in work["rates"]}
    assert notes[("ea", 1)].startswith("measured, ") and notes[("lstm", 1)].startswith("measured")
    assert "pack ratio" in notes[("ea", 2)]
    assert work["projection"]["hours_unpacked"] > 0 and work["projection"]["hours_packed"] > 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--samples-per-second", "-5"),
        ("--samples-per-second", "nan"),
        ("--samples-per-second", "0"),
        ("--estimate-seconds", "inf"),
        ("--estimate-seconds", "-1"),
    ],
)
def test_bad_throughput_and_budget_refused(tmp_path: Path, option: str, value: str) -> None:
    run = bounded("grid", "show", write_grid(tmp_path), "--estimate", option, value)
    refused(run, option, "above 0")
