"""Grid files on Caravan: ``data: {dataset, root (a path or a list), basins, format, inputs,
descriptors}``, the data plan made from them, the regions scheme's folds, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rvhpc.data.ensure import ensure_data
from rvhpc.data.store import open_store
from rvhpc.errors import ConfigError
from rvhpc.grid.expand import load_grid
from rvhpc.grid.manifest import data_plan
from tests.conftest import CARAVAN_EVAL, CARAVAN_TRAIN

TRAIN = {"hidden": 4, "seq_length": 20, "batch_size": 32, "epochs": 1, "device": "cpu"}


def write(tmp_path: Path, data: dict, **extra) -> Path:
    spec = {
        "name": "global",
        "data": {"store": "runs/data/store.h5", "train_period": list(CARAVAN_TRAIN),
                 "eval_period": list(CARAVAN_EVAL), **data},
        "runs_dir": "runs",
        "train": TRAIN,
        "experiments": [{"arch": "ea", "static": "physics"}],
        **extra,
    }  # fmt: skip
    path = tmp_path / "global.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_caravan_grid_prepares_its_store_from_two_roots(tiny_caravan, tmp_path):
    import shutil

    core, ext = tmp_path / "Caravan", tmp_path / "grdc_ext"
    shutil.copytree(tiny_caravan.root, core)
    for sub in ("attributes", "timeseries/netcdf", "timeseries/csv"):
        (ext / sub).mkdir(parents=True)
        shutil.move(core / sub / "grdc", ext / sub / "grdc")
    inputs = ["total_precipitation_sum", "temperature_2m_mean", "potential_evaporation_sum"]
    path = write(tmp_path, {
        "dataset": "caravan", "root": [str(core), str(ext)], "basins": str(tiny_caravan.basin_file),
        "format": "csv", "inputs": inputs, "descriptors": ["p_mean", "aridity", "area"],
    }, evaluation={"scheme": "regions"})  # fmt: skip
    grid = load_grid(path)
    regions = sorted({c.scenario["region"] for c in grid.cells})
    assert regions == ["camels", "camelsaus", "grdc", "lamah"] and len(grid.cells) == 4
    assert {c.run_dir.parts[-4] for c in grid.cells} == set(regions)
    plan = data_plan(grid)
    assert plan["dataset"] == "caravan" and plan["roots"] == [str(core), str(ext)]
    assert plan["format"] == "csv" and plan["descriptors"] == ["p_mean", "aridity", "area"]
    store = open_store(ensure_data(plan))
    # v1.4 spellings asked for are the v1.5 columns; three inputs: the models' width is three
    assert store.inputs == [*inputs[:2], "potential_evaporation_sum_ERA5_LAND"]
    assert store.descriptor_names == ["p_mean", "aridity_ERA5_LAND", "area"]
    assert store.n_inputs == 3 and store.basins == tiny_caravan.basins


@pytest.mark.parametrize(
    "data, extra, words",
    [
        ({"dataset": "caravan", "camels_root": "x", "basins": "b.txt"}, {}, "camels_root is"),
        (
            {"dataset": "caravan", "root": "x", "basins": "b.txt", "forcing": "daymet"},
            {},
            "forcing",
        ),
        ({"root": "x", "basins": "b.txt", "format": "csv"}, {}, "format is an option of Caravan"),
        ({"dataset": "gb", "root": "x", "basins": "b.txt"}, {}, "unknown dataset 'gb'"),
        ({"camels_root": "x", "root": "y", "basins": "b.txt"}, {}, "not both"),
    ],
)
def test_data_spec_refusals(tmp_path, data, extra, words):
    with pytest.raises(ConfigError) as err:
        load_grid(write(tmp_path, data, **extra))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_regions_needs_prefixed_ids_and_two_regions(tiny_caravan, tiny_camels, tmp_path):
    camels = {"camels_root": str(tiny_camels.root), "basins": str(tiny_camels.basin_file)}
    with pytest.raises(ConfigError, match="scheme regions: dataset camels_us: basin ids have no"):
        load_grid(write(tmp_path, camels, evaluation={"scheme": "regions"}))
    one = tmp_path / "one.txt"
    one.write_text("".join(f"{b}\n" for b in tiny_caravan.basins if b.startswith("camels_")))
    data = {"dataset": "caravan", "root": str(tiny_caravan.root), "basins": str(one)}
    with pytest.raises(ConfigError, match="at least 2 regions .* holds only camels"):
        load_grid(write(tmp_path, data, evaluation={"scheme": "regions"}))
    with pytest.raises(ConfigError, match="folds apply only to scheme kfold"):
        load_grid(write(tmp_path, data, evaluation={"scheme": "regions", "folds": 3}))


def test_mixed_width_is_checked_against_the_grids_descriptors(tiny_caravan, tmp_path):
    data = {"dataset": "caravan", "root": str(tiny_caravan.root),
            "basins": str(tiny_caravan.basin_file)}  # fmt: skip
    ok = write(tmp_path, data, experiments=[{"arch": "ea", "static": "mixed", "dims": [22]}])
    assert len(load_grid(ok).cells) == 1  # 21 default descriptors + 1 random column
    kfold = write(tmp_path, {**data, "train_periods": [{"last_years": 1}]},
                  evaluation={"scheme": "kfold", "folds": 3})  # fmt: skip
    cells = load_grid(kfold).cells  # k-fold and training periods work on Caravan ids too
    held = [set(c.config["eval_basins"]) for c in cells]
    assert len(cells) == 3 and set().union(*held) == set(tiny_caravan.basins)
    bad = write(tmp_path, data, experiments=[{"arch": "ea", "static": "mixed", "dims": [21]}])
    with pytest.raises(ConfigError, match="the 21 descriptors .* --dim must be >= 22"):
        load_grid(bad)
