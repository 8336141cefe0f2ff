"""Grid cells: the training runs of an expanded grid (rvhpc.grid.expand), in array-index order.

A *cell* is one training run: an experiment (arch, static kind, dim, attr_seed) with one init seed.
Its id is a short hash of its training config, so the same cell has the same id in every grid and
on every submission; its run directory mirrors the original code's layout (reference.md section 5).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rvhpc.grid.spec import GridSpec
from rvhpc.grid.state import RunState, cell_state
from rvhpc.runfiles import MANIFESTS_DIR, STATE_DIR


@dataclass(frozen=True)
class Cell:
    """One training run of the grid, in array-index order."""

    index: int
    id: str
    experiment: str
    arch: str
    static: str
    dim: int | None
    attr_seed: int
    seed: int
    run_dir: Path
    config: dict[str, Any]  # the full TrainConfig as JSON values
    scenario: dict[str, Any] | None = None  # basin list, training period, fold (scenarios.py)
    search: dict[str, Any] | None = None  # a search trial's study and space (grid/search.py)

    def to_json(self) -> dict[str, Any]:
        """The cell as JSON values (what the manifest stores).

        Returns
        -------
        dict
        """
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        """A cell from :meth:`to_json`'s values.

        Parameters
        ----------
        data : dict

        Returns
        -------
        Cell
        """
        return cls(**{**data, "run_dir": Path(data["run_dir"])})

    def state(self, fingerprint: str | None = None) -> RunState:
        """What this cell's run directory holds (:func:`rvhpc.grid.state.cell_state`).

        Parameters
        ----------
        fingerprint : str, optional
            The store's fingerprint now; None skips that comparison.

        Returns
        -------
        RunState
        """
        return cell_state(self, fingerprint)

    def is_done(self) -> bool:
        """True when the run directory holds this cell's finished run (DONE and this config); a
        folder holding another config is stale, not done.

        Returns
        -------
        bool
        """
        return self.state().state == "done"

    @property
    def paired(self) -> bool:
        """True when the cell's draw follows its init seed (``attr_seeds: paired``)."""
        return bool(self.config.get("paired_draw"))


def cell_id(config: Any, extra: dict[str, Any] | None = None) -> str:
    """sha1 of the canonical JSON of the config's identity (runtime fields and labels left out),
    12 hex.

    Parameters
    ----------
    config : TrainConfig
    extra : dict, optional
        What a search trial's cells add: their space and trial number, since their settings come
        from the study.

    Returns
    -------
    str
    """
    identity = config.identity() if extra is None else {**config.identity(), **extra}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class Grid:
    """A loaded grid: the validated spec, its file, the store path and the expanded cells."""

    spec: GridSpec
    path: Path
    store: Path
    cells: list[Cell]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def runs_dir(self) -> Path:
        return self.spec.runs_dir

    @property
    def state_dir(self) -> Path:
        """rvhpc's own bookkeeping in the runs directory (manifests, scripts, submissions)."""
        return self.runs_dir / STATE_DIR

    @property
    def log_dir(self) -> Path:
        return self.runs_dir / "logs" / self.name

    def digest(self) -> str:
        """Hash of the cells in order, with their full configs, and of the data section: names the
        manifest, so pending tasks never see another grid. The configs count, not only the ids: a
        grid edited in what the id leaves out (the store's path, an experiment's name, the data it
        prepares) gets a manifest of its own, never the old one that array tasks would follow to the
        old store. Runtime settings (RUNTIME_FIELDS: numerics, device, threads, log_every) are left
        out: they change how a cell runs, not what it computes, and the manifest of that name is
        rewritten with them.

        Returns
        -------
        str
            12 hex.
        """
        from rvhpc.training.identity import RUNTIME_FIELDS

        configs = [
            {k: v for k, v in c.config.items() if k not in RUNTIME_FIELDS} for c in self.cells
        ]
        text = json.dumps(
            [[c.id, str(c.run_dir), config] for c, config in zip(self.cells, configs, strict=True)]
            + [self.spec.data.model_dump(mode="json")],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def manifest_path(self) -> Path:
        """Where :func:`rvhpc.grid.manifest.write_manifest` writes this grid's manifest.

        Returns
        -------
        Path
        """
        return self.state_dir / MANIFESTS_DIR / f"{self.name}-{self.digest()}.json"


def store_path(spec: GridSpec) -> Path:
    """The store a grid's cells train on: ``data.store``, else ``runs_dir/data/store.h5``.

    Parameters
    ----------
    spec : GridSpec

    Returns
    -------
    Path
    """
    return spec.data.store or spec.runs_dir / "data" / "store.h5"
