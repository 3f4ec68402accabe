"""Triton's dynamic batcher for one model on one host: its queue, its payloads, its instances.

The rules follow ``dynamic_batch_scheduler.cc``, ``rate_limiter.cc`` and
``instance_queue.cc`` (Triton core 2.40-2.5x, as GUIDE.md reads them):

* One queue per model, served in arrival order by all of the model's instances
  (``instance_group``); each instance runs one batch at a time.
* A batch ("payload") leaves the queue as soon as the queued requests can form the
  largest preferred batch size (or ``max_batch_size``); below the smallest preferred
  size it waits until ``max_queue_delay`` has passed since the oldest waiting request,
  then takes everything pending, up to max. ``max_queue_delay = 0`` takes whatever is
  pending at once. ``dynamic_batching`` without preferred sizes is auto-completed to
  ``preferred_batch_size: [max_batch_size]`` (``ModelConfig.preferred_sizes``). Without
  dynamic batching every request is its own batch.
* Prefetch: while every instance is busy the batcher forms payloads ahead, at most
  ``2 x instances`` waiting (``RateLimiter::PayloadSlotAvailable``). The newest waiting
  payload stays open and absorbs queued and arriving requests until it holds the largest
  preferred size (``max_batch_size`` by default), where Triton marks it saturated.
* An instance that frees takes the oldest waiting payload; with ``max_queue_delay > 0``
  it also merges the following payloads whose oldest request has waited longer than the
  delay, while the total stays within ``max_batch_size`` (``InstanceQueue::Dequeue``).
* ``max_queue_size``: a request that finds that many requests queued (not yet in a
  payload) is rejected at once (UNAVAILABLE). No request times out (Triton's default).

The delay expires ``queue_delay_lag_ms`` (measured by the profiler: Triton's batcher
thread wakes up late, then hands the batch to an instance) after ``max_queue_delay``;
the merge rule compares against the configured delay itself.

Assumptions: the batcher's other decisions take no time (measured per-batch costs are in
the profile's batch time); a waiting payload absorbs a request the moment it arrives.
Triton's batcher thread adds requests to a waiting payload only when it wakes up: when
the queued requests reach the next preferred size (``Enqueue``), after 500 ms, or when a
running payload completes and calls back - and then it races the freed instance, which
may take the payload first, leaving the late arrivals to the next payload and a whole
batch later. In the request traces of nine 130 s replays on the embedded host
(``bench_validate.py --keep``, 2026-11-29), the arrivals that came after the waiting
payload formed joined it at 4,264 frees and missed it at 2,593 (61% joined). Simulating
that race as a coin with 60% or 80% for the batcher matched the live queue time (one-model
Gamma: 6.59 against 6.60 ms, where absorbing on arrival gives 6.09), yet over the nine runs
at replay speed it gave a mean absolute p50 / p95 / p99 error of 2.4 / 3.7 / 7.3% (60%)
and 2.4 / 4.0 / 6.6% (80%) against 2.3 / 3.7 / 6.9% absorbing on arrival, and the
profiler has no point that measures the race; so the simulator keeps the simpler rule.

Requests are never objects: a queue is a window ``[head, arrived)`` into the sorted
arrival times of the requests routed to it, so the batcher looks up how many have
arrived with ``searchsorted`` and forms payloads lazily, when an instance frees, from
the arrival times alone.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from perseus.config.scenario import ModelConfig

INF = float("inf")


@dataclass(frozen=True)
class BatchPolicy:
    """A model's batching settings, in the form the batcher needs."""

    max_batch: int
    preferred: tuple[int, ...]   # ascending; empty without dynamic batching
    delay_s: float
    batching: bool
    max_queue: int | None
    timer_s: float = 0.0         # when a waiting request's delay actually expires (delay + lag)

    @classmethod
    def of(cls, config: ModelConfig, lag_s: float = 0.0) -> "BatchPolicy":
        delay = config.queue_delay_s
        return cls(config.batch_limit, tuple(config.preferred_sizes), delay, config.dynamic_batching,
                   config.max_queue_size, delay + max(lag_s, 0.0) if delay > 0 else 0.0)

    @property
    def trigger(self) -> int:
        """Smallest queue length that leaves without waiting for the delay."""
        return self.preferred[0] if self.preferred else self.max_batch

    @property
    def payload_cap(self) -> int:
        """Size at which a waiting payload stops absorbing requests (saturates)."""
        return self.preferred[-1] if self.preferred else 1

    @property
    def merges(self) -> bool:
        """Whether a freed instance merges following payloads (``InstanceQueue::Dequeue``)."""
        return self.batching and self.delay_s > 0 and self.max_batch > 1


