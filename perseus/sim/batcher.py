"""Triton's dynamic batcher: when a batch leaves the queue, and how large it is.

The rules follow ``dynamic_batch_scheduler.cc`` (Triton core 2.40-2.5x, see GUIDE.md):

* one queue per model, served in arrival order by all of the model's instances;
* a batch is formed for an idle instance. For one instance this is exactly what the
  default prefetching scheduler does (the instance takes whatever is queued when it
  frees, up to max); with several instances, prefetched payloads also close at a
  preferred size, which this rule reproduces for the default preferred size
  ``[max_batch_size]``;
* with the queue holding ``n`` requests: the largest preferred size that ``n`` requests
  can form leaves at once; else ``max_batch_size`` when ``n`` reaches it; else, once
  the oldest waiting request has waited ``max_queue_delay``, everything pending (up to
  max) leaves; ``max_queue_delay = 0`` therefore sends whatever is pending at once;
* without dynamic batching (the default scheduler) every request is its own batch.

Assumption: the batcher's own decision time is zero; measured per-batch costs are part
of the profile's batch time.
"""

from __future__ import annotations

from dataclasses import dataclass

from perseus.config.scenario import ModelConfig


EPSILON_S = 1e-9  # timers that fire at a deadline land within float rounding of it


@dataclass(frozen=True)
class BatchPolicy:
    """A model's batching settings, in the form the decision needs."""

    max_batch: int
    preferred: tuple[int, ...]   # ascending; empty without dynamic batching
    delay_s: float
    batching: bool

    @classmethod
    def of(cls, config: ModelConfig) -> "BatchPolicy":
        return cls(config.batch_limit, tuple(config.preferred_sizes), config.queue_delay_s, config.dynamic_batching)

    @property
    def trigger(self) -> int:
        """Smallest queue length that leaves without waiting for the delay."""
        return self.preferred[0] if self.preferred else self.max_batch


def decide(policy: BatchPolicy, queued: int, oldest_s: float, now: float) -> tuple[int, float]:
    """``(size, 0)`` to send a batch of ``size`` now, or ``(0, deadline)`` to wait.

    ``deadline`` is when the oldest request's delay expires (``inf`` when there is
    nothing queued); the caller also wakes when enough requests arrive to reach
    :attr:`BatchPolicy.trigger`.
    """
    if queued == 0:
        return 0, float("inf")
    if not policy.batching:
        return 1, 0.0
    if queued >= policy.max_batch:
        return policy.max_batch, 0.0
    best = 0
    for size in policy.preferred:
        if size <= queued:
            best = size
    if best:
        return best, 0.0
    deadline = oldest_s + policy.delay_s
    if now >= deadline - EPSILON_S:
        return queued, 0.0
    return 0, deadline
