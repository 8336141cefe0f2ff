#!/usr/bin/env bash
# Create .venv (if needed) and install rvhpc into it: torch==2.13.0 first (the CPU wheel; a bare
# `torch` resolved first would pull a multi-GB CUDA build), then the project with its test extra.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${RVHPC_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
fi
stamp="$VENV/.rvhpc-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ containers/requirements.lock -nt "$stamp" ]; then
  # the container lock pins every runtime dependency: CI and the image resolve the same versions.
  # Its hashes are for the image's install (pip would demand them of -e . too): here only the pins
  # count. The test extra brings uv and build (tests/packaging builds the wheel, installs the lock).
  pins="$VENV/.rvhpc-constraints.txt"
  sed -n 's/^\([A-Za-z0-9][^ ]*==[^\\]*[^ \\]\) *\\\{0,1\}$/\1/p' containers/requirements.lock > "$pins"
  "$VENV/bin/python" -m pip install -q -e ".[test]" -c "$pins"
  touch "$stamp"
fi
