"""The one model factory of training, evaluation and the throughput bench: a cell's model with
its input width taken from the store (its named dynamic inputs), never written as a number."""

from __future__ import annotations

from typing import Any

from torch import nn


def model_for(
    store: Any,
    arch: str,
    n_static: int,
    hidden: int = 256,
    dropout: float = 0.4,
    initial_forget_bias: float = 5.0,
) -> nn.Module:
    """A freshly initialised ``arch`` for ``store``'s inputs (rvhpc.models.build_model).

    Parameters
    ----------
    store : a BasinStore (its ``n_inputs`` dynamic inputs per day)
    arch : a model registry name
    n_static : width of the static vectors (0 for ``lstm``)
    hidden, dropout, initial_forget_bias : the model's settings

    Raises
    ------
    ConfigError
        Unknown arch or sizes that do not fit it.
    """
    from rvhpc.models import build_model

    return build_model(
        arch,
        n_dynamic=store.n_inputs,
        n_static=n_static,
        hidden=hidden,
        dropout=dropout,
        initial_forget_bias=initial_forget_bias,
    )
