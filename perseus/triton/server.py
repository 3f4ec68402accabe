"""The embedded local host: a real ``tritonserver`` process serving zoo models on the CPU.

Perseus writes a model repository at run time and starts the server from the
``nvidia-pytriton`` wheel in explicit model-control mode, optionally pinned to CPU
cores so that a load generator on the other cores does not steal its time. The server
counts as ready only when every requested model is ready. It is stopped (whole process
group) when the context ends, on error, on Ctrl-C, and by the kernel if Perseus itself
dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from perseus.config.scenario import ModelConfig
from perseus.errors import HostError
from perseus.triton.install import backend_directory, server_environment, tritonserver_binary
from perseus.triton.trace import server_flags
from perseus.triton.repository import InstanceKind, model_config, write_repository

READY_TIMEOUT_S = 60.0
# errors a CPU-only machine always logs at start (GUIDE.md: harmless)
_HARMLESS = ("CudaDriverHelper", "NVML", "DCGM", "dcgm", "GPU metrics", "cuda")
LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int

    @classmethod
    def free(cls) -> "Ports":
        """Three ports that nothing listens on right now."""
        return cls(*_free_ports(3))


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOCAL_HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    """Run in the child before exec: new session, and SIGTERM when Perseus dies."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class EmbeddedServer:
    """A ``tritonserver`` process serving ``models`` (zoo names) with per-model settings."""

    models: list[str]
    settings: dict[str, ModelConfig] = field(default_factory=dict)
    ports: Ports = field(default_factory=Ports.free)
    cores: list[int] | None = None
    resolution: int | None = None
    kind: InstanceKind = "KIND_CPU"
    model_control: Literal["explicit", "none"] = "explicit"   # "none": no loading through the API
    name: str = "local"
    trace_file: Path | None = None    # where Triton writes request traces (tracing starts off)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    @property
    def grpc_url(self) -> str:
        return f"{LOCAL_HOST}:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"{LOCAL_HOST}:{self.ports.http}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.ports.metrics}/metrics"

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return Path(self._workdir.name) / "tritonserver.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def model_settings(self, model: str) -> ModelConfig:
        """Settings a model starts with: the given ones, else batches up to 16 from the client."""
        return self.settings.get(model, ModelConfig(max_batch_size=16))

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> "EmbeddedServer":
        """Start the server and wait until it and every model are ready."""
        for label, port in (("HTTP", self.ports.http), ("gRPC", self.ports.grpc), ("metrics", self.ports.metrics)):
            if port_in_use(port):
                raise HostError(f"{label} port {port} is already in use (choose another with --{label.lower()}-port)",
                                host=self.name)
        self._workdir = tempfile.TemporaryDirectory(prefix="perseus-triton-")
        repository = write_repository(Path(self._workdir.name) / "models", self._configs())
        command = [
            str(tritonserver_binary()),
            f"--model-repository={repository}",
            f"--backend-directory={backend_directory()}",
            f"--model-control-mode={self.model_control}",
            *(f"--load-model={model}" for model in self.models if self.model_control == "explicit"),
            f"--http-port={self.ports.http}",
            f"--grpc-port={self.ports.grpc}",
            f"--metrics-port={self.ports.metrics}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--exit-timeout-secs=5",
            "--backend-config=python,shm-default-byte-size=16777216",
            "--log-verbose=0",
            *(server_flags(self.trace_file) if self.trace_file else []),
        ]
        cores = set(self.cores) if self.cores else None
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_environment(),
                preexec_fn=lambda: (_die_with_parent(), cores and os.sched_setaffinity(0, cores)),
            )
        atexit.register(self.stop)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _configs(self) -> dict[str, dict[str, object]]:
        kwargs = {"resolution": self.resolution} if self.resolution else {}
        return {model: model_config(model, self.model_settings(model), kind=self.kind, **kwargs)
                for model in self.models}

    def _wait_ready(self, timeout_s: float) -> None:
        from perseus.triton.client import TritonClient

        client = TritonClient(self.grpc_url, host=self.name)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (reason := self.exit_reason()) is not None:
                raise HostError(reason, host=self.name)
            if client.is_ready(self.models):
                return
            time.sleep(0.2)
        raise HostError(f"tritonserver was not ready within {timeout_s:.0f} s: {self.error_line()}", host=self.name)

    def error_line(self) -> str:
        """The server's own most telling log line: its fatal error, else its first real error."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, AssertionError):
            return "(no server log)"
        fatal = [line for line in lines if line.startswith("error:")]
        errors = [line for line in lines if line.startswith("E") and not any(h in line for h in _HARMLESS)]
        return (fatal or errors or lines[-1:] or ["(empty server log)"])[0].strip()[:500]

    def exit_reason(self) -> str | None:
        """How the server stopped, with its most telling log line; None while it runs or
        before it started (and after :meth:`stop`, which removes its log)."""
        code = self._process.poll() if self._process is not None else None
        if code is None:
            return None
        return f"tritonserver {_ended(code)}: {self.error_line()}"

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server and everything it started; safe to call more than once."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process is not None:
            _signal_group(process.pid, signal.SIGKILL)  # stubs left in the group
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _ended(code: int) -> str:
    """A process's return code in words (negative: the signal that killed it)."""
    if code >= 0:
        return f"exited with status {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
