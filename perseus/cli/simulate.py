"""``perseus simulate``."""

from __future__ import annotations

import typer

from perseus.errors import InputError


def simulate_command() -> None:
    """Simulate every placement of a scenario and compare latency, SLA violations and cost."""
    raise InputError("`perseus simulate` is not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
