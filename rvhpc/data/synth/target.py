"""The folder ``rvhpc data synth`` writes into: refused when it already holds a dataset's files,
unless ``--overwrite`` (which replaces only the files synth writes)."""

from __future__ import annotations

from pathlib import Path

from rvhpc.errors import DataError


def refuse_occupied(root: Path, markers: tuple[str, ...], title: str, overwrite: bool) -> None:
    """DataError when ``root`` holds any of ``markers`` (the dataset's top-level files) and
    ``overwrite`` is not given.

    Parameters
    ----------
    root : Path
        The folder to write.
    markers : tuple of str
        Names whose presence means the folder already holds the dataset.
    title : str
        The dataset, for the message (``CAMELS US``, ``Caravan``).
    overwrite : bool
        Replace the files synth writes.
    """
    held = [m for m in markers if (root / m).exists()]
    if held and not overwrite:
        raise DataError(
            f"{root}: already holds {title} files ({', '.join(held)}); choose an empty folder, "
            "or pass --overwrite to replace the files synth writes (nothing else is touched)"
        )
