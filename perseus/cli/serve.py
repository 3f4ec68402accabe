"""``perseus serve``: run the embedded local Triton host until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Optional

import typer
from rich.console import Console

from perseus.cli.profile import _models
from perseus.triton.cores import server_cores
from perseus.triton.hosts import DEFAULT_PORTS
from perseus.triton.server import EmbeddedServer, Ports

console = Console(stderr=True)


def serve_command(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated zoo models (default: all)."),
    http_port: int = typer.Option(DEFAULT_PORTS.http, "--http-port"),
    grpc_port: int = typer.Option(DEFAULT_PORTS.grpc, "--grpc-port"),
    metrics_port: int = typer.Option(DEFAULT_PORTS.metrics, "--metrics-port"),
    cores: int = typer.Option(1, "--cores", min=1, help="CPU cores to pin the server to (the rest stay free for clients)."),
) -> None:
    """Start the embedded local Triton host (a real tritonserver serving the built-in CNN models on the CPU)."""
    model_list = _models(models, embedded=True)
    server = EmbeddedServer(model_list, ports=Ports(http_port, grpc_port, metrics_port), cores=server_cores(cores))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with server:
        console.print(f"[green]ready[/]: {', '.join(model_list)} on gRPC {server.grpc_url}, HTTP {server.http_url}, "
                      f"metrics {server.metrics_url} (cores {server.cores}); Ctrl-C stops it")
        try:
            while not stopped.wait(0.5):
                if not server.is_running():
                    console.print(f"[red]tritonserver exited[/]: {server.error_line()}")
                    raise typer.Exit(1)
        except KeyboardInterrupt:
            pass
    console.print("stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
