"""The ``perseus`` command: one thin entry per sub-command, registered here.

Each sub-command lives in its own module (``perseus/cli/<command>.py``) and only parses
options, calls the library and prints. Every :class:`~perseus.errors.PerseusError` ends
as one line on stderr with its exit status (2 for bad input, 1 for a failed host, 130
after Ctrl-C).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from perseus.errors import Interrupted, PerseusError

INTERRUPTED = Interrupted.exit_code   # Ctrl-C, as a shell reports SIGINT

app = typer.Typer(
    name="perseus",
    help="Measure, simulate and validate multi-tenant CNN serving on NVIDIA Triton Inference Server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)


def _register() -> None:
    from perseus.cli import plan, profile, serve, simulate, validate

    for module in (serve, profile, simulate, validate, plan):
        module.register(app)


def main() -> None:
    """Console entry point."""
    _register()
    try:
        code = app(standalone_mode=False)   # typer returns the status of what it caught (Ctrl-C: 130)
    except PerseusError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        raise
    if code == INTERRUPTED:
        err_console.print("interrupted")
    if isinstance(code, int) and code:
        sys.exit(code)
