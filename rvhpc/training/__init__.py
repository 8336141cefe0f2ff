"""Training of one grid cell (or a pack of cells): config, epochs, checkpoints, DDP, rescoring.

Import what you need from its modules (``rvhpc.training.run.train_cell``,
``rvhpc.training.config.TrainConfig``); prediction and metrics are a stage of their own,
:mod:`rvhpc.evaluation`.
"""
