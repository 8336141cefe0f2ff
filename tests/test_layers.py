"""The stages import downwards only: collect and metrics never import training (torch-free)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rvhpc

PKG = Path(rvhpc.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_collect_and_metrics_import_nothing_from_training():
    files = [*sorted((PKG / "collect").glob("*.py")), PKG / "evaluation" / "metrics.py"]
    offenders = {
        f.name: sorted(n for n in _imports(f) if n.startswith("rvhpc.training")) for f in files
    }
    assert len(files) > 5
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_collect_loads_neither_training_nor_torch():
    code = (
        "import importlib, pkgutil, sys, rvhpc.collect, rvhpc.evaluation.metrics\n"
        "for m in pkgutil.iter_modules(rvhpc.collect.__path__):\n"
        "    importlib.import_module('rvhpc.collect.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('rvhpc.training') or m == 'torch'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
