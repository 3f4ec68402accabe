"""The shared device of one host: batches of all its models running at once slow each other.

Modelled as progress rates (a generalised processor sharing). Each running batch has
remaining solo work - its batch time had it run alone - and progresses at a rate in
(0, 1]. Rates are recomputed whenever a batch starts or ends on the host, from the
profile: the rate of a batch of model ``m`` is ``1 / s`` with

* ``s = k / instance_scaling[k]`` for ``k`` running batches of ``m`` (its instances;
  instance scaling is the throughput of ``k`` busy instances relative to one,
  interpolated between measured counts, held at the last one beyond); without a measured
  scaling ``s = 1 + (k - 1) * (interference[m][m] - 1)`` (linear when that is missing);
* plus ``interference[m][n] - 1`` for each running batch of another model ``n``
  (``Profile.slowdown``; a missing entry means no slowdown).

With self- and cross-slowdown 2 (one core, fairly shared) this is exactly processor
sharing. Assumptions: slowdowns add up (measured pairwise, applied to any mix), they do
not depend on batch size, and a batch consumes its remaining work linearly at its rate.

A batch that starts while others run first has the device to itself for the host's wake
slice (``Profile.wake_slice_ms``, ``q``): the others pause, it runs at rate one, and the
slowdowns apply after that. This is how an OS scheduler treats a thread that wakes beside
busy ones: it preempts them and runs out its slice. Measured on the embedded CPU host, a
batch beside a busy partner took ``q + (alone - q) * S`` at every batch size (``q`` about
1 ms, ``S`` about 2), and in Triton's traces of a shared replay the batch that had started
first was slowed far more by the overlap than the one that joined it. When several
batches hold a slice, the one that started last runs. Only a thread that slept claims one:
a batch that its instance starts the moment its previous batch ends (a backlog) does not
(but see the wake law below), nor does a batch that starts on an empty device.

The slice is a draw, exponential with mean ``q``
(:meth:`perseus.sim.service.ServiceTime.wake_slice`, from its model's own stream; exactly
``q`` for a ``deterministic`` profile): how long the kernel lets a woken thread run
depends on where the scheduler's tick and the running thread's share stand when it wakes.
In Triton's traces of a shared Poisson replay (``bench_validate.py --keep``, 2026-11-29
16:30, 416 MobileNetV2 batches of 1 that joined a running ResNet-18 batch which outlasted
them), the joining batch took 3.04 / 3.33 / 5.33 / 7.35 / 8.02 ms at p5 / p25 / p50 / p75
/ p90: a third ran as if alone, the rest waited for the other's turn. A fixed slice of
``q`` = 1.1 ms gave 4.92 / 5.24 / 5.54 / 5.90 / 6.75 ms, the exponential one 3.21 / 4.94
/ 5.94 / 6.46 / 6.91. Re-simulated on the arrivals of four ``bench_validate.py --repeat
3`` runs (every case at 12:34, 14:02 and 16:30, the shared ones at 17:24; 33 model-case
rows against the mean of their replays, 14:57 profile), the mean absolute p50 / p95 / p99
error at replay speed went from 1.7 / 3.4 / 5.7% to 1.7 / 3.0 / 4.7% (rows within all
three latency targets: 16 -> 19), as profiled from 4.1 / 6.8 / 8.2% to 3.8 / 6.5 / 7.6%
(5 -> 9). Live, the shared cases at 17:24 (with it) and at 16:30 (without) came out alike
at replay speed, 1.8 / 2.9 / 6.8% and 1.2 / 2.9 / 6.0%: two replays of the same arrivals
in the 17:24 run differed by 3.3 / 4.4 / 6.7% (``bench/live_spread.py``). The live shape
is bimodal and this one is not: re-simulated, shared Poisson MobileNetV2's p99 stayed
8-10% short (p95 5-6%). Assumptions: the slice's law is the same for every model and
counts in wall time from the batch's start; the profiler's fit of ``q`` (on means, of
batches longer than the slice) gives its mean.

A profile with a ``wake_law`` (:mod:`perseus.profile.wakeup`, fit on the joins of its own
open-loop replay) draws the bimodal shape instead: the woken batch holds the core for
``slice_ms`` with probability ``preempt`` and for nothing otherwise, and every slowdown
between two models is the matrix's times ``sharing_factor``. Re-simulated on the arrivals
of a ``bench_validate.py --repeat 3`` run on a slow, noisy host (2026-12-06 00:01, nine
model-case rows against the mean of their replays, two seeds; its profile's law: preempt
0.44, slice 9 ms, sharing 1.18), MobileNetV2's joins of a running ResNet-18 batch in the
shared Poisson case went from 6.50 / 7.10 / 7.78 / 8.54 / 9.08 / 9.47 ms at p5 / p25 /
p50 / p75 / p90 / p95 (exponential slice) to 3.93 / 4.63 / 8.04 / 9.48 / 10.32 / 10.75
(live: 3.73 / 5.64 / 8.31 / 9.02 / 10.34 / 11.78), and the mean absolute p50 / p95 /
p99 error at replay speed from 2.8 / 14.5 / 22.3% to 3.2 / 6.7 / 14.1% (shared
MobileNetV2's p95 from -16.5, -15.6, -27.5% to +4.8, -1.9, -7.5% in the Poisson, Gamma
and spiky cases). A later profile of that host fit a weaker law (0.30, 4.25 ms, 0.99)
that moved the same rows little (the README has both). Assumptions: the law is the
host's, the same for every model, batch size and partner; the slice is fixed (the joins
it was fit on fall into two modes, with few between).

Under a wake law a backlog batch draws it too, where another model's batch runs: the law
is fit on every join, backlog or not, and the live backlog joins preempt about as often
as the woken ones. In the shared Gamma case's first replay of two ``bench_validate.py``
runs (2026-12-07 22:58 with ``--seed 11``, 23:48 with ``--seed 17``), 42% and 32% of
MobileNetV2's 31 and 41 backlog joins of a running ResNet-18 batch (its previous batch
ended under 0.2 ms before) took under 1.5 times its lone batch of one, against 47% and
44% of its 220 woken ones, where the simulation at replay speed gave its 52 and 53
backlog joins 2%. Re-simulated at replay speed on the shared cases of both runs (24
model-replay rows, each replay against itself), the mean absolute p50 / p95 / p99 error
went from 1.7 / 2.8 / 5.1% to 1.4 / 2.1 / 4.3%, the rows within the three latency targets
from 16 to 19, better at each figure in both runs. A backlog batch beside its own model's
other instances claims none: the instance scaling, measured back to back, holds that.

Not modelled: the partner's age. Live, a join took the core alone (under 1.2 times its
lone batch of one) more often the longer the batch it joined had run: in the shared
cases of ``bench_validate.py --seed 29 --keep`` (2026-12-08 01:53-02:34, calibration and
both replays), 20-38% of MobileNetV2's joins of a ResNet-18 batch under 3 ms old against
38-66% of those over 6 ms old. A preempt share ramping with that age (fit per replay by
least squares on the joins nearer the law's preempting time) left the errors at replay
speed where they were: on those cases' 12 model-replay rows 1.6 / 2.1 / 3.0% at p50 /
p95 / p99 with one share, 1.5 / 2.1 / 3.2% with the ramp, 9 rows within the three
latency targets either way (both before the receives kept their order,
:mod:`perseus.sim.frontend`).

A profile with ``arrival_work_ms`` also pauses the device for the front end's work on
each request the host receives (:mod:`perseus.sim.ingress`): work then counts in
progress time, wall time less the pauses.

A batch that starts on an empty device after a batch of another model ran last carries
that model switch's extra work (``Profile.switch_ms``: the other model's data displaced
its own from the caches); one that starts beside running batches pays the interference
instead. Either way it carries its model's cold start, read by the device's heat
(:meth:`SharedDevice.heat_at`, :mod:`perseus.sim.service`: clocks and caches after the
core idled, measured with the model alone). Assumption:
the switch costs the same after any idle time and for every batch size. The device
remembers which model ran last (``last``).
"""

