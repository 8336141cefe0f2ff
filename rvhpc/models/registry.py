"""The model registry: architecture name -> class, and :func:`build_model`.

To add an architecture, copy ``template.py`` to a new module and add one line to ``MODELS``;
the tests in tests/models/ run over every name here automatically.
"""

from __future__ import annotations

from torch import nn

from rvhpc.errors import ConfigError
from rvhpc.models.base import BaseModel
from rvhpc.models.ctlstm import CTLSTM
from rvhpc.models.ealstm import EALSTM
from rvhpc.models.fmlstm import FMLSTM
from rvhpc.models.lstm import LSTM
from rvhpc.models.srlstm import SRLSTM

MODELS: dict[str, type[BaseModel]] = {
    "ea": EALSTM,
    "ct": CTLSTM,
    "sr": SRLSTM,
    "fm": FMLSTM,
    "lstm": LSTM,
}


def model_class(arch: str) -> type[BaseModel]:
    """The class registered under ``arch``; ConfigError listing the known names otherwise."""
    try:
        return MODELS[arch]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown arch {arch!r}; known: {', '.join(MODELS)}") from None


def build_model(
    arch: str,
    n_dynamic: int,
    n_static: int,
    hidden: int = 256,
    dropout: float = 0.4,
    initial_forget_bias: float = 5.0,
) -> nn.Module:
    """Build a freshly initialised model (reference initialisation, reference.md section 4).

    Parameters
    ----------
    arch : str
        A key of :data:`MODELS`.
    n_dynamic, n_static : int
        Inputs per time step; static inputs per sample (0 for ``lstm``).
    hidden, dropout, initial_forget_bias
        Hidden size, dropout before the head, value of the first ``hidden`` gate biases.

    Raises
    ------
    ConfigError
        Unknown arch or sizes that do not fit it.
    """
    return model_class(arch)(
        n_dynamic, n_static, hidden=hidden, dropout=dropout, initial_forget_bias=initial_forget_bias
    )
