"""What the core was doing when a request arrived: the class its front end is drawn from.

A request's front end (the client, the network and the server's gRPC threads, both ways)
runs on the core the batches run on. Triton's request traces of open-loop replays on the
embedded host (``bench_validate.py --keep``, a run of 2026-11-29 05:00: ResNet-18 alone, and
MobileNetV2 beside ResNet-18 on one core) split it by the core's state when the request
was sent, the same way for both models and every workload:

* ``idle`` - no batch executing: mean 1.12-1.21 ms, p95 1.8-2.5 ms;
* ``waking`` - the youngest executing batch started less than the host's wake slice
  (``Profile.wake_slice_ms``) before: its thread has the core to itself, and the request
  waits for more than the slice's remainder: mean 1.9-2.2 ms, p95 4.5-5.6 ms;
* ``busy`` - batches execute, none that young: the core is awake, so the median is
  shorter than idle (0.8-0.9 ms), but a request that must wait for the core waits long
  (p95 3.1-3.9 ms);
* ``asleep`` - an idle core on which nothing happened, no request arriving and no batch
  ending, for ``ASLEEP_AFTER_S`` or more.

Why ``asleep``: in the traces of two later ``bench_validate.py`` runs (12 replays) and
of the profile's replay (2026-11-29), an idle request's median front end grew with how long the
host had been quiet before it, the same way in every case, and levelled off after about
50 ms: 0.8-1.1 ms after under 2 ms, 1.0-1.3 after 10-20 ms, 1.2-1.45 after 40-80 ms
(presumably the threads that carry a request sleep deeper the longer nothing comes). The profile's
replay sent most requests within 20 ms of the one before, a one-model replay at 25
requests/s most after more: its median front end was 1.26 ms live against 0.91 ms
simulated, 2% of its p50 latency.

The same rule classifies a live request (from the traces' batch times, in the profiler)
and a simulated one (from the simulated batches, :func:`core_state_now` while the
simulation runs), so that the spreads the profiler measures are drawn where they were
measured. Assumption: only the arrival matters; the core's state when the response
leaves changed the egress by less than 0.1 ms on average in those traces.

Received, then queued. Where the profile measured the front end's two parts, a request
joins its model's queue only when the server has received it (``receive_by_core_ms``,
drawn by the core's state at its send), and the part after its batch ends
(``respond_by_core_ms``) is added to its latency; otherwise the whole front end is added
after the batch, as if the request had been queued at its send. The difference is the
tail: a request that arrives while its model's instance is busy waits for that batch
anyway, and its slow receive on the busy core hides in that wait. In the kept replays of
``bench_validate.py`` (2026-12-07 06:15, shared Poisson: ResNet-18 beside MobileNetV2 on
one core), 95-97% of the ResNet-18 requests sent while a ResNet-18 batch ran were
received before it ended, taking 1.1-1.2 ms on average and 3.8-4.2 ms at p95, and their
own batch started a median 0.06-0.07 ms after it ended, as if their receive had taken
no time. With the whole front end added after the batch, the slowest 1% of the
simulated ResNet-18 requests there (at replay speed, :mod:`perseus.validate.speed`)
spent 2.3-2.4 ms outside their wait and compute, against 0.1-0.4 ms live. The receive is
most of the front end (0.7-2.0 ms on average by core state; the response 0.3-0.5 ms).
Re-simulated at replay speed on the kept arrivals of three runs of that day (04:52, 05:37
and 06:15; 27 model-case rows against the mean of their replays, validate's seed), the
mean absolute p50 / p95 / p99 error went from 1.7 / 2.7 / 3.7% to 2.0 / 2.3 / 2.8%, the
mean signed one from -1.4 / +1.2 / +1.2% to -1.9 / -0.1 / +0.5% (rows within all three
latency targets: 21 to 19, the p50s that were already short a little shorter), and
shared Poisson ResNet-18's p99 from +10.4 / +7.6 / +6.0% to +5.2 / -0.4 / +6.1%.
Assumptions: the receive and the response are drawn apart; the batcher's
``max_queue_delay`` counts from the receive, as Triton's queue does; a router that
counts outstanding requests counts a request once received.

In send order. A host receives a model's requests in the order they were sent: a request
is not received before the one of its model sent ahead of it
(``ModelQueue.received_up_to`` in :mod:`perseus.sim.engine`). Drawn one by one, a long
receive let the requests sent after it overtake it; live, few requests overtook one sent
before them. In the first shared Gamma replay of ``bench_validate.py --seed 29 --keep``
(2026-12-08 01:53-02:34, on the host's own profile of 01:52), 5.6% of the requests were
received before one sent ahead of them, by 0.10 ms at the median and 0.49 ms at p99 (5.6%
of MobileNetV2's and 5.2% of ResNet-18's before one of their own model); the simulation at
replay speed, each receive drawn alone, reordered 13.1%, by 0.26 and 5.2 ms (13.2% and
11.9%), and received its slowest 0.1% within 6.8 ms of the send against 19.0 ms live.
Re-simulated at replay speed on that run's six cases (18 model-replay rows, each replay
against itself, the mean of 20 seeds), the mean absolute p50 / p95 / p99 error went from
1.4 / 1.8 / 2.5% to 1.1 / 1.2 / 2.0%, the rows within the three latency targets from 15 to
17; shared Gamma MobileNetV2's p95 / p99 from -4.6 / -9.5% and -5.8 / -7.1% to -0.2 /
-3.8% and -1.1 / -1.7%. The order is kept per model, not over the host: held behind every
earlier receive of the host, the same rows came to 1.2 / 1.7 / 2.6% (16 of 18), shared
spiky MobileNetV2's p95 / p99 +6.1 / +10.1% in one replay. Assumption: each receive is
still drawn from the profile's spread, which was measured on receives that kept their
order, so the simulated receives run a little longer than measured: at replay speed the
front end's factor (:mod:`perseus.validate.speed`) takes that back (it came out 0.4-4.7%
lower on those rows); as profiled it stays (each replay against the simulation as
profiled, the same 18 rows: 4.4 / 4.8 / 6.1% before, 4.0 / 5.1 / 5.9% after, 4 of 18
within the targets either way). Live with it, the shared cases of
``bench_validate.py --seed 31`` (02:43-03:07, the same profile) came to 1.2 / 1.7 / 3.8%
at replay speed (4 of 6 rows within the three latency targets), shared Gamma MobileNetV2
+0.0 / +0.3 / -3.7%.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

IDLE, BUSY, WAKING, ASLEEP = 0, 1, 2, 3
CORE_STATES = ("idle", "busy", "waking", "asleep")
ASLEEP_AFTER_S = 0.02


def core_state_now(now: float, running_starts: Iterable[float], quiet_since: float, slice_s: float) -> int:
    """The state :func:`core_states` gives ``now``, read from a simulation as it runs: the
    core executes batches that started at ``running_starts`` (those that start ``now``
    do not count), and the latest request arrival or batch end before ``now`` was at
    ``quiet_since``."""
    youngest = max((start for start in running_starts if start < now), default=None)
    if youngest is not None:
        return WAKING if youngest > now - slice_s else BUSY
    return ASLEEP if now - quiet_since >= ASLEEP_AFTER_S else IDLE


def core_states(starts: np.ndarray, ends: np.ndarray, times: np.ndarray, slice_s: float,
                arrivals: np.ndarray) -> np.ndarray:
    """For each of ``times``, the state of a core that executed batches ``[starts[i], ends[i])``
    (any order) and received requests at ``arrivals`` (sorted; ``times`` among them):
    ``WAKING`` when a batch executing then started less than ``slice_s`` before, else
    ``BUSY`` when one executes, else ``ASLEEP`` when no request arrived and no batch ended
    in the ``ASLEEP_AFTER_S`` before, else ``IDLE``. A batch that starts at the very time
    (the request's own, on an idle core) does not count."""
    order = np.argsort(starts, kind="stable")
    starts, ends = np.asarray(starts, dtype=float)[order], np.asarray(ends, dtype=float)[order]
    times = np.asarray(times, dtype=float)
    arrivals = np.asarray(arrivals, dtype=float)
    started = np.searchsorted(starts, times, side="left")     # batches started before
    last_end = np.concatenate([[-np.inf], np.maximum.accumulate(ends)])[started]   # the latest end among them
    last_arrival = np.concatenate([[-np.inf], arrivals])[np.searchsorted(arrivals, times, side="left")]
    quiet = times - np.maximum(last_end, last_arrival)
    states = np.where(quiet >= ASLEEP_AFTER_S, ASLEEP, IDLE).astype(np.int8)
    states[last_end > times] = BUSY
    if not len(starts):
        return states
    young = np.searchsorted(starts, times - slice_s, side="right")   # first batch inside the slice
    for k in range(int(np.max(started - young, initial=0))):
        index = young + k
        inside = index < started
        executing = inside & (ends[np.minimum(index, len(ends) - 1)] > times)
        states[executing] = WAKING
    return states
