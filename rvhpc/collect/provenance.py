"""What produced each cell (its ``provenance.json``), checked across the seeds of an experiment.

Seeds trained under different numerics modes, kernel paths or devices (a grid spread over unlike
nodes, a resume on another machine) differ by more than their seeds: their ensemble mixes kernel
noise into the seed spread. Collect still ensembles them, and warns, naming the cells.
"""

from __future__ import annotations

from rvhpc.collect.discover import Cell
from rvhpc.collect.experiment import Experiment
from rvhpc.numerics import describe, kernel_key
from rvhpc.runfiles import PROVENANCE_JSON
from rvhpc.runrecords import read_provenance

#: a cell without provenance.json (trained by an rvhpc before it was recorded)
UNRECORDED = ("unrecorded",)


def cell_paths(cell: Cell) -> dict[tuple, str]:
    """The kernel paths a cell was computed on ({key: label}), over its sessions and ranks."""
    sessions = read_provenance(cell.run_dir)
    if not sessions:
        return {UNRECORDED: f"no {PROVENANCE_JSON}"}
    paths: dict[tuple, str] = {}
    for session in sessions:
        for record in session.get("ranks") or []:
            if isinstance(record, dict):
                paths.setdefault(kernel_key(record), describe(record))
    return paths or {UNRECORDED: f"empty {PROVENANCE_JSON}"}


def mixed_warnings(groups: dict[Experiment, list[Cell]]) -> list[str]:
    """One line per experiment whose cells (or one cell's sessions) ran on more than one kernel
    path; none where all agree, or where no cell recorded its path (older runs)."""
    lines = []
    for exp, cells in groups.items():
        paths = {cell: cell_paths(cell) for cell in cells}
        keys = {key for p in paths.values() for key in p}
        if len(keys) < 2 or keys == {UNRECORDED}:
            continue
        shown = "; ".join(
            f"{cell.label}: {' then '.join(p.values())}"
            for cell, p in sorted(paths.items(), key=lambda kv: kv[0].label)
        )
        lines.append(
            f"experiment {exp.name}: its cells were computed under different numerics, kernel "
            f"paths or devices, so their spread is not only the seeds': {shown}"
        )
    return lines
