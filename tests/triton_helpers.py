"""Shared helpers for tests that run the real CLI and the real embedded tritonserver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# Tests serve the zoo models at a small input resolution: the same graphs, much less compute.
TEST_RESOLUTION = 64


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run ``perseus ARGS`` in a subprocess and capture its output."""
    return subprocess.run(
        _perseus(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    """Start ``perseus ARGS`` with Ctrl-C (SIGINT) handled by Python, whatever this process
    inherited: a shell without job control starts background jobs with SIGINT ignored, and
    Python keeps an ignored SIGINT ignored."""
    return subprocess.Popen(_perseus(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _perseus(*args: str) -> list[str]:
    return [sys.executable, "-m", "perseus", *args]


def hosts_file(path: Path, hosts: dict[str, dict[str, object]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"hosts": hosts}))
    return path


def tritonserver_pids() -> set[int]:
    """PIDs of every tritonserver and Python backend stub process on the machine."""
    out = subprocess.run(["pgrep", "-f", "tritonserver|triton_python_backend_stub"], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}
