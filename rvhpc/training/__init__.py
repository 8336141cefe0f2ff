"""Training, checkpoints, distributed set-up, evaluation and metrics of one grid cell."""
