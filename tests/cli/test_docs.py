"""The command pages in docs/cli are generated from --help and must match the current CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rvhpc.cli import app
from rvhpc.cli.helpdocs import command_paths, help_text, render_pages

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli"


def test_pages_match_the_cli_help() -> None:
    pages = render_pages(app)
    on_disk = {p.name for p in DOCS.glob("*.md")}
    assert on_disk == set(pages), "docs/cli is stale: run `python -m rvhpc.cli.helpdocs docs/cli`"
    for name, text in pages.items():
        assert (DOCS / name).read_text() == text, (
            f"docs/cli/{name} differs from --help: run `python -m rvhpc.cli.helpdocs docs/cli`"
        )


@pytest.mark.parametrize("path", [p for p in command_paths(app) if p], ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    text = help_text(app, path)
    is_group = any(
        other[: len(path)] == path and len(other) > len(path) for other in command_paths(app)
    )
    if not is_group:
        assert "Example: rvhpc " in text, f"rvhpc {' '.join(path)} --help has no 'Example:' line"


def test_version_and_completion() -> None:
    from typer.testing import CliRunner

    from rvhpc import __version__

    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"rvhpc {__version__}"
    # typer detects the shell from the process tree (shellingham), so run the real command under
    # bash; "; true" keeps bash from exec-ing it (then bash would not be an ancestor)
    exe = Path(sys.executable).with_name("rvhpc")
    proc = subprocess.run(
        ["bash", "-c", f"'{exe}' --show-completion; true"], capture_output=True, text=True
    )
    assert "complete" in proc.stdout and "rvhpc" in proc.stdout, proc.stderr
