"""Shared pieces of the CLI: error handling and the stderr console.

Every command is registered through :func:`command`, which turns an :class:`RvhpcError` into one
line on stderr and its exit code (tracebacks only with ``RVHPC_DEBUG=1`` or ``rvhpc --debug``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from rvhpc.errors import RvhpcError, os_error_line
from rvhpc.exitcodes import EXIT_INTERRUPTED
from rvhpc.progress import make_console

GridArg = Annotated[
    str,
    typer.Argument(help="Grid YAML file, or a built-in grid name (smoke, caravan-smoke, paper)."),
]

RerunStale = Annotated[
    bool,
    typer.Option(
        "--rerun-stale",
        help="Retrain stale cells (their run directory holds another config than the grid now "
        "asks for: a train key, basin list or period edited since), replacing their results.",
    ),
]

err_console = make_console(stderr=True)
out_console = make_console()


def debug_enabled() -> bool:
    """True with ``RVHPC_DEBUG=1`` (or ``rvhpc --debug``): errors end in their traceback."""
    return os.environ.get("RVHPC_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error line and return the Exit to raise."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map RvhpcError (and a few OS errors users cause) to one line and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except RvhpcError as exc:
            if debug_enabled():
                raise
            raise fail(str(exc), exc.exit_code) from None
        except OSError as exc:  # a read-only or full disk, a file in the way of a folder...
            if debug_enabled():
                raise
            raise fail(os_error_line(exc), 1) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None

    return wrapper


def command(
    app: typer.Typer, name: str | None = None, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@command(app)`` registers a function as a Typer command with rvhpc's error handling."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        app.command(name, **kwargs)(handle_errors(func))
        return func

    return decorator
