"""Turning a host of the inventory into a running, reachable Triton server.

An embedded host is started here, writing request traces to a file of its own (or an
already running ``perseus serve`` on the default ports is used, untraced); a remote host
must answer within the connect timeout.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perseus.config.hosts import Host
from perseus.config.profile import Hardware
from perseus.config.scenario import ModelConfig
from perseus.profile.runner import Target, hardware_of_this_machine
from perseus.triton.client import TritonClient
from perseus.triton.cores import server_cores
from perseus.triton.server import LOCAL_HOST, EmbeddedServer, Ports

DEFAULT_PORTS = Ports(http=8000, grpc=8001, metrics=8002)


def running_embedded(models: list[str]) -> TritonClient | None:
    """A ``perseus serve`` already serving ``models`` on the default ports, if there is one."""
    client = TritonClient(f"{LOCAL_HOST}:{DEFAULT_PORTS.grpc}", host="local")
    if client.is_ready(models):
        return client
    client.close()
    return None


@contextmanager
def open_target(name: str, host: Host, models: list[str], max_batch_size: int) -> Iterator[Target]:
    """A reachable server for ``host``: started (embedded) or checked (remote)."""
    if not host.embedded:
        assert host.url is not None
        kind = "gpu" if any(word in host.hardware.lower() for word in ("gpu", "nvidia", "tesla")) else "cpu"
        target = Target(name, host, host.url, Hardware(kind=kind, name=host.hardware))
        client = target.client()
        try:
            client.check_reachable()
        finally:
            client.close()
        yield target
        return
    if running_embedded(models) is not None:
        yield Target(name, host, f"{LOCAL_HOST}:{DEFAULT_PORTS.grpc}", hardware_of_this_machine(host.cores))
        return
    cores = server_cores(host.cores)
    settings = {m: ModelConfig(max_batch_size=max_batch_size) for m in models}
    kind = "KIND_GPU" if host.device == "gpu" else "KIND_CPU"
    hardware = embedded_hardware(host)
    with tempfile.TemporaryDirectory(prefix="perseus-traces-") as traces:
        trace_file = Path(traces) / "trace.json"
        with EmbeddedServer(models, settings=settings, cores=cores, name=name, resolution=host.resolution,
                            kind=kind, trace_file=trace_file) as server:
            yield Target(name, host, server.grpc_url, hardware, cores=cores, trace_file=trace_file)


def embedded_hardware(host: Host) -> Hardware:
    """What an embedded host runs on: this machine's CPU, or its first GPU."""
    return gpu_hardware() if host.device == "gpu" else hardware_of_this_machine(host.cores)


def gpu_hardware() -> Hardware:
    """The first GPU's name, as ``nvidia-smi`` reports it."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
        name = out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        name = "unknown GPU"
    return Hardware(kind="gpu", name=name, cores=None)