def batch_size_now(policy: BatchPolicy, queued: int, oldest_s: float, now: float) -> int:
    """Size of the batch that leaves now for an idle instance, 0 to keep waiting."""
    if queued <= 0:
        return 0
    if not policy.batching:
        return 1
    if queued >= policy.max_batch:
        return policy.max_batch
    best = 0
    for size in policy.preferred:
        if size <= queued:
            best = size
    if best:
        return best
    if now >= oldest_s + policy.timer_s:
        return queued
    return 0


class DynamicBatcher:
    """One model's queue on one host, its waiting payloads and its instances.

    ``times`` holds the arrival times (sorted, a list: the batcher reads single values)
    and ``ids`` the trace indices of the requests routed here. With ``eager`` routing they
    are filled one request at a time as the router decides (``known`` counts them);
    otherwise all are known from the start and ``arrived(now)`` is a binary search.
    """

    __slots__ = ("policy", "instances", "times", "ids", "eager", "known", "cursor", "head", "busy", "payloads",
                 "open", "finished", "wake", "prefetch", "slots", "delay", "timer", "trigger", "cap")

    def __init__(self, policy: BatchPolicy, instances: int, times: np.ndarray, ids: np.ndarray, eager: bool) -> None:
        self.policy = policy
        self.instances = instances
        self.times: list[float] = [] if eager else times.tolist()
        self.ids = ids
        self.eager = eager
        self.known = len(self.times)
        self.cursor = 0                      # requests known to have arrived
        self.head = 0                        # first request in neither a payload nor a batch
        self.busy = 0                        # instances running a batch
        self.payloads: list[list[int]] = []  # waiting payloads: [first request, size]
        self.open = False                    # whether the newest waiting payload still absorbs
        self.finished = 0                    # requests whose batch has ended (for the router)
        self.wake = INF                      # when an idle instance can next start a batch
        self.prefetch = policy.batching      # Triton enqueues unbatched requests one by one
        self.slots = 2 * instances
        self.delay = policy.delay_s
        self.timer = policy.timer_s
        self.trigger = policy.trigger
        self.cap = policy.payload_cap

    def arrived(self, now: float) -> int:
        if self.eager:
            return self.known
        self.cursor = bisect_right(self.times, now, self.cursor)
        return self.cursor

    def formation_time(self) -> float:
        """When the requests from ``head`` on form a payload (``inf``: not known yet)."""
        head = self.head
        if head >= self.known:
            return INF
        first = self.times[head]
        if not self.policy.batching or self.delay == 0.0:
            return first
        last = head + self.trigger - 1
        full = self.times[last] if last < self.known else INF
        return min(first + self.timer, full)

    def catch_up(self, now: float) -> None:
        """Form and fill the payloads that the batcher prefetched while every instance
        was busy, up to ``now`` (nothing happens here while an instance is idle)."""
        if not self.prefetch or self.busy < self.instances:
            return
        payloads, cap = self.payloads, self.cap
        while True:
            if self.open:
                last = payloads[-1]
                grow = min(cap - last[1], self.arrived(now) - self.head)
                last[1] += grow
                self.head += grow
                if last[1] < cap:
                    return
                self.open = False
            if len(payloads) >= self.slots or self.formation_time() > now:   # (the head has arrived otherwise)
                return
            payloads.append([self.head, 0])
            self.open = True

    def take(self, now: float) -> tuple[int, int]:
        """The batch an idle instance starts now: ``(first request, size)``, size 0: none."""
        if self.payloads:
            return self._take_payload(now)
        queued = self.arrived(now) - self.head
        if queued <= 0:
            return self.head, 0
        size = batch_size_now(self.policy, queued, self.times[self.head], now)
        first = self.head
        self.head += size
        return first, size

    def _take_payload(self, now: float) -> tuple[int, int]:
        payloads = self.payloads
        first, size = payloads.pop(0)
        if self.policy.merges:
            limit, times = self.policy.max_batch, self.times
            while payloads and now - times[payloads[0][0]] > self.delay and size + payloads[0][1] <= limit:
                size += payloads.pop(0)[1]
        if not payloads:
            self.open = False
        return first, size

    def push(self, arrival: float, index: int) -> bool:
        """An eagerly routed request arrives; False when the full queue rejects it."""
        self.catch_up(arrival)
        if self.policy.max_queue is not None and self.known - self.head >= self.policy.max_queue:
            return False
        self.times.append(arrival)
        self.ids[self.known] = index
        self.known += 1
        return True
