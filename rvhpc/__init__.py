"""rvhpc: random-vector regionalization of a global hydrologic LSTM at HPC scale."""

__version__ = "0.1.0"
