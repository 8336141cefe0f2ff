"""Checkpoints: ``checkpoints/epoch_NNN.pt`` after each complete epoch, ``checkpoints/partial.pt``
when a signal stopped an epoch midway. Both are written to a temporary file and renamed.

A checkpoint holds the model and optimizer state, the RNG states (torch of every rank, numpy,
python), the epoch and the position (batches done) within it: resuming replays the same sample
order (a permutation seeded by seed and epoch) from that position, so the result is exact.

A checkpoint is data, never code: it holds only tensors and plain values (dicts, lists, tuples,
strings, numbers; the numpy RNG state as a tensor), and is read with ``torch.load(...,
weights_only=True)``, so a checkpoint planted in a run directory cannot run anything when it is
loaded (format 1 held the numpy state as an array; it is still read, with numpy's array
reconstruction as the only global allowed besides torch's own).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvhpc.atomic import atomic_path
from rvhpc.errors import RunDirError
from rvhpc.runfiles import EPOCH_CHECKPOINT, PARTIAL_CHECKPOINT
from rvhpc.safeload import NotData, load_data

_EPOCH_RE = EPOCH_CHECKPOINT
PARTIAL = PARTIAL_CHECKPOINT
#: format 2: the numpy RNG state is stored as plain values and an int64 tensor, not a numpy array
FORMAT = 2


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
    #: early stopping's state after this epoch (rvhpc.training.validation.Stopping.to_dict)
    early_stopping: dict[str, Any] | None = None

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
    payload = {"format": FORMAT, **{k: getattr(ckpt, k) for k in Checkpoint.__dataclass_fields__}}
    payload["numpy_rng"] = _numpy_rng_to_plain(ckpt.numpy_rng)
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
    """Read a checkpoint as data only (``weights_only=True``); RunDirError for anything else."""
    try:
        payload = _load_data(path)
        version = payload.pop("format", None)
        if version not in (1, FORMAT):
            raise ValueError(f"format {version!r}")
        payload["numpy_rng"] = _numpy_rng_from_plain(payload.get("numpy_rng"))
        return Checkpoint(**payload)
    except NotData:
        raise RunDirError(
            f"{path}: holds objects other than tensors and plain data, so it was not loaded "
            "(a foreign or tampered checkpoint); delete it or start over with --force"
        ) from None
    except Exception as exc:  # a foreign or damaged file: say which
        raise RunDirError(
            f"{path}: not a readable rvhpc checkpoint ({exc.__class__.__name__}); "
            "delete it or start over with --force"
        ) from None


def _load_data(path: Path) -> dict[str, Any]:
    """Tensors and plain data only; format 1 files may also hold numpy arrays."""
    try:
        return load_data(path)
    except NotData:
        return load_data(path, allow=_NUMPY_ARRAY_GLOBALS)


#: what unpickling a plain numpy array needs (no code: numpy's documented array reconstruction)
_NUMPY_ARRAY_GLOBALS = [
    np.ndarray,
    np.dtype,
    type(np.dtype(np.uint32)),
    getattr(np, "_core", np).multiarray._reconstruct,
]


def _numpy_rng_to_plain(state: Any) -> Any:
    """``np.random.get_state()`` as (name, int64 tensor, pos, has_gauss, cached_gaussian)."""
    if state is None:
        return None
    name, key, pos, has_gauss, cached = state
    key = torch.from_numpy(np.asarray(key, dtype=np.int64).copy())
    return (str(name), key, int(pos), int(has_gauss), float(cached))


def _numpy_rng_from_plain(state: Any) -> Any:
    if state is None:
        return None
    name, key, pos, has_gauss, cached = state
    key = key.numpy() if isinstance(key, torch.Tensor) else np.asarray(key)
    return (str(name), key.astype(np.uint32), int(pos), int(has_gauss), float(cached))


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
