"""The discrete-event model of a placement: queues, batchers, instances, shared devices.

Built on SimPy's event loop, with events per batch rather than per request: arrivals
are numpy arrays, and a model's queue on a host is a window ``[head, arrived)`` into its
arrival times, so that a batcher looks up how many requests have arrived by
``searchsorted`` instead of receiving an event for each. Events happen only when a
batch starts or ends, when a batcher's delay expires, when an idle model's next
request arrives, and - for the requests that need a decision on arrival
(``least_outstanding`` routing over replicas, or a ``max_queue_size``) - at each such
arrival. Results are written into preallocated arrays and summarised once at the end.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import simpy

from perseus.config.profile import Profile
from perseus.config.scenario import HostPlacement, RouterKind
from perseus.sim.batcher import BatchPolicy, decide
from perseus.sim.device import RunningBatch, SharedDevice, SlowdownTable
from perseus.sim.router import least_outstanding, static_assignment
from perseus.sim.service import ServiceTime
from perseus.sim.trace import BatchTable, RequestTable, SimTrace

FINISH_EPSILON_S = 1e-12


def model_stream(seed: int, model: str, purpose: int) -> np.random.Generator:
    """An independent random stream per model and purpose, derived from the seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(model.encode()), purpose]))


@dataclass
class ModelQueue:
    """One model's scheduler queue on one host, and its idle instances."""

    model: int
    host: int
    policy: BatchPolicy
    service: ServiceTime
    times: np.ndarray              # arrival times of the requests routed here
    ids: np.ndarray                # their index in the model's arrival array
    eager: bool                    # requests pushed at arrival (else all known up front)
    max_queue: int | None
    idle: list[int]                # free instance indices
    count: int = 0                 # requests routed here so far (eager) or in total
    head: int = 0                  # first request not yet batched
    finished: int = 0
    wake_at: float = float("inf")
    wake_token: int = 0
    index: int = 0                 # position in the engine's queue list

    def arrived(self, now: float) -> int:
        if self.eager:
            return self.count
        return int(self.times.searchsorted(now, "right"))


@dataclass
class Results:
    """Per-model request outcome arrays; batches are logged as they end and expanded to
    their requests once, at the end of the run."""

    host: list[np.ndarray]
    finish: list[np.ndarray]
    ok: list[np.ndarray]
    batch: list[np.ndarray]
    start: list[np.ndarray]
    batches: list[tuple[int, int, int, int, float, float]] = field(default_factory=list)  # queue, instance,
    #                                                                    first position, size, start, end


