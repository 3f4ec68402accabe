"""The raw table of every measured window, written beside the profile after each point.

It is also the checkpoint: a point is done when its last window is in the table with
``final`` set, and ``--resume`` skips exactly those points. A point cut off half-way has
no final row; its windows are dropped and it is measured again.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from perseus.config.loading import write_atomic
from perseus.profile.loadgen import Window
from perseus.profile.plan import Point

COLUMNS = [
    "key", "phase", "model", "batch_size", "instances", "partner", "think_ms", "window", "final", "stable",
    "requests", "wall_s", "throughput", "client_mean_ms", "client_p50_ms", "client_p95_ms", "client_p99_ms",
    "client_std_ms", "server_batch_ms", "server_batches", "server_queue_ms", "alone_batch_ms",
    "reference_ms", "front_mean_ms", "front_p50_ms", "front_p95_ms", "front_p99_ms", "queue_delay_ms",
]


def window_row(point: Point, index: int, window: Window, queue_delay_ms: float = 0.0) -> dict[str, object]:
    """One window's row; ``queue_delay_ms`` is the batcher delay the model was loaded with
    (0: no dynamic batcher)."""
    lat = window.latencies_ms
    server = window.server
    count, _ = server.batches.get(point.batch_size, (0, 0))
    return {
        "key": point.key, "phase": point.phase, "model": point.model, "batch_size": point.batch_size,
        "instances": point.instances, "partner": point.partner, "think_ms": point.think_ms, "window": index,
        "final": False, "stable": False,
        "requests": window.requests, "wall_s": window.wall_s, "throughput": window.throughput,
        "client_mean_ms": float(lat.mean()), "client_p50_ms": float(np.percentile(lat, 50)),
        "client_p95_ms": float(np.percentile(lat, 95)), "client_p99_ms": float(np.percentile(lat, 99)),
        "client_std_ms": float(lat.std()),
        "server_batch_ms": server.batch_compute_ms(point.batch_size), "server_batches": count,
        "server_queue_ms": server.queue_ns / server.requests / 1e6 if server.requests else float("nan"),
        "alone_batch_ms": float("nan"), "reference_ms": float("nan"),
        **_front_end(window.front_end_ms),
        "queue_delay_ms": queue_delay_ms,
    }


def marker_row(point: Point, requests: int, wall_s: float) -> dict[str, object]:
    """The one row of a point whose measurements are kept elsewhere (the ``frontend``
    replay's requests): it marks the point done."""
    row: dict[str, object] = {column: float("nan") for column in COLUMNS}
    row.update(key=point.key, phase=point.phase, model=point.model, batch_size=point.batch_size,
               instances=point.instances, partner=point.partner, think_ms=point.think_ms, window=0,
               requests=requests, wall_s=wall_s, queue_delay_ms=0.0)
    return row


def _front_end(values: np.ndarray | None) -> dict[str, float]:
    """Per-request front end of the window (NaN where it was not measured per request)."""
    if values is None or not len(values):
        return {"front_mean_ms": float("nan"), **{f"front_p{q}_ms": float("nan") for q in (50, 95, 99)}}
    return {"front_mean_ms": float(values.mean()), **{f"front_p{q}_ms": float(np.percentile(values, q))
                                                        for q in (50, 95, 99)}}


class RawTable:
    """Rows of measured windows, persisted atomically to ``path`` (CSV)."""

    def __init__(self, path: Path, rows: list[dict[str, object]] | None = None) -> None:
        self.path = path
        self.rows = rows or []

    @classmethod
    def resume(cls, path: Path) -> "RawTable":
        """The completed points of an earlier run (an absent file means none)."""
        if not path.exists():
            return cls(path)
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        frame["partner"] = frame["partner"].fillna("")
        done = set(frame.loc[frame["final"].astype(bool), "key"])
        frame = frame[frame["key"].isin(done)]
        return cls(path, frame.to_dict("records"))

    def done(self) -> set[str]:
        return {str(row["key"]) for row in self.rows if row["final"]}

    def add_point(self, rows: list[dict[str, object]], stable: bool) -> None:
        """Append one finished point's windows and persist the table."""
        for row in rows:
            row["stable"] = stable
        rows[-1]["final"] = True
        self.rows.extend(rows)
        self.save()

    def save(self) -> None:
        buffer = io.StringIO()
        self.frame().to_csv(buffer, index=False)
        write_atomic(self.path, buffer.getvalue())

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)
