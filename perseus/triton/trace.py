"""Triton's request traces: when the server received, computed and answered each request.

Triton's trace API at level ``TIMESTAMPS`` records per request ``REQUEST_START`` (the
front end received it), ``QUEUE_START``, ``COMPUTE_START`` and ``COMPUTE_END`` (its
batch's execution) and ``REQUEST_END`` (the response left the core), in nanoseconds of
the server's steady clock - ``CLOCK_MONOTONIC``, the clock of Python's
``time.monotonic``, so that on the same machine they line up with the client's times.
The statistics API gives only sums; the traces give each request, which is what splits a
latency into front end, queue and compute.

The trace file is fixed when the server starts (the API cannot move it) and is written
when the server shuts down, so tracing is for servers Perseus starts itself. It starts
switched off, and :func:`trace_settings` switch it on for the requests of interest only.
A request sent with a ``request_id`` carries it into its trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STAMPS = {"REQUEST_START": "received_ns", "COMPUTE_START": "compute_start_ns", "COMPUTE_END": "compute_end_ns",
          "REQUEST_END": "answered_ns"}
COLUMNS = ["request_id", "model", *STAMPS.values()]


def server_flags(path: Path) -> list[str]:
    """``tritonserver`` options that write every traced request to ``path``, tracing off."""
    return [f"--trace-config=triton,file={path}", "--trace-config=level=OFF", "--trace-config=rate=1",
            "--trace-config=count=-1", "--trace-config=log_frequency=0"]


def trace_settings(on: bool) -> dict[str, list[str]]:
    """The trace settings that switch a running server's tracing on (every request,
    timestamps) or off."""
    return {"trace_level": ["TIMESTAMPS" if on else "OFF"]}


def read_trace(path: Path) -> pd.DataFrame:
    """One row per traced request (:data:`COLUMNS`); empty when nothing was traced or the
    server died before writing its traces."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return pd.DataFrame(columns=COLUMNS)
    rows: dict[int, dict[str, Any]] = {}
    for entry in entries:
        row = rows.setdefault(entry["id"], {})
        if "model_name" in entry:
            row["model"] = entry["model_name"]
            row["request_id"] = entry.get("request_id", "")
        for stamp in entry.get("timestamps", []):
            column = STAMPS.get(stamp["name"])
            if column is not None:
                row[column] = stamp["ns"]
    frame = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    return frame.astype({column: np.float64 for column in STAMPS.values()})
