"""Load YAML files into pydantic models with one-line errors (file, key path, problem).

The one strict YAML loader of every config file (grids, site profiles): the file must be UTF-8,
a key may appear only once per mapping, and numbers are numbers (``Int`` and ``Float`` refuse
``true``/``false``; ``Float`` refuses ``.nan`` and ``.inf``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, ValidationError

from rvhpc.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """The base of every rvhpc pydantic model: unknown keys are refused (a misspelt key in a
    YAML file is an error, never silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


#: an int field that refuses booleans (pydantic's lax mode would read ``true`` as 1)
Int = Annotated[int, BeforeValidator(_no_bool)]
#: a finite float field that refuses booleans
Float = Annotated[float, BeforeValidator(_no_bool), AllowInfNan(False)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (remove one of them)", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """The first problem of a ValidationError as ``source: key.path: message (got value)``;
    the number of further problems is appended."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
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
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the YAML file")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
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
