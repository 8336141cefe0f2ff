"""TrainConfig fields that are also ``rvhpc train`` options, described without Typer.

A field made with :func:`option` (a help text, optionally an option name) becomes
``--field-name`` of ``rvhpc train``, with the field's type and default:
:func:`cli_fields` lists them as :class:`CliField` records, and ``rvhpc/cli/_cell_options.py``
turns those into Typer options. Adding a setting the user can pass on the command line is one
line in :class:`rvhpc.training.config.TrainConfig`, e.g.::

    validation_period: Int | None = option("Epochs between validations.", None, ge=1, le=MAX_EPOCHS)
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field


def option(help: str, default: Any = ..., *, name: str | None = None, **bounds: Any) -> Any:
    """A TrainConfig field that is also an option of ``rvhpc train``.

    Parameters
    ----------
    help : str
        The option's help text ("" for none).
    default : Any
        The field's default (``...``: required).
    name : str, optional
        The option name when it is not ``--`` plus the field name with dashes
        (``initial_forget_bias`` is ``--forget-bias``).
    **bounds
        pydantic constraints (``ge``, ``le``, ...).

    Returns
    -------
    pydantic FieldInfo
    """
    return Field(default, description=help, json_schema_extra={"cli": name or ""}, **bounds)


@dataclass(frozen=True)
class CliField:
    """One ``rvhpc train`` option made from a TrainConfig field (no Typer here: see the CLI)."""

    field: str
    option: str
    help: str
    type: type
    optional: bool
    default: Any  # ``...`` when required


def cli_fields(model: type[BaseModel]) -> list[CliField]:
    """The fields of ``model`` made with :func:`option`, in field order, as command options.

    Parameters
    ----------
    model : type of pydantic BaseModel
        :class:`rvhpc.training.config.TrainConfig`.

    Returns
    -------
    list[CliField]
        Option name, help, plain type (``int`` for ``Int``, ``str`` for a Literal), whether it
        may be None, and the default (``...`` when required).
    """
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if not isinstance(extra, dict) or "cli" not in extra:
            continue
        base, optional = _plain_type(info.annotation)
        default = ... if info.is_required() else info.default
        opt = str(extra["cli"]) or "--" + name.replace("_", "-")
        out.append(CliField(name, opt, info.description or "", base, optional, default))
    return out


def _plain_type(annotation: Any) -> tuple[type, bool]:
    """(plain type, may be None) of a field annotation: ``Int | None`` -> (int, True), a Literal
    of strings -> (str, False)."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = True, args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        annotation = type(typing.get_args(annotation)[0])
    return annotation, optional
