"""Checkpoints: ``checkpoints/epoch_NNN.pt`` after each complete epoch, ``checkpoints/partial.pt``
when a signal stopped an epoch midway. Both are written to a temporary file and renamed.

A checkpoint holds the model and optimizer state, the RNG states (torch of every rank, numpy,
python), the epoch and the position (batches done) within it: resuming replays the same sample
order (a permutation seeded by seed and epoch) from that position, so the result is exact.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvhpc.atomic import atomic_path
from rvhpc.errors import RunDirError

_EPOCH_RE = re.compile(r"^epoch_(\d{3,})\.pt$")
PARTIAL = "partial.pt"


@dataclass
class Checkpoint:
    """State of a run after ``batches_done`` batches of 1-based ``epoch``.

    A complete epoch has ``batches_done == -1``; training goes on with epoch + 1.
    """

    epoch: int
    batches_done: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    torch_rng: list[torch.Tensor] = field(default_factory=list)  # one per rank
    numpy_rng: Any = None
    python_rng: Any = None
    loss_sum: float = 0.0  # running loss of a partial epoch
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.batches_done < 0


def epoch_path(checkpoint_dir: Path, epoch: int) -> Path:
    return Path(checkpoint_dir) / f"epoch_{epoch:03d}.pt"


def complete_epochs(checkpoint_dir: Path) -> list[int]:
    """Epochs with a complete checkpoint, ascending."""
    d = Path(checkpoint_dir)
    if not d.is_dir():
        return []
    return sorted(int(m.group(1)) for p in d.iterdir() if (m := _EPOCH_RE.match(p.name)))


def save(checkpoint_dir: Path, ckpt: Checkpoint) -> Path:
    """Write a checkpoint atomically; a complete epoch replaces any partial one."""
    target = (
        epoch_path(checkpoint_dir, ckpt.epoch) if ckpt.complete else Path(checkpoint_dir) / PARTIAL
    )
    payload = {"format": 1, **{k: getattr(ckpt, k) for k in Checkpoint.__dataclass_fields__}}
    with atomic_path(target) as tmp:
        tmp.write_bytes(_serialised(payload))  # a full disk: a plain OSError, not torch's
    if ckpt.complete:
        (Path(checkpoint_dir) / PARTIAL).unlink(missing_ok=True)
    return target


def _serialised(payload: dict[str, Any]) -> bytes:
    """torch.save into memory; written with one plain write, which fails with a clean OSError
    (torch's own file writer reports a full disk as an opaque RuntimeError)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def load(path: Path) -> Checkpoint:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a foreign or damaged file: say which
        raise RunDirError(
            f"{path}: not a readable rvhpc checkpoint ({exc.__class__.__name__}); "
            "delete it or start over with --force"
        ) from None
    payload.pop("format", None)
    return Checkpoint(**payload)


def latest(checkpoint_dir: Path) -> Checkpoint | None:
    """The state to resume from: a partial epoch newer than the last complete one, else that one."""
    epochs = complete_epochs(checkpoint_dir)
    partial = Path(checkpoint_dir) / PARTIAL
    if partial.exists():
        ckpt = load(partial)
        if not epochs or ckpt.epoch > epochs[-1]:
            return ckpt
    return load(epoch_path(checkpoint_dir, epochs[-1])) if epochs else None


def load_epoch(checkpoint_dir: Path, epoch: int | None) -> Checkpoint:
    """The complete checkpoint of ``epoch`` (default: the last one); RunDirError when absent."""
    epochs = complete_epochs(checkpoint_dir)
    if not epochs:
        raise RunDirError(
            f"{checkpoint_dir}: no checkpoint of a complete epoch: train the run first"
        )
    if epoch is None:
        epoch = epochs[-1]
    if epoch not in epochs:
        raise RunDirError(
            f"--epoch {epoch} is out of range: {checkpoint_dir} holds epochs "
            f"{epochs[0]}..{epochs[-1]}"
            + (
                ""
                if len(epochs) == epochs[-1] - epochs[0] + 1
                else f" ({', '.join(map(str, epochs))})"
            )
        )
    return load(epoch_path(checkpoint_dir, epoch))


def capture_host_rng() -> tuple[Any, Any]:
    return np.random.get_state(), random.getstate()


def restore_host_rng(numpy_rng: Any, python_rng: Any) -> None:
    if numpy_rng is not None:
        np.random.set_state(numpy_rng)
    if python_rng is not None:
        random.setstate(python_rng)
