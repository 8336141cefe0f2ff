"""The one model factory of training, evaluation and the throughput bench: a cell's model with
its input width taken from the store (its named dynamic inputs), never written as a number."""

from __future__ import annotations

from typing import Any

from torch import nn


def model_for(store: Any, arch: str, n_static: int, **settings: Any) -> nn.Module:
    """A freshly initialised ``arch`` for ``store``'s inputs.

    Parameters
    ----------
    store : BasinStore
        Its ``n_inputs`` dynamic inputs per day are the model's input width.
    arch : str
        A model registry name.
    n_static : int
        Width of the static vectors (0 for ``lstm``).
    **settings
        ``hidden``, ``dropout``, ``initial_forget_bias`` (:func:`rvhpc.models.build_model`).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ConfigError
        Unknown arch or sizes that do not fit it.
    """
    from rvhpc.models import build_model

    return build_model(arch, n_dynamic=store.n_inputs, n_static=n_static, **settings)
