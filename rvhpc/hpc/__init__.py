"""HPC glue: site profiles, Slurm scripts/submission/status, containers, Dask clusters."""
