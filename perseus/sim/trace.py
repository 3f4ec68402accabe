"""What one simulated run leaves behind: one row per request, one row per batch.

This is the only thing the metrics layer reads from the simulator, and ``validate``
builds the same per-request columns from a live replay, so that both are summarised by
one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RequestTable:
    """One row per request, all arrays of equal length, in no particular order.

    ``finish_s`` is NaN for a request still in the system when the run ended, and
    ``ok`` is False for a request that was rejected or failed (``finish_s`` is then the
    time it was answered with the error, or NaN).
    """

    models: tuple[str, ...]      # model names; ``model`` indexes into this
    model: np.ndarray            # int32, index into ``models``
    host: np.ndarray             # int32, index of the placement's host that served it (-1: none)
    arrival_s: np.ndarray        # float64, when the request reached the router / was sent
    finish_s: np.ndarray         # float64, when its response reached the client (NaN: not finished)
    ok: np.ndarray               # bool
    batch_size: np.ndarray       # int32, size of the batch it ran in (0: unknown or never ran)
    start_s: np.ndarray | None = None  # float64, when its batch started executing (NaN: unknown)
    end_s: np.ndarray | None = None    # float64, when its batch's compute ended (NaN: unknown)
    received_s: np.ndarray | None = None  # float64, when the server received it (None: at arrival)

    @property
    def latency_s(self) -> np.ndarray:
        return self.finish_s - self.arrival_s


@dataclass(frozen=True)
class BatchTable:
    """One row per executed batch."""

    model: np.ndarray            # int32, index into the request table's ``models``
    host: np.ndarray             # int32
    instance: np.ndarray         # int32, index of the instance on that host that ran it
    size: np.ndarray             # int32
    start_s: np.ndarray          # float64, execution start
    end_s: np.ndarray            # float64, execution end (compute only, overhead excluded)


@dataclass(frozen=True)
class SimTrace:
    """Everything a simulated (or replayed) run of one placement produced."""

    requests: RequestTable
    batches: BatchTable | None
    host_busy_s: np.ndarray      # float64 per host: time with at least one batch executing, in the metrics window
    end_s: float                 # simulated time when the run stopped
