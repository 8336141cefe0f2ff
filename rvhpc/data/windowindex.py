"""The training windows of a run as a bitmap: one bit per (basin, candidate target day).

Training visits its windows by position: the epoch order (rvhpc/training/order.py) permutes or
draws positions ``0 .. n - 1`` and each batch gathers the (basin, target day) of its positions.
Window ``p`` is the ``p``-th set bit of a bitmap that lists the basins one after another, each
over the candidate target days; so the windows come in basin order, then day order, the order
of the int32 [n, 2] pairs this index replaced, and every position names the same window as
before (runs keep their bits: tests/training/test_windowindex.py).

Why a bitmap: the pairs took 8 bytes per window in every training process; at Caravan's full
size (22,000 basins x 70 years, up to 5.6 * 10^8 windows) that is up to 4.5 GB per process,
four copies on a node of four ranks. The bitmap takes 1 bit per (basin, day) plus an int64
count of the set bits before every block of 512 bits: 1.125 bits (0.14 bytes) per (basin, day)
whatever the gaps, so 0.16 bytes per window where 90 % of the days are windows, and 79 MB at
full size.
Per-basin prefix counts with a uint16 day per window would gather faster (a binary search and a
lookup) but take 2 bytes per window (1 GB at full size); the bitmap's gather costs about 0.1 ms
per batch, which a training step does not notice (below).

Measured (benchmarks/bench_window_index.py, results/window_index.json; 2 shared cores): a
synthetic Caravan store of 2,000 basins x 40 years, 13 training years, 9.28 million windows.
- Held: 1.37 MB (0.148 bytes per window) against 74.2 MB for the int32 pairs.
- A training process (opens the store, builds the windows, draws 100 batches; the second of
  two side by side): USS 197 MiB against 267-275 MiB, peak RSS 868 MiB against 1,016 MiB.
- 256 positions to rows: 135 µs against 17 µs (a host batch with its windows: 0.71 against
  0.54 ms); a paper-shape training step (rvhpc.training.bench.measure: ea, hidden 256, batch
  256, 270 days, one thread; 1.18 s) on the index over one on the pairs, 10 rounds
  alternating: median 0.989 (0.965-1.009), fastest rounds 1.002.

Gathering: the block holding position ``p`` is a binary search in the block counts; the byte
inside the block is found from per-byte popcounts (a 256-entry table), the bit inside the byte
from a [256, 8] table of the k-th set bit. :meth:`WindowIndex.__getitem__` does it in numpy on
the host (a batch of ``rvhpc train`` on the CPU); :class:`DeviceWindows` is the same select in
torch for rvhpc/data/devicebatch.py, so that a GPU batch finds its rows on the device (the index
there is a few MB, where the pairs took 16 bytes per window). Both are checked against
:meth:`WindowIndex.pairs` (tests/training/test_windowindex.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

#: bytes per block of the bitmap with one int64 count of the set bits before it (512 bits: the
#: counts add 1/8 bit per bit)
BLOCK_BYTES = 64
#: basins of a block handed to :meth:`WindowIndex.build` (but the last): a multiple of 8, so that
#: each block of basins starts on a byte of the bitmap
BASIN_ALIGN = 8

_POP = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)
#: _SELECT[v * 8 + k]: the position (0 = least significant) of the k-th set bit of the byte v
_SELECT = np.zeros(256 * 8, dtype=np.int64)
for _v in range(256):
    _bits = [i for i in range(8) if _v >> i & 1]
    _SELECT[_v * 8 : _v * 8 + len(_bits)] = _bits


def _n_blocks(n_basins: int, n_days: int) -> int:
    return -(-n_basins * n_days // (8 * BLOCK_BYTES))


class WindowIndex:
    """The training windows (basin index, target day index) as a bitmap with block counts.

    Build it with :meth:`build`; ``len(index)`` is the number of windows and ``index[positions]``
    the int64 [B, 2] (basin index, day index) of an array of positions, as the [n, 2] pairs it
    replaced gave them.

    Parameters
    ----------
    bits : np.ndarray
        uint8 [n_blocks * BLOCK_BYTES]: bit ``b * n_days + j`` (least significant bit first) is
        set when the window of basin ``b`` ending on ``days[j]`` is a training window.
    counts : np.ndarray
        int64 [n_blocks + 1]: set bits before each block; the last is the window count.
    days : np.ndarray
        int64 [n_days]: the candidate target days (indices on the store's date axis).
    n_basins : int
    """

    def __init__(
        self, bits: np.ndarray, counts: np.ndarray, days: np.ndarray, n_basins: int
    ) -> None:
        self.bits, self.counts, self.days = bits, counts, days
        self.n_basins, self.n_days = int(n_basins), len(days)
        self._blocks = bits.reshape(-1, BLOCK_BYTES)

    @classmethod
    def build(cls, n_basins: int, days: np.ndarray, masks: Iterable[np.ndarray]) -> WindowIndex:
        """The index of the windows in ``masks``, one block of basins at a time.

        Parameters
        ----------
        n_basins : int
        days : np.ndarray
            The candidate target days, [n_days].
        masks : Iterable[np.ndarray]
            bool [k, n_days] per block of basins, in basin order, covering all ``n_basins``; each
            block but the last has a multiple of ``BASIN_ALIGN`` basins.

        Returns
        -------
        WindowIndex
        """
        n_days = len(days)
        n_blocks = _n_blocks(n_basins, n_days)
        bits = np.zeros(n_blocks * BLOCK_BYTES, dtype=np.uint8)
        b0 = 0
        for mask in masks:
            if b0 % BASIN_ALIGN:
                raise ValueError(f"each block of basins but the last must hold {BASIN_ALIGN}k")
            packed = np.packbits(mask.reshape(-1), bitorder="little")
            bits[b0 * n_days // 8 : b0 * n_days // 8 + len(packed)] = packed
            b0 += mask.shape[0]
        if b0 != n_basins:
            raise ValueError(f"masks cover {b0} basins, not {n_basins}")
        counts = np.zeros(n_blocks + 1, dtype=np.int64)
        step = 1 << 14  # blocks counted at once: 1 MB of bitmap
        for lo in range(0, n_blocks, step):
            chunk = bits[lo * BLOCK_BYTES : (lo + step) * BLOCK_BYTES]
            counts[lo + 1 : lo + 1 + len(chunk) // BLOCK_BYTES] = (
                _POP[chunk].reshape(-1, BLOCK_BYTES).sum(axis=1, dtype=np.int64)
            )
        np.cumsum(counts, out=counts)
        return cls(bits, counts, np.asarray(days, dtype=np.int64).copy(), n_basins)

    @staticmethod
    def footprint(n_basins: int, n_days: int) -> int:
        """Bytes of the index of ``n_basins`` x ``n_days`` candidate days, whatever the windows:
        the bitmap, rounded up to whole blocks, its block counts and the day list."""
        n_blocks = _n_blocks(n_basins, n_days)
        return n_blocks * BLOCK_BYTES + 8 * (n_blocks + 1) + 8 * n_days

    @property
    def nbytes(self) -> int:
        """Bytes the index holds (its two tables of 16 KB aside)."""
        return self.bits.nbytes + self.counts.nbytes + self.days.nbytes

    def __len__(self) -> int:
        return int(self.counts[-1])

    def __getitem__(self, positions) -> np.ndarray:
        """int64 [B, 2] (basin index, day index) of the windows at ``positions`` (ints, negative
        ones counted from the end, as a numpy array would).

        Raises
        ------
        IndexError
            A position outside ``-len .. len - 1``.
        """
        pos = np.asarray(positions)
        if (pos.size and pos.dtype.kind not in "iu") or pos.ndim > 1:
            raise TypeError(f"window positions must be integers of one axis, got {pos.dtype}")
        n = len(self)
        flat = np.atleast_1d(pos).astype(np.int64)
        if flat.size and (flat.min() < -n or flat.max() >= n):
            raise IndexError(f"window position out of range for {n} windows")
        flat = np.where(flat < 0, flat + n, flat)
        out = self._select(flat)
        return out[0] if pos.ndim == 0 else out

    def _select(self, pos: np.ndarray) -> np.ndarray:
        """The rows of positions in ``0 .. len - 1`` (the algorithm of the module docstring;
        :meth:`DeviceWindows.take` is its torch twin)."""
        if len(pos) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        at = np.arange(len(pos))
        block = np.searchsorted(self.counts, pos, side="right") - 1
        rank = pos - self.counts[block]  # the wanted set bit inside its block, from 0
        raw = self._blocks[block]  # [B, BLOCK_BYTES]
        running = np.zeros((len(pos), BLOCK_BYTES + 1), dtype=np.int64)
        np.cumsum(_POP[raw], axis=1, out=running[:, 1:])  # set bits before each byte
        byte = (running[:, 1:] <= rank[:, None]).sum(axis=1)  # the byte holding the bit
        value = raw[at, byte].astype(np.int64)
        bit = (block * BLOCK_BYTES + byte) * 8 + _SELECT[value * 8 + rank - running[at, byte]]
        return np.stack([bit // self.n_days, self.days[bit % self.n_days]], axis=1)

    def on_device(self, device: torch.device) -> DeviceWindows:
        """This index on ``device``, where a batch finds its rows without the host."""
        return DeviceWindows(self, device)

    def pairs(self) -> np.ndarray:
        """Every window as int64 [n, 2] (basin index, day index), in order: for tests and small
        stores only (it is the 16 bytes per window this index avoids)."""
        out = []
        step = 8 * (1 << 20)  # bits decoded at once, a multiple of 8
        for lo in range(0, self.n_basins * self.n_days, step):
            hi = min(self.n_basins * self.n_days, lo + step)
            flat = np.unpackbits(self.bits[lo // 8 : -(-hi // 8)], bitorder="little")[: hi - lo]
            at = np.flatnonzero(flat) + lo
            out.append(np.stack([at // self.n_days, self.days[at % self.n_days]], axis=1))
        return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


class DeviceWindows:
    """A :class:`WindowIndex` as device tensors, for rvhpc/data/devicebatch.py: the same select
    in torch (the bitmap is a few MB where the pairs took 16 bytes per window on the device).

    Parameters
    ----------
    index : WindowIndex
    device : torch.device
    """

    def __init__(self, index: WindowIndex, device: torch.device) -> None:
        self.n_days = index.n_days
        self._blocks = torch.from_numpy(index._blocks).to(device)
        self._counts = torch.from_numpy(index.counts).to(device)
        self._days = torch.from_numpy(index.days).to(device)
        self._pop = torch.from_numpy(_POP.astype(np.int64)).to(device)
        self._select = torch.from_numpy(_SELECT).to(device)

    def take(self, positions: torch.Tensor) -> torch.Tensor:
        """int64 [B, 2] (basin index, day index) of the windows at ``positions`` (int64, on the
        device, in ``0 .. len - 1``: unchecked, a check would wait for the device).

        Parameters
        ----------
        positions : torch.Tensor

        Returns
        -------
        torch.Tensor
        """
        if positions.numel() == 0:
            return torch.zeros((0, 2), dtype=torch.int64, device=positions.device)
        block = torch.searchsorted(self._counts, positions, right=True) - 1
        rank = positions - self._counts.index_select(0, block)
        raw = self._blocks.index_select(0, block).long()
        running = torch.zeros((len(raw), BLOCK_BYTES + 1), dtype=torch.int64, device=raw.device)
        pops = self._pop.index_select(0, raw.view(-1)).view(-1, BLOCK_BYTES)
        torch.cumsum(pops, dim=1, out=running[:, 1:])
        byte = (running[:, 1:] <= rank[:, None]).sum(1)
        value = raw.gather(1, byte[:, None])[:, 0]
        below = rank - running.gather(1, byte[:, None])[:, 0]
        bit = (block * BLOCK_BYTES + byte) * 8 + self._select.index_select(0, value * 8 + below)
        days = self._days.index_select(0, bit % self.n_days)
        return torch.stack([bit // self.n_days, days], dim=1)
