"""Load YAML files into pydantic models with one-line errors (file, key path, problem)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from rvhpc.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """The base of every rvhpc pydantic model: unknown keys are refused (a misspelt key in a
    YAML file is an error, never silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """The first problem of a ValidationError as ``source: key.path: message (got value)``;
    the number of further problems is appended."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see the documented keys)"
    got = first.get("input")
    got_text = (
        ""
        if first["type"] in ("missing", "extra_forbidden") or isinstance(got, dict)
        else f" (got {got!r})"
    )
    more = f" [+{len(errors) - 1} more problem(s)]" if len(errors) > 1 else ""
    return f"{source}: {where}: {msg}{got_text}{more}"


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping, raising ConfigError with the file name on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}"
        )
    return data


def validate(model: type[M], data: dict, source: str) -> M:
    """``model.model_validate(data)`` with a one-line ConfigError naming ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc)) from None


def load_yaml_model(model: type[M], path: Path) -> M:
    return validate(model, read_yaml(path), str(path))
