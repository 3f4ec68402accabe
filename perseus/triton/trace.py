"""Triton's request traces: when the server received, computed and answered each request.

Triton's trace API at level ``TIMESTAMPS`` records per request ``REQUEST_START`` (the
front end received it), ``QUEUE_START``, ``COMPUTE_START`` and ``COMPUTE_END`` (its
batch's execution) and ``REQUEST_END`` (the response left the core), in nanoseconds of
the server's steady clock - ``CLOCK_MONOTONIC``, the clock of Python's
``time.monotonic``, so that on the same machine they line up with the client's times.
The statistics API gives only sums; the traces give each request, which is what splits a
latency into front end, queue and compute.

The trace file is fixed when the server starts (the API cannot move it), so tracing is
for servers Perseus starts itself. It starts switched off, and :func:`trace_settings`
switch it on for the requests of interest only. While on, nothing is written (a log
frequency larger than any run); switching off sets the log frequency to 0, which makes
the server write the traces collected so far to a file of their own, ``FILE.N`` (the
plain ``FILE`` stays an unclosed JSON array until the server exits). A request sent with
a ``request_id`` carries it into its trace.
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


HOLD = 1 << 30   # log frequency while tracing: write nothing until switched off


def trace_settings(on: bool) -> dict[str, list[str] | str]:
    """The trace settings that switch a running server's tracing on (every request,
    timestamps, nothing written yet) or off (what was collected written out)."""
    return {"trace_level": ["TIMESTAMPS" if on else "OFF"], "log_frequency": str(HOLD if on else 0)}


def read_trace(path: Path) -> pd.DataFrame:
    """One row per traced request (:data:`COLUMNS`) in every file the server wrote for
    ``path`` so far; empty when nothing was traced or written (a server that died before
    writing). A file still being written is left out."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}   # by file and trace id
    for file in [path, *sorted(path.parent.glob(path.name + ".*"))]:
        try:
            entries = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        for entry in entries:
            row = rows.setdefault((file.name, entry["id"]), {})
            if "model_name" in entry:
                row["model"] = entry["model_name"]
                row["request_id"] = entry.get("request_id", "")
            for stamp in entry.get("timestamps", []):
                column = STAMPS.get(stamp["name"])
                if column is not None:
                    row[column] = stamp["ns"]
    frame = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    return frame.astype({column: np.float64 for column in STAMPS.values()})
