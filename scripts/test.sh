#!/usr/bin/env bash
# The whole test suite from a fresh machine: venv + packages, the local Slurm cluster and the
# sandbox runtime the tests use, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# bubblewrap runs one array task in a sandbox that sees only the bound paths (Apptainer stand-in)
if ! command -v bwrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
fi
bash slurm/cluster-up.sh
export RVHPC_PYTHON="$PWD/.venv/bin/python"
# lint, format and the layer contracts first (configured in pyproject.toml): a finding fails the
# run before any test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache   # the layer contracts in pyproject.toml (docs/architecture.md)
exec .venv/bin/python -m pytest "$@"
