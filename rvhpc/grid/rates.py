"""Measured training rates: the input of the work estimate (``grid show --rates FILE``).

A rates file is the JSON of ``benchmarks/bench_packed.py --out`` (``{"rates": [...]}``), a list of
``rvhpc bench --json`` results, or one such result per line. Each entry is checked strictly: a
known arch, a member count K >= 1 and a finite samples/s above 0 (a rate of 0, text, null or NaN
once ended in a traceback or printed negative or ``nan`` device-hours). An entry measured at
another hidden size, batch or window than the grid trains with is refused: its rate would not be
the grid's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rvhpc.config_io import Float, Int, validate
from rvhpc.errors import ConfigError, excerpt
from rvhpc.experiments import archs

#: the largest rates file read (a full bench_packed.py sweep is about 40 KB)
MAX_RATES_BYTES = 4 << 20
#: the most members of one pack a rate may describe
MAX_MEMBERS = 1_000


class Rate(BaseModel):
    """One measurement: per-member training samples/s of ``arch`` in a pack of ``members``.
    Keys the estimate does not use (steps, torch, ...) are allowed and ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    arch: str
    members: Int = Field(ge=1, le=MAX_MEMBERS)
    samples_per_s_per_member: Float = Field(gt=0)
    n_static: Int = Field(27, ge=0)
    hidden: Int | None = Field(None, ge=1)
    batch_size: Int | None = Field(None, ge=1)
    seq_length: Int | None = Field(None, ge=1)
    device: str = "?"
    spread: Float | None = Field(None, ge=0)  # relative spread of the timed steps, when known

    @field_validator("arch")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in archs():
            raise ValueError(f"not one of {', '.join(archs())}")
        return value


def read_rates(path: Path) -> list[Rate]:
    """The measurements of a rates file, each validated.

    Parameters
    ----------
    path : Path
        ``{"rates": [...]}``, a list of results, one result, or one result per line.

    Returns
    -------
    list[Rate]
        At least one.

    Raises
    ------
    ConfigError
        One line naming the file and the entry: unreadable or not JSON, too large or too deep,
        not a list of results, or an entry with a missing, non-numeric, zero, negative or NaN
        value.
    """
    where = f"--rates {path}"
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_RATES_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_RATES_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_RATES_BYTES >> 20} MB; not a rates file")
    data = _parse(raw, where)
    entries = data.get("rates", data) if isinstance(data, dict) else data
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f'{where}: expected bench results (a list, or {{"rates": [...]}}), got '
            f"{excerpt(entries)}; use benchmarks/bench_packed.py --out or rvhpc bench --json"
        )
    rates = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{where}: entry {i}: expected a bench result (a JSON object), got {excerpt(entry)}"
            )
        try:
            rates.append(validate(Rate, entry, f"{where}: entry {i}"))
        except ConfigError as exc:
            if any(k not in entry for k in ("arch", "members", "samples_per_s_per_member")):
                raise ConfigError(
                    f"{exc} (every entry needs arch, members, samples_per_s_per_member)"
                ) from None
            raise
    return rates


def _parse(raw: bytes, where: str) -> Any:
    """JSON, or JSON lines; ConfigError for anything else (deep nesting included)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text; not a rates file") from None
    try:
        try:
            return json.loads(text)
        except ValueError:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, RecursionError):
        raise ConfigError(
            f"{where}: not JSON (use the output of benchmarks/bench_packed.py --out or of "
            "rvhpc bench --json)"
        ) from None


def check_shape(rates: list[Rate], shape: dict[str, int], where: str) -> None:
    """Refuse rates measured at another shape than the grid trains at.

    Parameters
    ----------
    rates : list[Rate]
        The measurements; entries that do not say their shape are accepted.
    shape : dict
        The grid's ``hidden``, ``batch_size`` and ``seq_length``.
    where : str
        What the error names (``--rates FILE``).

    Raises
    ------
    ConfigError
        An entry of another hidden size, batch or window: its rate is not the grid's.
    """
    for i, r in enumerate(rates):
        for key, want in shape.items():
            got = getattr(r, key)
            if got is not None and got != want:
                raise ConfigError(
                    f"{where}: entry {i} ({r.arch} K={r.members}) was measured at {key} {got}, "
                    f"the grid trains at {want}; measure at the grid's shape (rvhpc bench "
                    f"--hidden {shape['hidden']} --batch-size {shape['batch_size']} "
                    f"--seq-length {shape['seq_length']})"
                )


def rate_for(rates: list[Rate], arch: str, members: int, n_static: int) -> tuple[Rate, int]:
    """The measurement that prices a pack of ``members`` cells of ``arch``.

    Parameters
    ----------
    rates : list[Rate]
        The measurements.
    arch : str
        The cells' arch.
    members : int
        Cells in the pack (1: unpacked).
    n_static : int
        The cells' static width.

    Returns
    -------
    tuple[Rate, int]
        The rate at the largest measured K <= members (the smallest K when none is), nearest in
        static width, and that K.

    Raises
    ------
    ConfigError
        No measurement of ``arch``.
    """
    mine = [r for r in rates if r.arch == arch]
    if not mine:
        raise ConfigError(f"--rates holds no measurement of arch {arch!r}: bench it first")
    ks = sorted({r.members for r in mine})
    k = max([x for x in ks if x <= members] or [ks[0]])
    best = min((r for r in mine if r.members == k), key=lambda r: abs(r.n_static - n_static))
    return best, k
