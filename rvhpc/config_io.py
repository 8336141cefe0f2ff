"""Load YAML files into pydantic models with one-line errors (file, key path, problem).

The one strict YAML loader of every config file (grids, site profiles): the file must be UTF-8,
a key may appear only once per mapping, and numbers are numbers (``Int`` and ``Float`` refuse
``true``/``false``; ``Int`` refuses fractions such as 2.5; ``Float`` refuses ``.nan`` and
``.inf``; ``Seed`` is numpy's legacy seed range).

Hostile files are refused before they cost anything (issue 19): a file over
:data:`MAX_YAML_BYTES`, lists or mappings nested deeper than :data:`MAX_YAML_DEPTH` (PyYAML's
composer recurses: 3,000 levels raised RecursionError), and aliases that expand to more than
:data:`MAX_YAML_NODES` values (a 1 KB "billion laughs" file made ``grid show`` use 2 GB and print
a 322 MB error line). The check walks PyYAML's event stream once, without building anything, and
no error echoes more than a short excerpt of the input (:func:`rvhpc.errors.excerpt`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from rvhpc.errors import ConfigError, excerpt

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """The base of every rvhpc model: unknown keys are refused (a misspelt key is an error)."""

    model_config = ConfigDict(extra="forbid")


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


#: an int field that refuses booleans (pydantic's lax mode would read ``true`` as 1) and
#: fractions (2.0 is 2; 2.5 is refused)
Int = Annotated[int, BeforeValidator(_no_bool)]
#: a finite float field that refuses booleans
Float = Annotated[float, BeforeValidator(_no_bool), AllowInfNan(False)]

#: a seed field, 0 .. 2**32 - 1 everywhere: numpy's legacy range (``np.random.seed`` draws the
#: original code's random vectors), accepted by ``default_rng`` and ``torch.manual_seed`` too
SEED_LIMIT = 2**32
Seed = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, lt=SEED_LIMIT)]

#: limits of a YAML file: bytes, nesting of lists and mappings, values after alias expansion
#: (the paper's grid: 3 KB, nested 4 deep, 232 values)
MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES = 1 << 20, 32, 100_000


def check_seed(option: str, value: int) -> int:
    """``value`` when it is a seed (an int in 0 .. 2**32 - 1).

    Parameters
    ----------
    option : str
        How the user gave it (``--seed``), named by the error.
    value : int
        The seed.

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        Not an int, or outside numpy's legacy seed range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ConfigError(
            f"{option}: a seed is an integer from 0 to {SEED_LIMIT - 1} (numpy's legacy seed "
            f"range), got {excerpt(value)}"
        )
    return value


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
                    None,
                    None,
                    f"duplicate key {excerpt(key)} (remove one of them)",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def location(loc: tuple) -> str:
    """A pydantic error location as the user's key path.

    Parameters
    ----------
    loc : tuple
        ``ValidationError.errors()[i]["loc"]``.

    Returns
    -------
    str
        ``experiments.1.attr_seeds.0``, without pydantic's tags of union members
        (``list[function-after[...]]``); ``(top level)`` when empty.
    """
    parts = [str(p) for p in loc if isinstance(p, int) or "[" not in str(p)]
    return ".".join(parts) or "(top level)"


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """The first problem of a ValidationError as one line.

    Parameters
    ----------
    source : str
        What the line names first (a file, ``--rates FILE: entry 3``).
    exc : ValidationError
        The error.

    Returns
    -------
    str
        ``source: key.path: message (got excerpt)``, with ``[+N more problem(s)]`` appended.
    """
    errors = exc.errors()
    first = errors[0]
    where = location(first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see the documented keys)"
    got = first.get("input")
    hide = first["type"] in ("missing", "extra_forbidden") or isinstance(got, dict)
    got_text = "" if hide else f" (got {excerpt(got)})"
    more = f" [+{len(errors) - 1} more problem(s)]" if len(errors) > 1 else ""
    return f"{source}: {where}: {msg}{got_text}{more}"


def _check_shape(text: str, path: Path) -> None:
    """ConfigError when the YAML nests deeper than MAX_YAML_DEPTH or its aliases expand it beyond
    MAX_YAML_NODES values; one pass over the event stream (nothing is built, nothing recurses)."""
    sizes: dict[str, int] = {}  # anchor -> expanded values of its node
    stack: list[list] = []  # [anchor, values so far] of each open list or mapping
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > MAX_YAML_DEPTH:
                line = event.start_mark.line + 1
                raise ConfigError(
                    f"{path}: line {line}: lists or mappings nested more than {MAX_YAML_DEPTH} "
                    "deep; flatten the file"
                )
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor, 1)  # unknown: the loader says so
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        if stack:
            stack[-1][1] += size
            size = stack[-1][1]
        if size > MAX_YAML_NODES:
            raise ConfigError(
                f"{path}: line {event.start_mark.line + 1}: aliases (*name) expand the file to "
                f"more than {MAX_YAML_NODES:,} values; write it out without them"
            )


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping: the one YAML reader of rvhpc (grid files, site profiles).

    Parameters
    ----------
    path : Path
        The file: UTF-8, at most MAX_YAML_BYTES, nesting at most MAX_YAML_DEPTH, expanding to at
        most MAX_YAML_NODES values through aliases, each key once per mapping.

    Returns
    -------
    dict
        The top-level mapping.

    Raises
    ------
    ConfigError
        One line naming the file (and line) on any problem; never echoing more than an excerpt.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the YAML file")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_YAML_BYTES // 1024} KB; a grid or profile is a few KB "
            "(basin lists belong in their own files)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
            "save the file as UTF-8"
        ) from None
    try:
        _check_shape(text, path)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}:{where}: not valid YAML ({problem[:200]})") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4,300)
        what = " ".join(str(exc).split())[:120]
        if "digits" in what:
            what = "a number of more than 4,300 digits; no setting needs one"
        raise ConfigError(f"{path}: a value cannot be read ({what})") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}"
        )
    return data


def validate(model: type[M], data: dict, source: str) -> M:
    """``model.model_validate(data)`` with a one-line ConfigError naming ``source``.

    Parameters
    ----------
    model : type[BaseModel]
        The pydantic model.
    data : dict
        The values (read from a file, or built by a command).
    source : str
        What the error names first (a file, ``--rates FILE: entry 3``).

    Returns
    -------
    BaseModel
        The validated model.

    Raises
    ------
    ConfigError
        The first problem as ``source: key.path: message (got excerpt)``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc)) from None


def load_yaml_model(model: type[M], path: Path) -> M:
    """A YAML file validated into ``model``.

    Parameters
    ----------
    model : type[BaseModel]
        The pydantic model.
    path : Path
        The file (:func:`read_yaml`'s limits apply).

    Returns
    -------
    BaseModel

    Raises
    ------
    ConfigError
        One line naming ``path``.
    """
    return validate(model, read_yaml(path), str(path))
