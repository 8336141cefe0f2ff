"""The basin ids a grid names: its list files (one, or several named lists), the ids of its
synthetic data, an existing store's, and the union of several lists (the one store they share).
Read once per grid (:class:`ListReader`), before any training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rvhpc.errors import ConfigError
from rvhpc.grid.spec import GridSpec


class ListReader:
    """Reads each basin list once per grid load (ids in file order)."""

    def __init__(self, spec: GridSpec) -> None:
        self.spec = spec
        self._ids: dict[str, tuple[str, ...]] = {}

    def lists(self) -> dict[str, Path] | None:
        basins = self.spec.data.basins
        return basins if isinstance(basins, dict) else None

    def ids(self, name: str) -> tuple[str, ...]:
        if name not in self._ids:
            self._ids[name] = tuple(self._read(name))
        return self._ids[name]

    def _read(self, name: str) -> list[str]:
        from rvhpc.data.datasets import dataset_class

        lists, data = self.lists(), self.spec.data
        read_basin_list = dataset_class(data.dataset).read_basin_list
        if lists is not None:
            return read_basin_list(lists[name])
        if isinstance(data.basins, Path):
            return read_basin_list(data.basins)
        if data.synthetic is not None:
            return synthetic_ids(data.synthetic.basins, data.synthetic.seed, data.dataset)
        store = data.store
        if store is not None and store.is_file():
            return store_basins(store)
        raise ConfigError(
            f"grid {self.spec.name}: k-fold needs the basin ids when the grid is loaded: "
            "give data.basins as a list file, or prepare data.store first"
        )


def store_basins(path: Path) -> list[str]:
    """The basin ids of an existing store, in its order."""
    import h5py

    with h5py.File(path, "r") as f:
        return [b.decode() for b in f["basins"][:]]


def synthetic_ids(n: int, seed: int, dataset: str = "camels_us") -> list[str]:
    """The basin ids ``rvhpc data synth --dataset D --basins n --seed seed`` lists (its first
    draws)."""
    if dataset == "caravan":
        from rvhpc.data.synth.caravan import caravan_ids

        return caravan_ids(n, seed)
    from rvhpc.data.synth import attrs as synth_attrs

    return sorted(str(b) for b in synth_attrs.sites(np.random.default_rng(seed), n)["id"])


def union_ids(spec: GridSpec, reader: ListReader) -> list[str]:
    """Every basin of the grid's lists, first appearance first (the store they share)."""
    lists = reader.lists() or {}
    return list(dict.fromkeys(b for name in lists for b in reader.ids(name)))
