"""The attribute table inside a store (group ``attributes``): every column of the dataset's
attribute files for the store's basins, numbers as float64 (NaN missing), text as UTF-8 with a
``missing`` mask, so text never enters numbers and a missing text stays missing."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd


def write_attributes(group: h5py.Group, table: pd.DataFrame) -> None:
    """Every attribute column as a dataset of ``group``: numbers as float64 (NaN = missing), text
    as UTF-8 strings with a ``missing`` mask attribute (1 = missing; the string is then empty).

    A text column may hold missing values (``geol_2nd_class`` is ``NA`` for 138 real basins,
    Caravan's ``gauge_name`` may be empty): they are kept missing, never turned into the text
    "nan" or dropped."""
    group.attrs["columns"] = [str(c) for c in table.columns]
    for col in table.columns:
        values = table[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            group.create_dataset(str(col), data=values.to_numpy(np.float64))
            continue
        missing = values.isna().to_numpy()
        text = np.array(
            ["" if m else str(v) for v, m in zip(values.tolist(), missing, strict=True)],
            dtype=object,
        )
        ds = group.create_dataset(str(col), data=text, dtype=h5py.string_dtype())
        ds.attrs["missing"] = missing.astype(np.uint8)


def read_attributes(f: h5py.File, basins: list[str]) -> pd.DataFrame:
    """The stored attribute table (index ``gauge_id``, store order); missing values come back
    missing (NaN), text as written."""
    group = f["attributes"]
    columns = {}
    for name in group.attrs.get("columns", sorted(group.keys())):
        ds = group[name]
        if h5py.check_string_dtype(ds.dtype) is None:
            columns[name] = ds[:].astype(np.float64)
            continue
        text = ds.asstr()[:]
        missing = ds.attrs.get("missing", np.zeros(len(text), np.uint8)).astype(bool)
        columns[name] = pd.Series(
            [None if m else t for t, m in zip(text.tolist(), missing, strict=True)],
            dtype=object,
        ).to_numpy()
    return pd.DataFrame(columns, index=pd.Index(basins, name="gauge_id"))


def descriptor_values(table: pd.DataFrame, basins: list[str], names: list[str]) -> pd.DataFrame:
    """The descriptor columns ``names`` of ``basins`` (rows in that order) as float64; a value that
    is not a number becomes NaN (the checks refuse those before a store is built)."""
    return table.loc[basins, list(names)].apply(pd.to_numeric, errors="coerce").astype(np.float64)
