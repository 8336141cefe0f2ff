"""``rvhpc train``'s options come from TrainConfig (issue 20): every field made with
``rvhpc.training.options.option`` is an option with the field's help and default, and the layout
of ``--seeds`` run folders is decided by the library (rvhpc/training/seedruns.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.errors import ConfigError
from rvhpc.training.config import TrainConfig
from rvhpc.training.seedruns import seed_runs


def test_every_option_field_is_a_train_option_with_its_help() -> None:
    output = CliRunner().invoke(app, ["train", "--help"]).output
    text = " ".join(output.replace("│", " ").split())  # one line, without the box
    fields = TrainConfig.cli_fields()
    assert {f.field for f in fields} >= {"hidden", "epochs", "seed", "precision", "store"}
    for f in fields:
        assert f.option in text, f.option
        assert " ".join(f.help.split()) in text, f.help
    assert "--force" in text and "--seeds" in text and "--attr-seeds" in text


def test_seed_runs_lay_out_one_folder_per_seed(tmp_path: Path) -> None:
    values = {"store": tmp_path / "s.h5", "static": "gaussian", "dim": 4, "hidden": 8}
    configs, dirs = seed_runs(values, tmp_path / "out", seeds=[3, 1], attr_seeds=[7, 8])
    assert dirs == [tmp_path / "out" / "seed3", tmp_path / "out" / "seed1"]
    assert [(c.seed, c.attr_seed, c.hidden) for c in configs] == [(3, 7, 8), (1, 8, 8)]
    configs, _ = seed_runs({**values, "paired_draw": True}, tmp_path / "out", seeds=[3, 1])
    assert [(c.seed, c.attr_seed) for c in configs] == [(3, 3), (1, 1)]
    (one,), (folder,) = seed_runs({**values, "seed": 5}, tmp_path / "run")
    assert one.seed == 5 and folder == tmp_path / "run"


@pytest.mark.parametrize(
    ("values", "seeds", "attr_seeds", "needle"),
    [
        ({"seed": 3}, [0, 1], None, "--seed 3 and --seeds"),
        ({"attr_seed": 2}, [0, 1], [3, 4], "--attr-seed 2 and --attr-seeds"),
        ({}, None, [3], "pairs with --seeds"),
        ({}, [0, 1], [3], "pair them one to one"),
        ({}, [1, 1], None, "own seed"),
    ],
)
def test_seed_runs_refuse_conflicts(tmp_path, values, seeds, attr_seeds, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        seed_runs({"store": tmp_path / "s.h5", **values}, tmp_path, seeds, attr_seeds)
