#!/usr/bin/env bash
# The main job on a fresh machine: install rvhpc, then run the demo study end to end
# (synthetic CAMELS US -> store -> grid of trainings -> Dask collect -> tables and figures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/rvhpc demo --out "${1:-demo-out}"