from __future__ import annotations

import math

import numpy as np

from perseus.config.profile import Profile
from perseus.sim.batcher import INF
from perseus.sim.ingress import ArrivalPauses
from perseus.sim.service import HEAT_MEMORY_S, WARM_MEMORY_S, ServiceTime
from perseus.sim.speed import HostSpeed, MeasuredSpeed


class RunningBatch:
    """One executing batch: its model (local index on the host), work left, its current
    rate, when it ends at that rate, and what it is (``queue`` is the engine's)."""

    __slots__ = ("model", "remaining", "rate", "finish_at", "queue", "instance", "first", "size", "start", "idle",
                 "slice_end")

    def __init__(self, model: int, work: float, queue: object, instance: int, first: int, size: int,
                 start: float, idle: float) -> None:
        self.model = model
        self.remaining = work
        self.rate = 1.0
        self.finish_at = 0.0
        self.queue = queue
        self.instance = instance
        self.first = first
        self.size = size
        self.start = start
        self.idle = idle          # how long its model rested before it started (cold start)
        self.slice_end = -INF     # until when it has the device to itself (its wake slice)


class SlowdownTable:
    """Pairwise slowdown terms of the models on one host, by local model index."""

    def __init__(self, profile: Profile, names: list[str], instances: list[int]) -> None:
        law = profile.wake_law
        sharing = law.sharing_factor if law else 1.0
        self.same = [[_same_model(profile, name, k) for k in range(1, count + 1)]
                     for name, count in zip(names, instances)]
        self.cross = [[_cross_model(profile, a, b, sharing) for b in names] for a in names]
        self.switch_s = [[profile.switch_cost_ms(a, b) / 1e3 for b in names] for a in names]
        self.independent = all(v == 0.0 for row in self.cross for v in row) and all(
            s == 1.0 for row in self.same for s in row)
        slice_ms = law.slice_ms if law else profile.wake_slice_ms or 0.0
        self.slice_s = 0.0 if self.independent else slice_ms / 1e3
        self.preempt = law.preempt if law else None   # None: the exponential slice


