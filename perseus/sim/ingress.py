"""The core time the host's front end takes for each request it receives: a pause of the device.

On a CPU host the server's front end (gRPC threads receiving a request, copying its input
tensor, handing it to the batcher) runs on the same cores as the batches. Each request
the host receives takes ``work`` of core from the batches running just before it joins
its queue (``Profile.arrival_work_ms``, fit by :mod:`perseus.profile.ingress` on the
profile's open-loop replay). Modelled as a pause of the whole device over ``[a - work,
a)`` for an arrival at ``a``: no batch progresses then (a batch's work counts in
progress time, wall time less the pauses), and overlapping pauses merge. The request's
own batch starts at ``a``, after its pause, so a request on an idle device is not
delayed: its front end is the profile's measured front end.

Why: in Triton's traces of open-loop replays on the embedded host, a batch that
overlapped no other batch took longer the more requests arrived while it ran, by a
steady amount per request (:mod:`perseus.profile.ingress` has the measurements). The
average of that is in a profile's open-loop factor (solved on its replay with this
mechanism in place); the pauses put it where the arrivals are, so that a burst slows
the batches it meets.

Assumptions: every request costs the same, whatever its model and batch size, and takes
the whole device (on one core, the front end's threads preempt the batches'); requests
closer than ``work`` share their pause (at the rates replayed here, a few hundred per
second against pauses of well under a millisecond, that is rare). Arrivals known before
the run (every model routed statically) are pauses of this clock; a request routed one
at a time (``least_outstanding`` over several replicas, a ``max_queue_size``) takes its
``work`` from the batches running when it arrives
(:meth:`perseus.sim.device.SharedDevice.receive`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

from perseus.sim.batcher import INF


class ArrivalPauses:
    """The progress clock of one device: wall time less the pauses of its arrivals."""

    __slots__ = ("work", "starts", "ends", "before", "progress_at")

    def __init__(self, work_s: float, arrivals: np.ndarray) -> None:
        self.work = work_s
        ends = np.sort(np.asarray(arrivals, dtype=float))
        starts = ends - work_s
        first = np.ones(len(ends), dtype=bool)   # which pause begins a merged one
        first[1:] = starts[1:] > ends[:-1]
        merged_starts = starts[first]
        merged_ends = ends[np.concatenate([np.flatnonzero(first)[1:] - 1, [len(ends) - 1]])] if len(ends) else ends
        before = np.concatenate([[0.0], np.cumsum(merged_ends - merged_starts)])   # paused before each
        self.starts = merged_starts.tolist()
        self.ends = merged_ends.tolist()
        self.before = before.tolist()
        self.progress_at = (merged_starts - before[:-1]).tolist() + [INF]   # progress time at each start

    def paused(self, t: float) -> float:
        """Total pause before ``t``."""
        k = bisect_right(self.starts, t) - 1
        if k < 0:
            return 0.0
        return self.before[k] + min(t, self.ends[k]) - self.starts[k]

    def progress(self, since: float, now: float) -> float:
        """Progress time from ``since`` to ``now``."""
        return now - since - (self.paused(now) - self.paused(since))

    def wall(self, now: float, work: float) -> float:
        """The earliest time at which ``work`` of progress begun at ``now`` is done."""
        target = now - self.paused(now) + work
        return max(now, target + self.before[bisect_left(self.progress_at, target)])
