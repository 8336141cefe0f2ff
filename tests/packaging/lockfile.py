"""Read containers/requirements.lock (uv's output: ``name==version ; marker`` lines, each with
its ``--hash=sha256:...`` lines and ``# via`` comments); write the image's layer as installed
here."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "containers" / "requirements.lock"
#: the CUDA runtime that PyPI's Linux torch wheel pulls in as wheels; the CPU wheel needs none
CUDA_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")


@dataclass
class Pin:
    name: str  # canonical
    version: str
    marker: Marker | None
    hashes: list[str]
    via: set[str] = field(default_factory=set)  # canonical names of the packages that need it

    def applies(self) -> bool:
        """Whether this interpreter and platform install the line (its marker holds here)."""
        return self.marker is None or self.marker.evaluate()

    def block(self) -> str:
        """The line again, as pip reads it."""
        marker = f" ; {self.marker}" if self.marker else ""
        hashes = "".join(f" \\\n    --hash=sha256:{h}" for h in self.hashes)
        return f"{self.name}=={self.version}{marker}{hashes}"


def read_lock(path: Path = LOCK) -> list[Pin]:
    """Every requirement of the lock, in file order."""
    pins: list[Pin] = []
    via_block = False
    for raw in path.read_text().splitlines():
        line = raw.strip().rstrip("\\").strip()
        if not line:
            continue
        if not raw[0].isspace() and not line.startswith("#"):
            spec, _, marker = line.partition(";")
            name, sep, version = spec.strip().partition("==")
            assert sep and version, f"requirements.lock line {raw!r} is not name==version"
            pins.append(
                Pin(
                    canonicalize_name(name), version.strip(), Marker(marker) if marker else None, []
                )
            )
            via_block = False
        elif line.startswith("--hash=sha256:"):
            pins[-1].hashes.append(line.removeprefix("--hash=sha256:"))
        elif line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            via_block = not rest
            if rest:
                pins[-1].via.add(canonicalize_name(rest))
        elif line.startswith("#") and via_block and pins:
            pins[-1].via.add(canonicalize_name(line.lstrip("#").strip().split()[0]))
    return pins


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cpu_requirements(pins: list[Pin], torch_wheel: Path) -> str:
    """The lock as installed here: the same pins and hashes, less the CUDA runtime wheels, with the
    CPU torch wheel (pinned by the hash of that file) standing in for PyPI's CUDA build."""
    lines = [p.block() for p in pins if p.name != "torch" and not CUDA_ONLY.match(p.name)]
    lines.append(f"torch @ {torch_wheel.resolve().as_uri()} --hash=sha256:{sha256(torch_wheel)}")
    return "\n".join(lines) + "\n"
