"""``perseus serve``."""

from __future__ import annotations

import typer

from perseus.errors import InputError


def serve_command() -> None:
    """Start the embedded local Triton host (a real tritonserver serving the built-in CNN models on the CPU)."""
    raise InputError("`perseus serve` is not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
