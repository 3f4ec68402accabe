"""``perseus profile``."""

from __future__ import annotations

import typer

from perseus.errors import InputError


def profile_command() -> None:
    """Profile one Triton host: batch-latency curves, instance scaling and the interference matrix."""
    raise InputError("`perseus profile` is not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile_command)
