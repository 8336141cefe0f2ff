"""``collect GRID``: the grid's cells and run directories come from rvhpc.grid.expand.load_grid."""

from __future__ import annotations

import pandas as pd

from rvhpc.collect import collect
from rvhpc.grid.expand import load_grid
from tests.collect.conftest import DATES, basin_ids, noisy, observed
from tests.support.fake_runs import write_cell


def test_collect_a_grid_file(tmp_path, client):
    grid_file = tmp_path / "g.yaml"
    grid_file.write_text(
        "name: g\ndata: {store: data/store.h5}\nruns_dir: runs\n"
        "experiments:\n  - {arch: ea, static: physics, seeds: [0, 1]}\n"
        "  - {arch: ea, static: gaussian, dims: [8], seeds: [0]}\n"
    )
    grid = load_grid(grid_file)
    qobs = observed(3)
    for c in grid.cells[:2]:  # the gaussian cell has not run yet
        write_cell(
            c.run_dir,
            c.arch,
            c.static,
            c.dim,
            c.attr_seed,
            c.seed,
            basin_ids(3),
            DATES,
            qobs,
            noisy(qobs, c.seed),
            config=c.config,  # what training records: the cell's config
        )
    rep = collect(grid_file, tmp_path / "res", client)
    assert rep.cells == 2 and rep.unfinished == ["store/ea/num_of_sf/8/0/seed0"]
    m = pd.read_parquet(tmp_path / "res" / "metrics.parquet")
    assert set(m["member"]) == {"0", "1", "ensemble"} and set(m["experiment"]) == {"EP"}
