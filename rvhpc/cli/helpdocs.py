"""Generate docs/cli/*.md from the CLI's own ``--help``, so the pages cannot drift from the code.

``python -m rvhpc.cli.helpdocs docs/cli`` rewrites the pages; tests/cli/test_docs.py fails when a
page differs from what the current CLI prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

HELP_ENV = {
    "COLUMNS": "100",
    "TERMINAL_WIDTH": "100",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "_TYPER_FORCE_DISABLE_TERMINAL": "1",
}


def command_paths(app: typer.Typer) -> list[tuple[str, ...]]:
    """Every command and command group, as argv prefixes: (), ("data",), ("data", "prepare"), ..."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = []

    def walk(cmd, prefix: tuple[str, ...]) -> None:
        paths.append(prefix)
        if getattr(cmd, "commands", None):  # typer vendors its own click: duck-type groups
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], prefix + (name,))

    walk(root, ())
    return paths


def help_text(app: typer.Typer, path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="rvhpc")
    if result.exit_code != 0:
        raise RuntimeError(f"rvhpc {' '.join(path)} --help failed: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.splitlines()).strip() + "\n"


def page_name(path: tuple[str, ...]) -> str:
    return "-".join(path) if path else "rvhpc"


def render_pages(app: typer.Typer) -> dict[str, str]:
    """File name -> Markdown page for each command, plus an index."""
    pages: dict[str, str] = {}
    index = [
        "# rvhpc commands",
        "",
        "Generated from `--help` by `python -m rvhpc.cli.helpdocs docs/cli`.",
        "",
    ]
    for path in command_paths(app):
        name = page_name(path)
        title = "rvhpc " + " ".join(path) if path else "rvhpc"
        pages[f"{name}.md"] = f"# `{title}`\n\n```text\n{help_text(app, path)}```\n"
        index.append(f"- [`{title}`]({name}.md)")
    pages["README.md"] = "\n".join(index) + "\n"
    return pages


def main(argv: list[str]) -> int:
    from rvhpc.cli import app

    out = Path(argv[0] if argv else "docs/cli")
    out.mkdir(parents=True, exist_ok=True)
    pages = render_pages(app)
    for stale in out.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        (out / name).write_text(text)
    print(f"wrote {len(pages)} pages to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
