"""A look inside a store without opening it as a :class:`~rvhpc.data.store.BasinStore`: its
summary (``rvhpc data info``), one basin's series (``rvhpc data show``) and its attribute table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data import storeattrs
from rvhpc.data.datasets.base import TARGET
from rvhpc.data.storeread import open_checked, stored_dates, stored_series, stored_text
from rvhpc.errors import StoreError


def store_info(path: str | os.PathLike) -> dict:
    """A summary of a store (what ``rvhpc data info`` shows), without loading the series.

    Parameters
    ----------
    path : str or os.PathLike
        The store file.

    Returns
    -------
    dict
        Format, dataset, forcing, inputs, descriptors, basins (count and first five), days,
        periods, the share of missing discharge, file size, scalers, fingerprint, provenance and
        the attribute columns.

    Raises
    ------
    StoreError
        The store is missing, unreadable, of another format or altered (see
        :func:`rvhpc.data.storeread.open_checked`).
    """
    path = Path(path)
    with open_checked(path) as f:
        dates = stored_dates(f)
        q = stored_series(f, path, "qobs")
        missing = sum(int(np.isnan(q[i : i + 256]).sum()) for i in range(0, len(q), 256))
        basins = stored_text(f["basins"])
        return dict(
            path=str(path),
            format_version=int(f.attrs["format_version"]),
            dataset=str(f.attrs["dataset"]),
            forcing=str(f.attrs["forcing"]),
            inputs=[str(n) for n in f.attrs["dynamic_inputs"]],
            descriptors=stored_text(f["descriptor_names"]),
            basins=len(basins),
            first_basins=basins[:5],
            dates=(str(dates[0].date()), str(dates[-1].date()), len(dates)),
            train_period=tuple(f.attrs["train_period"]),
            eval_period=tuple(f.attrs["eval_period"]),
            missing_qobs=missing / max(1, q.size),
            file_bytes=path.stat().st_size,
            x_mean=f["scalers/x_mean"][:].tolist(),
            x_std=f["scalers/x_std"][:].tolist(),
            y_mean=float(f["scalers/y_mean"][()]),
            y_std=float(f["scalers/y_std"][()]),
            fingerprint=str(f.attrs["fingerprint"]),
            provenance=json.loads(f.attrs["provenance"]),
            attributes=list(f["attributes"].keys()),
        )


def store_attributes(path: str | os.PathLike) -> pd.DataFrame:
    """Every stored attribute column of every basin of the store file ``path``.

    Returns
    -------
    pd.DataFrame
        Index ``gauge_id`` in store order; missing values come back missing (NaN), text as
        written.

    Raises
    ------
    StoreError
        As :func:`store_info`.
    """
    path = Path(path)
    with open_checked(path) as f:
        return storeattrs.read_attributes(f, stored_text(f["basins"]))


def basin_series(path: str | os.PathLike, basin: str) -> tuple[pd.DataFrame, pd.Series]:
    """One basin's stored daily series and its descriptors (what ``rvhpc data show`` prints).

    Parameters
    ----------
    path : str or os.PathLike
        The store file.
    basin : str
        A basin id as in the basin list.

    Returns
    -------
    (pd.DataFrame, pd.Series)
        The series (index ``date``, the inputs under the dataset's own names, ``qobs(mm/day)``)
        and the descriptors (named by the store's descriptor names).

    Raises
    ------
    StoreError
        The basin is not in the store, or as :func:`store_info`.
    """
    path = Path(path)
    with open_checked(path) as f:
        basins = stored_text(f["basins"])
        if basin not in basins:
            raise StoreError(
                f"{path}: basin {basin!r} is not in the store ({len(basins)} basins, "
                f"e.g. {', '.join(basins[:3])})"
            )
        i = basins.index(basin)
        frame = pd.DataFrame(
            f["forcing"][i],
            index=pd.DatetimeIndex(stored_dates(f), name="date"),
            columns=[str(n) for n in f.attrs["dynamic_inputs"]],
        )
        frame[TARGET] = f["qobs"][i]
        names = stored_text(f["descriptor_names"])
        descriptors = pd.Series(f["descriptors"][i], index=names, name=basin)
    return frame, descriptors
