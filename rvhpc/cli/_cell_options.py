"""Options made from :class:`rvhpc.training.config.TrainConfig`: every ``rvhpc train`` option
that sets a training field, and the ones ``evaluate``, ``bench``, ``run``, ``cell`` and ``demo``
share with it.

The one place a TrainConfig field becomes a Typer option: its help text, option name, type and
default come from the field (:meth:`TrainConfig.cli_fields`), so a new field made with
``rvhpc.training.options.option(...)`` appears in ``rvhpc train --help`` with nothing written here.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from rvhpc.training.config import TrainConfig
from rvhpc.training.options import CliField

_FIELDS: dict[str, CliField] = {f.field: f for f in TrainConfig.cli_fields()}


def config_option(field: str) -> Any:
    """``Annotated[type, typer.Option(...)]`` of one TrainConfig field (name, help, type)."""
    f = _FIELDS[field]
    kind = f.type | None if f.optional else f.type
    return Annotated[kind, typer.Option(f.option, help=f.help or None)]


def config_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per TrainConfig field with a CLI option, in field order, with the
    field's default (none for a required field): a command's signature is built from them."""
    return [
        inspect.Parameter(
            f.field,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if f.default is ... else f.default,
            annotation=config_option(f.field),
        )
        for f in _FIELDS.values()
    ]


def given_values(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields among ``values`` that the user gave (on the command line or in the
    environment), leaving the others to TrainConfig's defaults; the library can then tell an
    explicit ``--seed 3`` from the default."""
    return {
        k: v
        for k, v in values.items()
        if k in _FIELDS and getattr(ctx.get_parameter_source(k), "name", "DEFAULT") != "DEFAULT"
    }


#: the options ``evaluate``, ``bench`` and ``demo`` share with ``train``
Arch = config_option("arch")
Dim = config_option("dim")
Device = config_option("device")
Numerics = config_option("numerics")
NumericsOverride = Annotated[
    str | None,
    typer.Option(
        "--numerics",
        help="portable or fast: overrides the grid's train: {numerics: ...} (default: the grid's, "
        "else portable). See docs/numerics.md.",
    ),
]
