"""CPU cores: where an embedded server runs, and keeping the load generator off them.

The load generator and the servers share the machine's cores; pinned apart, the
client's own CPU use does not show up as interference (GUIDE.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def server_cores(count: int, offset: int = 0) -> list[int]:
    """``count`` cores for a server, leaving at least one core for the load generator."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return available
    chosen = available[offset: offset + count]
    return chosen if len(chosen) == count and len(available) > offset + count else available[:-1][:count]


def _set_all_threads(cores: set[int]) -> None:
    """Affinity of every thread of this process (gRPC's own threads too, whenever made)."""
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cores)
        except (ProcessLookupError, PermissionError):
            pass


@contextmanager
def pinned_away_from(cores: list[int] | None) -> Iterator[None]:
    """Run the load generator, every thread of it, on the cores the servers do not use."""
    if not cores:
        yield
        return
    before = os.sched_getaffinity(0)
    others = before - set(cores)
    if others:
        _set_all_threads(others)
    try:
        yield
    finally:
        _set_all_threads(before)
