"""``perseus plan``."""

from __future__ import annotations

import typer

from perseus.errors import InputError


def plan_command() -> None:
    """Search placements for the cheapest one that meets every SLA."""
    raise InputError("`perseus plan` is not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
