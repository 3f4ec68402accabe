"""perf_analyzer's stability rule, the field's standard for when a measurement counts.

A point is measured in windows; it is stable once the last ``count`` windows agree within
``tolerance`` on throughput and on mean latency, and measurement stops after
``max_windows`` windows whether or not that happened (the point is then kept and flagged
unstable, never dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

TOLERANCE = 0.10
COUNT = 3
MAX_WINDOWS = 10


def within(values: Sequence[float], tolerance: float = TOLERANCE) -> bool:
    """All values within ``tolerance`` of their mean (perf_analyzer compares to the average)."""
    mean = sum(values) / len(values)
    if mean == 0:
        return all(v == 0 for v in values)
    return all(abs(v - mean) <= tolerance * mean for v in values)


def is_stable(throughputs: Sequence[float], latencies: Sequence[float], count: int = COUNT,
              tolerance: float = TOLERANCE) -> bool:
    """True when the last ``count`` windows agree on both throughput and latency."""
    if len(throughputs) < count:
        return False
    return within(throughputs[-count:], tolerance) and within(latencies[-count:], tolerance)
