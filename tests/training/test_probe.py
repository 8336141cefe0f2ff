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


def _jobs() -> list[Job]:
    return [
        Job("ea", 8, 1, 0.1),
        Job("ea", 27, 5, 0.5),
        Job("ct", 27, 5, 0.3),
        Job("ea", 64, 5, 0.1),
    ]


def test_with_no_time_left_the_probe_measures_the_minimum() -> None:
    """Out of time at once: each arch's widest-used job gets one step, the job with the most
    packed work one paired round, and nothing else is measured (the projection borrows)."""
    from rvhpc.training.probe import probe

    jobs = _jobs()
    rates = probe(jobs, device="cpu", budget_s=1e-9, threads=1, **SHAPE)
    by_label = {j.label: j for j in jobs}
    assert [len(by_label[k].single) for k in ("ea d=27", "ct d=27")] == [1, 1]
    assert not by_label["ea d=8"].single and not by_label["ea d=64"].single
    assert len(by_label["ea d=27"].ratios) == 1 and not by_label["ct d=27"].ratios
    assert {(r["arch"], r["n_static"], r["members"]) for r in rates} == {
        ("ea", 27, 1), ("ea", 27, 5), ("ct", 27, 1), ("ct", 27, 5)
    }  # fmt: skip


def test_with_time_the_pack_ratio_states_its_spread() -> None:
    """With time (tiny steps), the first paired job gets at least MIN_ROUNDS rounds, so its
    ratio's spread is known, and every width is measured."""
    from rvhpc.training.probe import MIN_ROUNDS, probe

    jobs = _jobs()
    rates = probe(jobs, device="cpu", budget_s=20, threads=1, **SHAPE)
    assert all(j.single for j in jobs)
    assert len(next(j for j in jobs if j.label == "ea d=27").ratios) >= MIN_ROUNDS
    packed = {r["n_static"]: r for r in rates if r["arch"] == "ea" and r["members"] == 5}
    assert packed[27]["spread"] is not None and packed[27]["steps"] >= MIN_ROUNDS


@pytest.mark.parametrize(("per_member", "verdict"), [(48.0, "within the 10% spread"),
                                                     (80.0, "beyond the 10% spread")])  # fmt: skip
def test_grid_show_says_whether_packing_differs_beyond_the_noise(
    tmp_path, per_member: float, verdict: str
) -> None:
    """A pack ratio of 0.96 measured with a 10% spread is no measured loss; 1.6 is a gain."""
    import json

    from tests.hpc._gridtools import rvhpc, write_grid

    grid = write_grid(tmp_path, experiments=[{"arch": "ea", "static": "physics", "seeds": [0, 1]}])
    one = {"arch": "ea", "members": 1, "samples_per_s_per_member": 100.0}
    rates = [one, dict(one, members=2, samples_per_s_per_member=per_member, spread=0.1)]
    (tmp_path / "rates.json").write_text(json.dumps(rates))
    run = rvhpc("grid", "show", grid, "--rates", tmp_path / "rates.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"packing: {2 * per_member / 100:.2f}x the unpacked speed, {verdict}" in run.stdout
