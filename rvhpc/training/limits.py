"""The bounds of the numeric training settings (docs/limits.md).

The limits lie far beyond any real study but refuse a typo of a few zeros before anything is
allocated: ``hidden: 1e9`` once tried to allocate gigabytes under ``grid show --estimate``, and
``epochs: 1e15`` projected 82 billion device-hours. The paper's values are 20 epochs, hidden 256,
batch 256 and 270 days. :class:`rvhpc.training.config.TrainConfig` and the grid's ``dims`` are
bounded by them.
"""

from __future__ import annotations

MAX_EPOCHS = 10_000
MAX_HIDDEN = 4_096
MAX_BATCH = 65_536
MAX_SEQ_DAYS = 3_660  # ten years of daily inputs
#: a learning rate allocates nothing: too large a one only diverges, which training detects and
#: records (DIVERGED, never DONE). The bound keeps 1e30, issue 19's example of a run that must be
#: reported as diverged, and refuses what cannot be meant (1e31 and up, inf)
MAX_LR = 1e30
MAX_CLIP = 1e6
MAX_FORGET_BIAS = 100.0
MAX_LOG_EVERY = 1_000_000
MAX_THREADS = 4_096
#: the largest static dimension d; the memory check (data/footprint.py) refuses far less on any
#: real machine, with the gigabytes it would take
MAX_DIM = 100_000_000