class Engine:
    """Runs one placement over given arrivals."""

    def __init__(self, hosts: list[HostPlacement], profiles: dict[str, Profile], arrivals: dict[str, np.ndarray],
                 routers: dict[str, RouterKind], seed: int, window: tuple[float, float]) -> None:
        self.env = simpy.Environment()
        self.models = tuple(arrivals)
        self.arrivals = [np.asarray(arrivals[m], dtype=float) for m in self.models]
        self.window = window
        self.results = Results(
            host=[np.full(len(a), -1, dtype=np.int32) for a in self.arrivals],
            finish=[np.full(len(a), np.nan) for a in self.arrivals],
            ok=[np.zeros(len(a), dtype=bool) for a in self.arrivals],
            batch=[np.zeros(len(a), dtype=np.int32) for a in self.arrivals],
            start=[np.full(len(a), np.nan) for a in self.arrivals],
        )
        self.busy = np.zeros(len(hosts))
        self.devices = [self._device(h, profiles[h.host_type]) for h in hosts]
        self.queues: dict[tuple[int, int], ModelQueue] = {}
        self.queue_list: list[ModelQueue] = []
        self.replicas: dict[int, list[ModelQueue]] = {}
        for h, host in enumerate(hosts):
            for name, config in host.models.items():
                m = self.models.index(name)
                policy = BatchPolicy.of(config)
                service = ServiceTime(profiles[host.host_type].models[name],
                                      model_stream(seed, f"{name}@{h}", 1), policy.max_batch)
                queue = ModelQueue(m, h, policy, service, np.empty(0), np.empty(0, dtype=np.int64), False,
                                   config.max_queue_size, list(range(config.instances)))
                self.queues[(h, m)] = queue
                queue.index = len(self.queue_list)
                self.queue_list.append(queue)
                self.replicas.setdefault(m, []).append(queue)
        for m, name in enumerate(self.models):
            self._route(m, routers.get(name, "least_outstanding"), model_stream(seed, name, 2))

    def _device(self, host: HostPlacement, profile: Profile) -> SharedDevice:
        names = {self.models.index(n): n for n in host.models}
        instances = {self.models.index(n): c.instances for n, c in host.models.items()}
        return SharedDevice(SlowdownTable.of(profile, names, instances))

    # --- arrivals and routing -----------------------------------------------------------

    def _route(self, m: int, kind: RouterKind, rng: np.random.Generator) -> None:
        replicas = self.replicas[m]
        times = self.arrivals[m]
        eager = any(q.max_queue for q in replicas)
        assignment = None if eager else static_assignment(kind, len(times), len(replicas), rng)
        if assignment is None:
            for q in replicas:
                q.eager, q.times, q.ids = True, np.empty(len(times)), np.empty(len(times), dtype=np.int64)
            if len(times):
                self._at(times[0], self._arrive, (m, 0, kind, rng))
            return
        for r, q in enumerate(replicas):
            q.ids = np.flatnonzero(assignment == r)
            q.times = times[q.ids]
            q.count = len(q.ids)
            if q.count:
                self._wake(q, q.times[0])

    def _arrive(self, event: simpy.Event) -> None:
        """One request that needs a decision on arrival: route it, then admit or reject it."""
        m, i, kind, rng = event.value
        now = self.env.now
        replicas = self.replicas[m]
        if len(replicas) == 1:
            q = replicas[0]
        elif kind == "least_outstanding":
            q = replicas[least_outstanding([r.count - r.finished for r in replicas])]
        else:
            q = replicas[static_pick(kind, i, len(replicas), rng)]
        self.results.host[m][i] = q.host
        if q.max_queue is not None and q.count - q.head >= q.max_queue:
            self.results.finish[m][i] = now  # rejected at once (UNAVAILABLE)
            q.finished += 1
        else:
            q.times[q.count] = now
            q.ids[q.count] = i
            q.count += 1
            if q.idle:
                self._dispatch(q)
        if i + 1 < len(self.arrivals[m]):
            self._at(self.arrivals[m][i + 1], self._arrive, (m, i + 1, kind, rng))

    # --- the batcher ----------------------------------------------------------------------

    def _dispatch(self, q: ModelQueue) -> None:
        """Start batches on idle instances while the batcher's rules allow."""
        now = self.env.now
        while q.idle:
            queued = q.arrived(now) - q.head
            if queued <= 0:
                if not q.eager and q.head < q.count:
                    self._wake(q, q.times[q.head])
                return
            size, deadline = decide(q.policy, queued, q.times[q.head], now)
            if size == 0:
                trigger = q.head + q.policy.trigger - 1
                if not q.eager and trigger < q.count:
                    deadline = min(deadline, q.times[trigger])
                self._wake(q, deadline)
                return
            self._start(q, size, now)

    def _wake(self, q: ModelQueue, at: float) -> None:
        if at >= q.wake_at or at == float("inf"):
            return
        q.wake_at = at
        q.wake_token += 1
        self._at(at, self._on_wake, (q, q.wake_token))

    def _on_wake(self, event: simpy.Event) -> None:
        q, token = event.value
        if token != q.wake_token:
            return
        q.wake_at = float("inf")
        self._dispatch(q)

    def _at(self, when: float, callback: object, value: object) -> None:
        delay = when - self.env.now
        event = self.env.timeout(delay if delay > 0.0 else 0.0, value)
        event.callbacks.append(callback)

    # --- the shared device ------------------------------------------------------------------

    def _start(self, q: ModelQueue, size: int, now: float) -> None:
        instance = q.idle.pop()
        first = q.head
        q.head += size
        device = self.devices[q.host]
        device.advance(now)
        if not device.running:
            device.busy_since = now
        device.running.append(RunningBatch(q.model, q.service.draw(size), payload=(q, instance, first, size, now)))
        self._reschedule(q.host, device)

    def _reschedule(self, h: int, device: SharedDevice) -> None:
        device.rerate()
        device.token += 1
        upcoming = device.next_finish()
        if upcoming is not None:
            self._at(self.env.now + upcoming[0], self._on_finish, (h, device.token))

    def _on_finish(self, event: simpy.Event) -> None:
        h, token = event.value
        device = self.devices[h]
        if token != device.token:
            return
        now = self.env.now
        device.advance(now)
        done, still = [], []
        for batch in device.running:
            (done if batch.remaining <= FINISH_EPSILON_S else still).append(batch)
        if not done:  # float rounding left a sliver of work: the batch the event was for ends now
            first = device.next_finish()[1]  # type: ignore[index]
            done, still = [first], [b for b in still if b is not first]
        device.running = still
        if not device.running:
            self._add_busy(h, device.busy_since or 0.0, now)
        self._reschedule(h, device)
        log = self.results.batches
        for batch in done:
            q, instance, first, size, start = batch.payload  # type: ignore[misc]
            log.append((q.index, instance, first, size, start, now))
            q.finished += size
            q.idle.append(instance)
            self._dispatch(q)

    def _add_busy(self, h: int, start: float, end: float) -> None:
        lo, hi = max(start, self.window[0]), min(end, self.window[1])
        if hi > lo:
            self.busy[h] += hi - lo

    # --- running and results ------------------------------------------------------------------

    def run(self, drain: bool) -> SimTrace:
        if drain:
            self.env.run()
        else:
            self.env.run(until=self.window[1])
        end = float(self.env.now)
        for h, device in enumerate(self.devices):
            if device.running:
                self._add_busy(h, device.busy_since or 0.0, end)
        log = np.array(self.results.batches, dtype=float).reshape(-1, 6)
        self._expand(log)
        return SimTrace(self._requests(), self._batches(log), self.busy.copy(), end)

    def _expand(self, log: np.ndarray) -> None:
        """Give every request the outcome of the batch it ran in (once, vectorised)."""
        r = self.results
        for q in self.queue_list:
            rows = log[log[:, 0] == q.index]
            rows = rows[np.argsort(rows[:, 2], kind="stable")]
            sizes = rows[:, 3].astype(np.int64)
            ids = q.ids[: int(sizes.sum())]
            m = q.model
            r.host[m][ids] = q.host
            r.finish[m][ids] = np.repeat(rows[:, 5] + q.service.overhead_s, sizes)
            r.start[m][ids] = np.repeat(rows[:, 4], sizes)
            r.batch[m][ids] = np.repeat(sizes, sizes)
            r.ok[m][ids] = True

    def _requests(self) -> RequestTable:
        r = self.results
        return RequestTable(
            models=self.models,
            model=np.concatenate([np.full(len(a), m, dtype=np.int32) for m, a in enumerate(self.arrivals)]),
            host=np.concatenate(r.host),
            arrival_s=np.concatenate(self.arrivals),
            finish_s=np.concatenate(r.finish),
            ok=np.concatenate(r.ok),
            batch_size=np.concatenate(r.batch),
            start_s=np.concatenate(r.start),
        )

    def _batches(self, log: np.ndarray) -> BatchTable:
        queue = log[:, 0].astype(np.int64)
        model = np.array([q.model for q in self.queue_list], dtype=np.int32)
        host = np.array([q.host for q in self.queue_list], dtype=np.int32)
        return BatchTable(model=model[queue] if len(queue) else np.empty(0, np.int32),
                          host=host[queue] if len(queue) else np.empty(0, np.int32),
                          instance=log[:, 1].astype(np.int32), size=log[:, 3].astype(np.int32),
                          start_s=log[:, 4], end_s=log[:, 5])


def static_pick(kind: RouterKind, i: int, replicas: int, rng: np.random.Generator) -> int:
    return i % replicas if kind == "round_robin" else int(rng.integers(replicas))


def simulate_placement(hosts: list[HostPlacement], profiles: dict[str, Profile], arrivals: dict[str, np.ndarray],
                       routers: dict[str, RouterKind], seed: int, window: tuple[float, float],
                       drain: bool = True) -> SimTrace:
    """Simulate ``hosts`` (one placement) serving ``arrivals``; see the module docstring."""
    return Engine(hosts, profiles, arrivals, routers, seed, window).run(drain)