def _cross_model(profile: Profile, victim: str, neighbour: str, sharing: float) -> float:
    """Slowdown term of ``victim``'s batch for each running batch of ``neighbour``: the
    measured slowdown times the wake law's ``sharing`` factor, less one; none for the same
    model or without a measured entry."""
    if victim == neighbour or neighbour not in profile.interference.get(victim, {}):
        return 0.0
    return profile.slowdown(victim, neighbour) * sharing - 1.0


def _same_model(profile: Profile, name: str, k: int) -> float:
    """Slowdown of each of ``k`` running batches of one model (instances) on their own."""
    scaling = profile.models[name].instance_scaling
    if not scaling:
        return 1.0 + (k - 1) * (profile.slowdown(name, name) - 1.0)
    points = {1: 1.0, **scaling}
    sizes = sorted(points)
    return k / float(np.interp(k, sizes, [points[n] for n in sizes]))


class BusyShare:
    """The share of recent time a device executed batches, through an exponential memory
    of ``memory_s``: it decays while the device idles and climbs towards one while it is
    busy."""

    def __init__(self, memory_s: float) -> None:
        self.memory_s = memory_s
        self.share = 0.0     # at ``since``,
        self.since = -INF    # when the device last began or ended a busy period

    def at(self, now: float, busy: bool) -> float:
        """The share at ``now``, the device ``busy`` (or idle) since the last turn."""
        decay = math.exp(-(now - self.since) / self.memory_s)
        return 1.0 - (1.0 - self.share) * decay if busy else self.share * decay

    def turn(self, now: float, busy: bool) -> None:
        """The device, ``busy`` (or idle) until ``now``, turns idle (or busy) at ``now``."""
        self.share, self.since = self.at(now, busy), now


