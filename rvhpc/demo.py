"""The demo study: the whole pipeline, end to end, on rvhpc's synthetic CAMELS US.

Synthetic data (16 basins, 15 years) -> basin store -> a small grid of the paper's experiments
trained locally through the same entry point as a Slurm array task -> Dask collect -> summary,
paper table and figures. It shows what the study is about: a global LSTM told which basin it is
looking at (by descriptors or by random vectors) beats one that is not.

The design separates the models by more than kernel-path noise (docs/numerics.md): the same
seeds on nine kernel paths of an AMD EPYC and an Intel Xeon moved single experiments' ensemble
median NSE by up to 0.078, and the smallest margin of a model with static vectors over the plain
LSTM within a run was 0.053 or more on every path. A Gaussian d=8 experiment (EG-8) was dropped
for that reason: its margin was 0.016 on one path. The demo runs in portable numerics (the same
bits on every x86-64 CPU with AVX2) on one thread per cell: a run's bits follow its thread
count, and when the local runner shared the machine's CPUs between the cells, a 4-CPU machine
trained each cell on 2 threads and printed another table than a 2-CPU one (on an Intel Xeon,
before Adam was fused: EO 0.691 instead of 0.708, EM-32 0.790 instead of 0.748). More CPUs run
more cells at once instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from rvhpc import progress
from rvhpc.atomic import write_text
from rvhpc.data.pool import usable_cpus
from rvhpc.errors import RvhpcError
from rvhpc.numerics import check_mode
from rvhpc.runrecords import read_provenance

#: the demo's experiments: (arch, static, dims)
DEMO_EXPERIMENTS: tuple[tuple[str, str, tuple[int, ...] | None], ...] = (
    ("ea", "physics", None),
    ("ea", "gaussian", (32,)),
    ("ea", "mixed", (32,)),
    ("ea", "one_hot", None),
    ("lstm", "none", None),
    ("ct", "physics", None),
)
DEMO_SEEDS = (0, 1)

#: training settings: small enough for a 2-core laptop, large enough to learn the basins apart
DEMO_TRAIN = {
    "hidden": 32,
    "seq_length": 90,
    "batch_size": 256,
    "epochs": 10,
    "lr": 3e-3,
    "lr_late": 1e-3,
    "lr_late_epoch": 8,
    "dropout": 0.2,
    "device": "cpu",
    "log_every": 100,
    "threads": 1,  # the same bits on every machine, whatever its CPU count (see above)
}


@dataclass
class DemoResult:
    out: Path
    grid_file: Path
    results_dir: Path
    summary: object  # pandas DataFrame of rvhpc.collect's summary
    seconds: float
    failed_cells: list[int]


def demo_grid(out: Path, basins: int = 16, seed: int = 0, numerics: str = "portable") -> dict:
    """The demo grid as the mapping of a grid YAML file (paths relative to ``out``)."""
    experiments = []
    for arch, static, dims in DEMO_EXPERIMENTS:
        exp: dict = {"arch": arch, "static": static, "seeds": list(DEMO_SEEDS)}
        if dims:
            exp["dims"] = list(dims)
        experiments.append(exp)
    return {
        "name": "demo",
        "data": {
            "synthetic": {
                "basins": basins,
                "start": "1994-01-01",
                "end": "2008-12-31",
                "seed": seed,
            },
            "store": "data/store.h5",
            "train_period": ["2002-10-01", "2008-09-30"],
            "eval_period": ["1995-10-01", "2002-09-30"],
        },
        "runs_dir": "runs",
        "train": {**DEMO_TRAIN, "numerics": numerics},
        "experiments": experiments,
    }


def write_demo_grid(out: Path, basins: int = 16, seed: int = 0, numerics: str = "portable") -> Path:
    """Write ``out/demo.yaml`` (kept when it already exists, so a rerun resumes the same study)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "demo.yaml"
    text = "# written by `rvhpc demo`; rerun `rvhpc demo` (or `rvhpc run` on this file) to resume\n"
    text += yaml.safe_dump(demo_grid(out, basins, seed, numerics), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        write_text(path, text)
    return path


def check_kept_cells(grid, numerics: str) -> None:
    """Refuse finished cells of an earlier demo computed in other numerics (or by an rvhpc that
    recorded none): resumed, they would mix kernel paths into the table the demo's claims are
    about.

    Raises
    ------
    RvhpcError
        Naming the first such cell and what to do.
    """
    for cell in grid.cells:
        if not cell.is_done():
            continue
        sessions = read_provenance(cell.run_dir) or []
        modes = {r.get("numerics") for s in sessions for r in s.get("ranks") or []}
        if modes != {numerics}:
            found = ", ".join(sorted(str(m) for m in modes)) or "unrecorded"
            raise RvhpcError(
                f"demo: {cell.run_dir} was trained in {found} numerics, not {numerics}: remove "
                f"{grid.runs_dir} (or pass another --out) to run the demo again"
            )


def run_demo(
    out: Path,
    jobs: int | None = None,
    workers: int | None = None,
    basins: int = 16,
    numerics: str = "portable",
) -> DemoResult:
    """Generate, prepare, train every cell (``jobs`` at a time, default one per usable CPU; in
    ``numerics``: see rvhpc.numerics) and collect into ``out/results``."""
    from rvhpc.collect import collect
    from rvhpc.grid.expand import load_grid
    from rvhpc.hpc.dask_cluster import run_with_dask
    from rvhpc.hpc.local import run_local

    start = time.monotonic()
    out = Path(out).resolve()
    grid_file = write_demo_grid(out, basins=basins, numerics=check_mode(numerics))
    grid = load_grid(grid_file)
    check_kept_cells(grid, numerics)
    jobs = jobs or max(1, min(usable_cpus(), len(grid.cells)))
    progress.log(
        f"demo: {len(grid.cells)} cells in {grid.runs_dir}, {jobs} at a time, {numerics} numerics"
    )
    local = run_local(grid, jobs=jobs)
    if local.failed:
        logs = ", ".join(str(local.logs[i]) for i in local.failed[:3])
        raise RvhpcError(f"demo: {len(local.failed)} cell(s) failed; see {logs}")
    results = out / "results"
    progress.log("demo: collecting with Dask")
    report = run_with_dask(
        lambda client: collect(grid_file, results, client, baseline="EP"),
        results,
        "local",
        workers=workers,
    )
    return DemoResult(
        out, grid_file, results, report.summary, time.monotonic() - start, local.failed
    )
