"""Issue 19, items 1-5, tried as a hostile or careless user would: folders holding another run,
DIVERGED records, NaN and infinite predictions, tampered fold predictions and configs, basin lists
naming basins the store lacks, and experiment names. Every case ends in one short line (or the
state it names), never a traceback, and never in a result counted complete."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import write_manifest
from rvhpc.runfiles import CONFIG_JSON, DIVERGED
from rvhpc.runrecords import write_done
from tests.collect.conftest import DATES, basin_ids, noisy, observed
from tests.hostile._b_support import one_line, rvhpc
from tests.hpc._gridtools import write_grid
from tests.support.fake_runs import mark_done, write_cell

ONE = [{"arch": "ea", "static": "physics"}]


def _short(line: str) -> None:
    assert len(line.encode()) < 500 and "\n" not in line, line


def _done_cell(tmp_path: Path, record) -> Path:
    """A one-cell grid whose run folder holds DONE and the config.json ``record(config)``."""
    path = write_grid(tmp_path, experiments=ONE)
    (cell,) = load_grid(path).cells
    mark_done(cell.run_dir)
    written = record(dict(cell.config))
    text = written if isinstance(written, str) else json.dumps(written)
    (cell.run_dir / CONFIG_JSON).write_text(text)
    return path


def _collect(client, runs: Path, out: Path, *needles: str) -> str:
    """``rvhpc collect`` on the shared Dask cluster: exit 2 and one error line with ``needles``."""
    from typer.testing import CliRunner

    from rvhpc.cli import app

    args = ["collect", str(runs), "--out", str(out), "--scheduler", client.scheduler.address]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and all(n in errors[0] for n in needles), result.output
    return errors[0]


def _state(path: Path) -> dict:
    proc = rvhpc("status", path, "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    return cell


# ---------------------------------------------------------------- 1. folders holding another run


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (lambda c: c | {"hidden": 99}, "stale: hidden 99 -> 8"),
        # left out of the identity at its default, still compared
        (lambda c: c | {"output_stats": "original"}, "stale: output_stats original -> observed"),
        (lambda c: {k: v for k, v in c.items() if k != "epochs"}, "stale: epochs (unset) -> 2"),
        (lambda c: "{not json", "stale: config.json unreadable"),
        (lambda c: "[1, 2]", "stale: config.json is not a JSON object"),
        (lambda c: c | {"seq_length": "30"}, "stale: seq_length 30 -> 30"),  # text, not 30
    ],
    ids=["train-key", "default-left-out", "key-missing", "not-json", "a-list", "number-as-text"],
)
def test_folder_holding_another_run_is_stale_not_done(tmp_path, record, reason) -> None:
    path = _done_cell(tmp_path, record)
    cell = _state(path)
    assert cell["state"] == "stale" and cell["reason"].startswith(reason), cell
    _short(cell["reason"])
    # the array task refuses it in one line rather than resuming or overwriting
    manifest = write_manifest(load_grid(path))
    line = one_line(rvhpc("cell", manifest, "--index", "0"), "stale", "--rerun-stale", code=2)
    _short(line)


def test_a_name_or_a_paired_label_is_no_other_run(tmp_path) -> None:
    path = _done_cell(tmp_path, lambda c: c | {"name": "Renamed", "scenario": {"x": 1}})
    assert _state(path)["state"] == "done"


# ---------------------------------------------------------------- 2. divergence records


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"epoch": 3, "reason": "training loss nan"}', "diverged at epoch 3 (training loss nan)"),
        ("garbage \x00\xff", "diverged (DIVERGED unreadable)"),
        ("[]", "diverged (DIVERGED unreadable)"),
    ],
    ids=["record", "garbage", "not-a-mapping"],
)
def test_diverged_cell_is_never_done_even_beside_a_done(tmp_path, text, reason) -> None:
    path = _done_cell(tmp_path, lambda c: c)  # DONE and this cell's config: done ...
    (cell,) = load_grid(path).cells
    (cell.run_dir / DIVERGED).write_text(text, errors="surrogateescape")  # ... until DIVERGED
    state = _state(path)
    assert state["state"] == "diverged" and state["reason"] == reason, state
    shown = rvhpc("grid", "show", path)
    assert shown.returncode == 0 and "diverged" in shown.stdout


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan], ids=["inf", "-inf", "nan"])
def test_non_finite_predictions_are_named_by_collect(tmp_path, client, value) -> None:
    qobs, ids = observed(3), basin_ids(3)
    sim = noisy(qobs, 1)
    sim[2, 100] = value  # one day of one basin is enough
    run_dir = tmp_path / "runs/t/ea/physics/seed1"
    write_cell(run_dir, "ea", "physics", None, None, 1, ids, DATES, qobs, sim)
    if not np.isfinite(qobs[2, 100]):
        pytest.skip("the chosen day has no observation")
    line = _collect(client, tmp_path / "runs", tmp_path / "res", "NaN predictions", ids[2])
    _short(line)


# ---------------------------------------------------------------- 3. tampered fold records


def _fold(tmp_path: Path, edit) -> Path:
    qobs, ids = observed(4), basin_ids(4)
    runs = tmp_path / "runs"
    for fold, rows in enumerate(([0, 2], [1, 3])):
        held = [ids[i] for i in rows]
        run_dir = runs / f"all/kfold2-s0/fold{fold}/ea/physics/seed1"
        write_cell(run_dir, "ea", "physics", None, None, 1, held, DATES, qobs[rows], qobs[rows])
        config = json.loads((run_dir / CONFIG_JSON).read_text())
        config.update(basins=[b for b in ids if b not in held], eval_basins=held)
        config["scenario"] = {"basin_list": "all", "evaluation": "kfold", "folds": 2}
        config["scenario"] |= {"fold_seed": 0, "fold": fold}
        if fold == 0:
            edit(config)
        (run_dir / CONFIG_JSON).write_text(json.dumps(config))
        write_done(run_dir)
    return runs


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda c: c.update(eval_basins=c["eval_basins"][:1]), "not in config.json eval_basins"),
        (lambda c: c.update(eval_basins=c["eval_basins"] + ["09999999"]), "lacks 1 basin"),
        (lambda c: c.update(eval_basins="01000000"), "eval_basins is not a list of basin ids"),
        (lambda c: c.update(basins=c["basins"] + c["eval_basins"]), "cannot also be a training"),
    ],
    ids=["fewer-held-out", "more-held-out", "not-a-list", "held-out-also-trained"],
)
def test_fold_config_and_predictions_must_agree(tmp_path, client, edit, needle) -> None:
    runs = _fold(tmp_path, edit)
    _short(_collect(client, runs, tmp_path / "res", "fold0", needle))


# ---------------------------------------------------------------- 4. basins the store lacks


def _lists_grid(tmp_path: Path, lists: dict, evaluation=None) -> Path:
    path = write_grid(tmp_path, experiments=ONE)
    spec = yaml.safe_load(path.read_text())
    folder = tmp_path / "lists"
    folder.mkdir()
    for name, ids in lists.items():
        (folder / f"{name}.txt").write_text("".join(f"{b}\n" for b in ids))
    spec["data"]["basins"] = {name: f"lists/{name}.txt" for name in lists}
    spec["experiments"] = [{"arch": "ea", "static": "physics", "evaluation": evaluation}]
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    ("lists", "evaluation"),
    [
        ({"x": ["09999999"]}, None),
        ({"x": ["09999999", "09999998", "09999997"]}, {"scheme": "kfold", "folds": 3}),
        ({"ok": "SMOKE", "bad": ["01234567"]}, None),
    ],
    ids=["trained-on", "held-out-in-every-fold", "second-list"],
)
def test_basins_missing_from_synthetic_data_refused_up_front(tmp_path, lists, evaluation) -> None:
    from rvhpc.grid.basinlists import synthetic_ids

    lists = {k: synthetic_ids(5, 7) if v == "SMOKE" else v for k, v in lists.items()}
    path = _lists_grid(tmp_path, lists, evaluation)
    for command in (("grid", "show"), ("run",), ("submit", "--dry-run", "--profile", "local")):
        line = one_line(rvhpc(*command, path), "not in the 5 synthetic basins", code=2)
        _short(line)
    assert not (tmp_path / "runs" / "smoke" / "data").exists()  # nothing prepared or trained


# ---------------------------------------------------------------- 5. names


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("line\nbreak", "without control characters"),
        ("tab\there", "without control characters"),
        ("", "1 to 64 characters"),
        ("EP@all", "without '@'"),
        (7, "name"),
    ],
    ids=["newline", "tab", "empty", "at-sign", "a-number"],
)
def test_bad_experiment_names(tmp_path, name, needle) -> None:
    path = write_grid(tmp_path, experiments=[{"name": name, "arch": "ea", "static": "physics"}])
    line = one_line(rvhpc("grid", "show", path), needle, code=2)
    _short(line)
    assert "line\nbreak" not in line


def test_two_experiments_one_name_across_dims(tmp_path) -> None:
    experiments = [
        {"name": "R", "arch": "ea", "static": "gaussian", "dims": [8, 16]},
        {"name": "R-16", "arch": "ea", "static": "physics"},
    ]
    path = write_grid(tmp_path, experiments=experiments)
    _short(one_line(rvhpc("grid", "show", path), "has the name 'R-16' of experiments[0]", code=2))


def test_edited_synthetic_spec_is_refused_not_silently_kept(tmp_path) -> None:
    """The synthetic tree is generated once: an edited ``data.synthetic`` (more basins) would
    keep the old tree, and its plain cells (no basin list) would count as done."""
    from rvhpc import progress
    from rvhpc.data.ensure import ensure_data
    from rvhpc.grid.manifest import data_plan

    progress.set_quiet(True)
    path = write_grid(tmp_path, experiments=ONE)
    ensure_data(data_plan(load_grid(path)))
    spec = yaml.safe_load(path.read_text())
    spec["data"]["synthetic"]["basins"] = 6
    path.write_text(yaml.safe_dump(spec))
    line = one_line(rvhpc("run", path), "data.synthetic", "differs from the tree", code=2)
    _short(line)
    assert not list((tmp_path / "runs").rglob("config.json"))  # nothing trained
