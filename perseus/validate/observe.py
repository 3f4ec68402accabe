"""What the live servers themselves saw during a replay: batch sizes and busy time.

Taken from the difference of two statistics snapshots per host and model (the
``batch_stats`` histogram), so that measured and simulated batch-size distributions
and per-host utilisation can be put side by side when the error is large, and the speed
the host computed at during the replay can be taken (:mod:`perseus.validate.speed`).
During the replay, hosts that can write request traces do (:func:`tracing`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from perseus.errors import HostError
from perseus.replay import Endpoint
from perseus.triton.client import ComputeStats, TritonClient


@dataclass(frozen=True)
class ServerView:
    """Per host: each model's statistics accumulated during the replay."""

    stats: list[dict[str, ComputeStats]]

    def batch_histogram(self, model: str, replays: int = 1) -> dict[int, float]:
        """Executed batches of ``model`` by size, over all hosts; per replay where the
        view holds ``replays`` of them (:func:`merged`)."""
        histogram: dict[int, int] = {}
        for host in self.stats:
            if model in host:
                for size, (count, _) in host[model].batches.items():
                    if count:
                        histogram[size] = histogram.get(size, 0) + count
        if replays == 1:
            return dict(sorted(histogram.items()))
        return {size: count / replays for size, count in sorted(histogram.items())}

    def batch_ms(self, model: str) -> dict[int, float]:
        """Mean server compute time of ``model``'s batches by size, in ms, over all hosts."""
        totals: dict[int, list[int]] = {}
        for host in self.stats:
            if model in host:
                for size, (count, ns) in host[model].batches.items():
                    if count:
                        total = totals.setdefault(size, [0, 0])
                        total[0] += count
                        total[1] += ns
        return {size: ns / count / 1e6 for size, (count, ns) in sorted(totals.items())}

    def compute_s(self, host: int) -> float:
        """Compute time summed over every batch that ran on ``host``, in seconds."""
        return sum(ns for stats in self.stats[host].values() for _, ns in stats.batches.values()) / 1e9


@contextmanager
def tracing(endpoints: list[Endpoint]) -> Iterator[None]:
    """Request traces on for the block, on the hosts that write them."""
    clients = [TritonClient.for_host(e.name, e.host) for e in endpoints if e.trace_file is not None]
    try:
        for client in clients:
            client.set_tracing(True)
        yield
    finally:
        for client in clients:
            try:
                client.set_tracing(False)
            except HostError:
                pass   # a host that died during the replay is reported by the replay itself
            client.close()


def snapshot(endpoints: list[Endpoint]) -> list[dict[str, ComputeStats]]:
    """Cumulative statistics of every model on every host, now."""
    result = []
    for endpoint in endpoints:
        client = TritonClient.for_host(endpoint.name, endpoint.host)
        try:
            result.append({model: client.statistics(model) for model in endpoint.shapes})
        finally:
            client.close()
    return result


def merged(views: list[ServerView]) -> ServerView:
    """Several replays' views as one, their hosts side by side: batch counts add up and
    batch times are averaged over every batch (``compute_s`` then indexes hosts of all)."""
    return ServerView([host for view in views for host in view.stats])


def difference(after: list[dict[str, ComputeStats]], before: list[dict[str, ComputeStats]]) -> ServerView:
    return ServerView([{m: a[m].minus(b[m]) for m in a} for a, b in zip(after, before)])