class SharedDevice:
    """Running batches of one host and their progress."""

    def __init__(self, table: SlowdownTable) -> None:
        self.table = table
        self.pauses: ArrivalPauses | None = None   # the front end's (None: batches own the device)
        self.speed: HostSpeed | MeasuredSpeed | None = None   # the host's speed over time (None: steady)
        self.running: list[RunningBatch] = []
        self.counts = [0] * len(table.same)   # running batches per local model
        self.updated = 0.0
        self.busy_since = 0.0
        self.heat = BusyShare(HEAT_MEMORY_S)      # its duty cycle, for a cold-start table
        self.warmth = BusyShare(WARM_MEMORY_S)    # how warm its core is, for the open-loop factor
        self.last = -1                    # local model of the batch that started last (-1: none)
        self.last_end = -INF              # when the latest batch ended

    def heat_at(self, now: float) -> float:
        """The device's duty cycle over the last ``HEAT_MEMORY_S`` or so
        (:mod:`perseus.sim.service`)."""
        return self.heat.at(now, bool(self.running))

    def warmth_at(self, now: float) -> float:
        """How busy the device kept its core over the last ``WARM_MEMORY_S`` or so
        (:mod:`perseus.sim.service`)."""
        return self.warmth.at(now, bool(self.running))

    def pause_for(self, pauses: ArrivalPauses) -> None:
        """Let the front end pause the device for the arrivals known before the run."""
        self.pauses = pauses

    def receive(self, now: float) -> None:
        """A request routed at ``now`` took the front end's work from the running batches
        (:mod:`perseus.sim.ingress`); new rates are due."""
        self.advance(now)
        for batch in self.running:
            batch.remaining += self.pauses.work * batch.rate

    def advance(self, now: float) -> None:
        """Consume the work done since the last update."""
        elapsed = self.pauses.progress(self.updated, now) if self.pauses else now - self.updated
        if elapsed > 0.0:
            for batch in self.running:
                batch.remaining -= batch.rate * elapsed
        self.updated = now

    def start(self, batch: RunningBatch, woken: bool, service: ServiceTime) -> None:
        """Add a batch; ``woken``: its instance was idle before it (its thread slept). Its
        wake slice, if it claims one (:meth:`claims_slice`), is drawn by its model's
        ``service``."""
        if self.table.slice_s and self.claims_slice(batch, woken):
            batch.slice_end = batch.start + service.wake_slice(self.table.slice_s, self.table.preempt)
        if not self.running:   # a busy period begins
            self.heat.turn(batch.start, busy=False)
            self.warmth.turn(batch.start, busy=False)
        self.running.append(batch)
        self.counts[batch.model] += 1

    def claims_slice(self, batch: RunningBatch, woken: bool) -> bool:
        """Whether ``batch`` claims a wake slice as it starts: a woken batch beside running
        ones; under a wake law, also a backlog batch beside another model's running batch
        (the module docstring says why)."""
        if woken:
            return bool(self.running)
        return self.table.preempt is not None and len(self.running) > self.counts[batch.model]   # another model's runs

    def finished(self, now: float) -> list[RunningBatch]:
        """Remove and return the batches that end at ``now``."""
        done, still = [], []
        for b in self.running:
            if b.finish_at <= now:
                done.append(b)
                self.counts[b.model] -= 1
            else:
                still.append(b)
        if done:
            self.last_end = now
        if done and not still:   # the busy period ends
            self.heat.turn(now, busy=True)
            self.warmth.turn(now, busy=True)
        self.running = still
        return done

    def rerate(self, now: float) -> float:
        """New rates after a start, an end or a wake slice's end; returns the time of the
        next of those (``inf``: idle)."""
        running, table = self.running, self.table
        if table.slice_s:
            holder = _slice_holder(running, now)
            if holder is not None:
                return _run_alone(holder, running, now, self.pauses)
        soonest = INF
        pauses = self.pauses
        if len(running) == 1 or table.independent:
            for b in running:
                b.rate = 1.0
                b.finish_at = now + b.remaining if pauses is None else pauses.wall(now, b.remaining)
                if b.finish_at < soonest:
                    soonest = b.finish_at
            return soonest
        counts, cross, same = self.counts, table.cross, table.same
        for b in running:
            m = b.model
            slow = same[m][counts[m] - 1]
            for count, term in zip(counts, cross[m]):
                if count:
                    slow += count * term
            b.rate = 1.0 / slow
            b.finish_at = now + b.remaining * slow if pauses is None else pauses.wall(now, b.remaining * slow)
            if b.finish_at < soonest:
                soonest = b.finish_at
        return soonest


def _slice_holder(running: list[RunningBatch], now: float) -> RunningBatch | None:
    """The batch that started last among those still in their wake slice (None: none)."""
    holder = None
    for b in running:
        if b.slice_end > now and (holder is None or b.start >= holder.start):
            holder = b
    return holder


def _run_alone(holder: RunningBatch, running: list[RunningBatch], now: float, pauses: ArrivalPauses | None) -> float:
    """Rates while ``holder`` runs out its wake slice: it alone progresses."""
    for b in running:
        b.rate = 0.0
        b.finish_at = INF
    holder.rate = 1.0
    holder.finish_at = now + holder.remaining if pauses is None else pauses.wall(now, holder.remaining)
    return min(holder.finish_at, holder.slice_end)
