"""The memory a training run needs, estimated before anything is allocated or written.

A dimension typed with a few zeros too many (``--dim 100000000``) would otherwise write gigabytes
of static vectors and then die out of memory; :func:`check_memory` refuses it with one line.
The estimate is an upper bound of the big items only: the static vectors (generated in float64,
standardised, stored as float32, plus their column names) and the model with its gradient and
Adam's two moments (four float32 copies of the weights, the input weights sized for ``ct``, the
widest architecture: 4 gates x hidden x (dynamic + static + hidden + 1)).
"""

from __future__ import annotations

import os
from typing import Any

from rvhpc.errors import ConfigError

#: bytes per static value while the vectors are built: float64 draw + standardised copy + float32
_BYTES_PER_STATIC_VALUE = 8 + 8 + 4
#: bytes per column name held as a numpy unicode array in statics.npz
_BYTES_PER_NAME = 48
#: float32 weights, gradients and Adam's two moments
_COPIES_OF_WEIGHTS = 4


def static_width(static: str, dim: int | None, n_basins: int, n_descriptors: int) -> int:
    """Columns of the static vectors of a kind (rvhpc.data.statics.STATIC_KINDS)."""
    from rvhpc.data.statics import STATIC_KINDS

    return STATIC_KINDS[static].width(dim, n_basins, n_descriptors)


def estimate_bytes(
    static: str, dim: int | None, n_basins: int, hidden: int, n_dynamic: int, n_descriptors: int
) -> dict[str, int]:
    """Upper bounds, in bytes, of the static vectors and of the model with its optimizer state."""
    width = static_width(static, dim, n_basins, n_descriptors)
    statics = n_basins * width * _BYTES_PER_STATIC_VALUE + width * _BYTES_PER_NAME
    weights = 4 * hidden * (n_dynamic + width + hidden + 1) + hidden + 1
    model = weights * 4 * _COPIES_OF_WEIGHTS
    return {"statics": statics, "model": model, "total": statics + model}


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux), else physical memory, else None."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    static: str,
    dim: int | None,
    store: Any,
    hidden: int,
    available: int | None = None,
) -> None:
    """ConfigError when the run cannot fit into this machine's available memory.

    Parameters
    ----------
    static, dim, hidden : the cell's settings
    store : the training store (its basins, inputs and descriptors size the vectors and model)
    available : bytes available (None: this machine's MemAvailable)

    Raises
    ------
    ConfigError
        One line with the estimate, its parts and what to change.
    """
    n_basins, n_desc = len(store.basins), store.descriptors.shape[1]
    need = estimate_bytes(static, dim, n_basins, hidden, store.n_inputs, n_desc)
    available = available_bytes() if available is None else available
    if available is None or need["total"] <= available:
        return
    gb = 1024**3
    option = "--dim" if static in ("gaussian", "mixed") else "--hidden"
    raise ConfigError(
        f"static {static} dim {static_width(static, dim, n_basins, n_desc)}, hidden {hidden}: "
        f"training would need about {need['total'] / gb:,.1f} GB of memory (static vectors for "
        f"{n_basins} basins {need['statics'] / gb:,.1f} GB, model and optimizer "
        f"{need['model'] / gb:,.1f} GB), "
        f"more than the {available / gb:,.1f} GB available here; choose a smaller {option}"
    )
