"""``perseus validate``."""

from __future__ import annotations

import typer

from perseus.errors import InputError


def validate_command() -> None:
    """Replay a scenario's trace on live Triton hosts and compare with the simulation."""
    raise InputError("`perseus validate` is not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
