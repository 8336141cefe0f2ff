"""The files rvhpc ships inside its package, found with :mod:`importlib.resources`.

The one place that knows where they lie; every user imports the path from here:

- ``templates/array.sbatch``: the batch-script template ``rvhpc submit`` renders;
- ``profiles/*.yaml``: the site profiles named by name (``--profile local``);
- ``grids/*.yaml``: the built-in grids (``rvhpc grid show paper``);
- ``container/rvhpc.def``: the Apptainer definition ``rvhpc container build`` uses.

In a checkout ``data/grids``, ``slurm/profiles`` and ``containers/rvhpc.def`` are symbolic links to
these, so each file has exactly one copy (``tests/packaging`` checks it and that a built wheel
carries them). rvhpc is installed as files, never zipped: the paths are real files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(name: str) -> Path:
    path = resources.files(__name__) / name
    # a regular package on disk: files() is a pathlib.Path (rvhpc is not zip-safe)
    return Path(str(path))


def templates_dir() -> Path:
    """Folder of the batch-script templates."""
    return _folder("templates")


def sbatch_template() -> Path:
    """The Slurm array batch-script template (dask-jobqueue's five slots)."""
    return templates_dir() / "array.sbatch"


def profiles_dir() -> Path:
    """Folder of the site profiles shipped with rvhpc (``local``, ``example``)."""
    return _folder("profiles")


def grids_dir() -> Path:
    """Folder of the built-in grids (``smoke``, ``paper``)."""
    return _folder("grids")


def builtin_grid(name: str) -> Path | None:
    """The built-in grid file called ``name``, or None when there is none."""
    path = grids_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def builtin_grid_names() -> list[str]:
    """Names of the built-in grids, sorted."""
    return sorted(p.stem for p in grids_dir().glob("*.yaml"))


def container_definition() -> Path:
    """The Apptainer definition of rvhpc's image."""
    return _folder("container") / "rvhpc.def"
