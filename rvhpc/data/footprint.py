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
    """Columns of the static vectors of a kind (rvhpc.data.statics.STATIC_KINDS).

    Parameters
    ----------
    static : str
        The static kind.
    dim : int or None
        d of gaussian and mixed vectors.
    n_basins : int
        Basins of the store (the width of one-hot vectors).
    n_descriptors : int
        The dataset's catchment descriptors (27 for CAMELS US).

    Returns
    -------
    int
    """
    from rvhpc.data.statics import STATIC_KINDS

    return STATIC_KINDS[static].width(dim, n_basins, n_descriptors)


def estimate_bytes(
    static: str, dim: int | None, n_basins: int, hidden: int, n_dynamic: int, n_descriptors: int
) -> dict[str, int]:
    """Upper bounds, in bytes, of the static vectors and of the model with its optimizer state.

    Parameters
    ----------
    static, dim, n_basins, n_descriptors : the static vectors (:func:`static_width`)
    hidden, n_dynamic : the model's sizes

    Returns
    -------
    dict
        ``statics``, ``model`` and ``total`` bytes.
    """
    width = static_width(static, dim, n_basins, n_descriptors)
    statics = n_basins * width * _BYTES_PER_STATIC_VALUE + width * _BYTES_PER_NAME
    weights = 4 * hidden * (n_dynamic + width + hidden + 1) + hidden + 1
    model = weights * 4 * _COPIES_OF_WEIGHTS
    return {"statics": statics, "model": model, "total": statics + model}


def available_bytes() -> int | None:
    """The memory a new allocation can use here.

    Returns
    -------
    int or None
        MemAvailable of /proc/meminfo (Linux) in bytes, else the physical memory, else None.
    """
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


def step_bytes(
    members: int, n_static: int, hidden: int, batch_size: int, seq_length: int, n_dynamic: int = 5
) -> int:
    """Bytes of one training step's activations and weights for a pack (the big items).

    Per member the recurrence keeps [T, B] rows of its gates, their gradients, the cell and
    hidden states and its input (``(2 * 4H + 3H + n_in) * 4`` bytes each). At the paper's shape
    and K=5 that is 4.0 GB; the estimate of issue 20, holding K=1 and K=5 models of every arch
    at that shape, peaked at 5 GB.

    Parameters
    ----------
    members : int
        K, the members trained together.
    n_static, hidden, batch_size, seq_length, n_dynamic : int
        The shape of a step.

    Returns
    -------
    int
    """
    n_in = n_dynamic + n_static
    rows = seq_length * batch_size
    activations = rows * (11 * hidden + n_in) * 4
    weights = (4 * hidden * (n_in + hidden + 1) + hidden + 1) * 4 * _COPIES_OF_WEIGHTS
    return members * (activations + weights)


def check_step_memory(arch: str, members: int, n_static: int, n_basins: int, device, **shape):
    """ConfigError when a training step of this shape (``rvhpc bench``, the estimate's probe)
    cannot fit into the device's free memory (the host's available memory on the CPU).

    Parameters
    ----------
    arch, members, n_static, n_basins
        The pack and its static vectors (``n_basins`` of them per member).
    device : torch.device
    **shape
        ``hidden``, ``batch_size`` and ``seq_length``.

    Raises
    ------
    ConfigError
        One line with the gigabytes needed and available, and what to change.
    """
    hidden, batch_size, seq_length = shape["hidden"], shape["batch_size"], shape["seq_length"]
    need = step_bytes(members, n_static, hidden, batch_size, seq_length)
    need += members * n_basins * n_static * 4  # the static vectors on the device
    available = _device_free(device)
    if available is None or need <= available:
        return
    gb = 1024**3
    raise ConfigError(
        f"{arch} K={members} at hidden {hidden}, batch {batch_size}, seq {seq_length}, static "
        f"width {n_static}: a training step needs about {need / gb:,.1f} GB, more than the "
        f"{available / gb:,.1f} GB free here; measure on a bigger machine (--rates) or a "
        "smaller shape"
    )


def _device_free(device: object) -> int | None:
    """Free bytes of a CUDA device, else the host's available memory."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    return available_bytes()
