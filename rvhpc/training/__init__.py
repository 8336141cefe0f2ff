"""Training, checkpoints, distributed set-up and evaluation of one grid cell.

Import what you need from its modules (``rvhpc.training.run.train_cell``,
``rvhpc.training.config.TrainConfig``); metrics are a stage of their own, ``rvhpc.metrics``.
"""
