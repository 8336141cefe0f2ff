"""The estimate's probe turns timed steps into rates that price a pack correctly: a pack ratio
of 1.0 (a K-member pack trains K members as fast as K runs one after the other) prices a pack
of K cells exactly like the K cells unpacked."""

from __future__ import annotations

import pytest

from rvhpc.grid.rates import Rate
from rvhpc.training.probe import Job, _rates, spread

SHAPE = {"hidden": 8, "batch_size": 64, "seq_length": 30}


def test_pack_rates_are_per_member() -> None:
    ea = Job("ea", 27, 5, 0.7, single=[2.0, 2.2, 1.8], ratios=[1.0, 1.2, 0.8])
    ct = Job("ct", 27, 5, 0.3, single=[4.0])
    rates = {(r["arch"], r["members"]): r for r in _rates([ea, ct], 64, "cpu", SHAPE)}
    assert rates[("ea", 1)]["samples_per_s_per_member"] == pytest.approx(64 / 2.0)
    # ratio 1.0: five members share the samples/s of one K=1 run
    assert rates[("ea", 5)]["samples_per_s_per_member"] == pytest.approx(64 / 2.0 / 5)
    assert rates[("ea", 5)]["spread"] == pytest.approx(0.4)
    assert rates[("ct", 5)]["samples_per_s_per_member"] == pytest.approx(64 / 4.0 / 5)
    assert "borrowed from ea d=27" in rates[("ct", 5)]["note"]
    assert rates[("ct", 1)]["spread"] is None and spread([1.0]) is None
    for r in rates.values():
        Rate.model_validate(r)  # what the projection reads


def test_a_faster_pack_is_priced_cheaper(tmp_path) -> None:
    from rvhpc.grid.estimate import probe_jobs, project
    from rvhpc.grid.expand import load_grid
    from tests.hpc._gridtools import write_grid

    grid = load_grid(write_grid(tmp_path, experiments=[{"arch": "ea", "static": "physics",
                                                         "seeds": [0, 1, 2, 3, 4]}]))  # fmt: skip
    (job,) = probe_jobs(grid)
    assert (job.arch, job.n_static, job.members, job.share) == ("ea", 27, 5, 1.0)
    for ratio, packed_share in ((1.0, 1.0), (2.0, 0.5)):
        job.single, job.ratios = [1.0], [ratio]
        rates = [Rate.model_validate(r) for r in _rates([job], 64, "cpu", SHAPE)]
        pr = project(grid, rates)
        assert pr["hours_packed"] == pytest.approx(pr["hours_unpacked"] * packed_share)
