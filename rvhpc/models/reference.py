"""Weights from (and back to) the original code's state dicts (reference.md section 4).

The original code saved ``model.state_dict()`` of a DataParallel-wrapped model, so keys may carry a
``module.`` prefix; weights are [n_in, n_gates*H] in the reference gate order of each architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from rvhpc.errors import ConfigError
from rvhpc.models.base import BaseModel
from rvhpc.models.registry import build_model, model_class
from rvhpc.safeload import NotData, load_data

PREFIX = "module."


#: dynamic inputs of the original code's models (its five CAMELS US Maurer forcings); the
#: default width of a reference state dict (only CT-LSTM's weights need it to split inputs)
ORIGINAL_INPUTS = 5


def _strip(state_dict: Mapping, arch: str) -> dict[str, torch.Tensor]:
    if not isinstance(state_dict, Mapping):
        raise ConfigError(
            f"reference weights for arch {arch!r}: expected a state dict, "
            f"got {type(state_dict).__name__}"
        )
    sd = {}
    for key, value in state_dict.items():
        name = key[len(PREFIX) :] if isinstance(key, str) and key.startswith(PREFIX) else key
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"reference weights for arch {arch!r}: key {key!r} is not a tensor")
        sd[name] = value.detach().to(torch.float32)
    return sd


def from_reference(
    state_dict: Mapping, arch: str, n_dynamic: int = ORIGINAL_INPUTS, dropout: float = 0.4
) -> nn.Module:
    """Build a model from a state dict saved by the original code.

    Parameters
    ----------
    state_dict : Mapping
        Reference layout (``lstm.weight_ih``, ..., ``fc.bias``), with or without ``module.``.
    arch : str
        Registry name (``ea``, ``ct``, ``sr``, ``fm``, ``lstm``).
    n_dynamic : int
        Number of dynamic inputs; only ``ct`` needs it (its input weight holds dynamic and static
        columns together), the other architectures read it from the shapes.
    dropout : float
        Dropout of the returned model (only active in train mode).

    Returns
    -------
    nn.Module
        The model in train mode; call ``.eval()`` to predict.

    Raises
    ------
    ConfigError
        Unknown arch, a missing or unexpected key, or a shape that does not fit the others.
    """
    cls = model_class(arch)
    sd = _strip(state_dict, arch)
    missing = [k for k in cls.reference_keys if k not in sd]
    if missing:
        raise ConfigError(
            f"reference weights for arch {arch!r} lack key {missing[0]!r} "
            f"(expected keys: {', '.join(cls.reference_keys)})"
        )
    extra = sorted(k for k in sd if k not in cls.reference_keys)
    if extra:
        raise ConfigError(
            f"reference weights for arch {arch!r} have unexpected key {extra[0]!r} "
            f"(expected keys: {', '.join(cls.reference_keys)}); is the arch right?"
        )
    for key in cls.reference_keys:
        if sd[key].dim() not in (1, 2) or sd[key].numel() == 0:
            raise ConfigError(
                f"reference weights for arch {arch!r}: key {key!r} "
                f"has odd shape {tuple(sd[key].shape)}"
            )
    try:
        dims = cls.dims_from_reference(sd, n_dynamic)
        model = build_model(
            arch, dims["n_dynamic"], dims["n_static"], hidden=dims["hidden"], dropout=dropout
        )
    except (IndexError, ConfigError) as exc:
        raise ConfigError(
            f"reference weights for arch {arch!r}: cannot infer sizes from the shapes ({exc})"
        ) from None
    expected = model.to_reference()
    for key in cls.reference_keys:
        if tuple(sd[key].shape) != tuple(expected[key].shape):
            raise ConfigError(
                f"reference weights for arch {arch!r}: key {key!r} "
                f"has shape {tuple(sd[key].shape)}, "
                f"expected {tuple(expected[key].shape)} for n_dynamic={dims['n_dynamic']}, "
                f"n_static={dims['n_static']}, hidden={dims['hidden']}"
            )
    model.load_reference(sd)
    return model


def to_reference(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """The model's parameters in the original code's layout (pass ``prefix="module."`` to get the
    DataParallel keys the original code wrote). Accepts DDP-wrapped models."""
    inner = getattr(model, "module", model)
    if not isinstance(inner, BaseModel):
        raise ConfigError(f"to_reference: not an rvhpc model ({type(inner).__name__})")
    return {prefix + key: value for key, value in inner.to_reference().items()}


def load_reference_file(path: str | Path, arch: str, n_dynamic: int = ORIGINAL_INPUTS) -> nn.Module:
    """:func:`from_reference` on a file written by ``torch.save(model.state_dict(), path)``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"reference weights file {path} does not exist")
    try:
        state_dict = load_data(path)
    except NotData:  # never run it, say so
        raise ConfigError(
            f"reference weights file {path} is not a readable torch state dict: it holds objects "
            "other than tensors and plain data, so it was not loaded; save state_dict() only"
        ) from None
    except Exception as exc:  # torch raises many types for unreadable files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # torch's are long
        raise ConfigError(
            f"reference weights file {path} is not a readable torch state dict ({first})"
        ) from None
    try:
        return from_reference(state_dict, arch, n_dynamic=n_dynamic)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
