"""The discrete-event model of a placement: routers, batchers, instances, shared devices.

Built on SimPy's event loop with events per batch, not per request. Arrivals stay numpy
arrays: a batcher counts the requests that have arrived with ``searchsorted`` and forms
prefetched payloads lazily, from the arrival times, when an instance frees (see
:mod:`perseus.sim.batcher`). Each host has at most one pending event - the earliest of
its next batch end and the moment an idle instance can next start a batch (the oldest
request's delay expiring, or the request that completes a preferred size arriving) -
and handles everything due at that time when it fires; when a batch starts or ends the
host's rates change and its next end is recomputed (:mod:`perseus.sim.device`), and a
generation counter (``token``) retires an event that a later decision superseded.

Only requests that need a decision on arrival - ``least_outstanding`` routing over
several replicas, a ``max_queue_size`` that may reject them, or a host whose profile
delays their queueing by its receive (:mod:`perseus.sim.frontend`, drawn by its core's
state then) - are handled one at a time, by one router event per model that routes
every arrival due before the next pending event in a loop (nothing else can happen in
between) and then waits for the next one; a delayed request joins its queue in an event
of its own. Batches are logged into flat arrays and expanded to their requests once, at
the end of the run.

Hosts that no ``least_outstanding`` router links never influence each other, so each
group of linked hosts runs on its own SimPy environment, one group after another. The
order of events inside a group is the order of one shared environment, so the results
are the same; a lone host then handles its events in one loop, with no round trip
through SimPy's queue between them.
"""

from __future__ import annotations

import gc
import zlib
from array import array

import numpy as np
import simpy

from perseus.config.profile import Profile
from perseus.config.scenario import HostPlacement, RouterKind
from perseus.sim.batcher import INF, BatchPolicy, DynamicBatcher
from perseus.sim.device import RunningBatch, SharedDevice, SlowdownTable
from perseus.sim.frontend import core_state_now, core_states
from perseus.sim.ingress import ArrivalPauses
from perseus.sim.router import least_outstanding, static_assignment
from perseus.sim.service import ServiceTime
from perseus.sim.speed import host_speed
from perseus.sim.trace import BatchTable, RequestTable, SimTrace


def model_stream(seed: int, name: str, purpose: int) -> np.random.Generator:
    """An independent random stream per model (and purpose), derived from the seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode()), purpose]))


class ModelQueue(DynamicBatcher):
    """A model's batcher on one host, with what the engine needs around it."""

    __slots__ = ("index", "model", "local", "host", "service", "idle", "freed_at", "rested_since", "received_up_to")

    def __init__(self, index: int, model: int, local: int, host: "Host", policy: BatchPolicy, instances: int,
                 service: ServiceTime, times: np.ndarray, ids: np.ndarray, eager: bool) -> None:
        super().__init__(policy, instances, times, ids, eager)
        self.index = index        # in the engine's queue list
        self.model = model        # in the engine's model list
        self.local = local        # among the host's models (its device's model index)
        self.host = host
        self.service = service
        self.idle = list(range(instances - 1, -1, -1))   # instance 0 is taken first
        self.freed_at = [-INF] * instances               # when each instance's last batch ended
        self.rested_since = -INF                         # when its last running batch ended (cold start)
        self.received_up_to = -INF                       # its latest receive so far (receives keep send order)

    def rests(self, now: float) -> None:
        """Its last running batch ended (its rest, for the cold-start overhead, begins)."""
        self.rested_since = now


class Host:
    """One server: its shared device, its models' queues, its pending event."""

    __slots__ = ("index", "env", "names", "device", "queues", "next_end", "pending", "token", "last_arrival")

    def __init__(self, index: int, env: simpy.Environment, names: list[str], device: SharedDevice) -> None:
        self.index = index
        self.env = env            # its group's event loop
        self.names = names        # its models, in the device's order
        self.device = device
        self.queues: list[ModelQueue] = []
        self.next_end = INF       # when the next running batch ends
        self.pending = INF        # time of the pending event
        self.token = 0            # generation of the pending event
        self.last_arrival = -INF  # when the latest request reached it (its core's state)


class BatchLog:
    """Executed batches, one row each, in growable flat arrays."""

    def __init__(self) -> None:
        self.queue, self.instance, self.size = array("i"), array("i"), array("i")
        self.first = array("q")
        self.start, self.end, self.idle = array("d"), array("d"), array("d")

    def add(self, queue: int, instance: int, first: int, size: int, start: float, end: float, idle: float) -> None:
        self.queue.append(queue)
        self.instance.append(instance)
        self.first.append(first)
        self.size.append(size)
        self.start.append(start)
        self.end.append(end)
        self.idle.append(idle)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: np.frombuffer(getattr(self, name), dtype=getattr(self, name).typecode).copy()
                for name in ("queue", "instance", "first", "size", "start", "end", "idle")}


class Engine:
    """Runs one placement over given arrivals."""

    def __init__(self, hosts: list[HostPlacement], profiles: dict[str, Profile], arrivals: dict[str, np.ndarray],
                 routers: dict[str, RouterKind], seed: int, window: tuple[float, float]) -> None:
        placed = [n for h in hosts for n in h.models if n not in arrivals]
        self.models = tuple(arrivals) + tuple(dict.fromkeys(placed))
        groups = linked_groups(hosts, routers)
        self.envs = [simpy.Environment() for _ in range(max(groups, default=-1) + 1)]
        self.arrivals = [np.asarray(arrivals.get(m, ()), dtype=np.float64) for m in self.models]
        self.window = window
        self.log = BatchLog()
        self.busy = np.zeros(len(hosts))
        self.host_of = [np.full(len(a), -1, dtype=np.int32) for a in self.arrivals]
        self.rejected = [np.zeros(len(a), dtype=bool) for a in self.arrivals]
        self.hosts: list[Host] = []
        self.queues: list[ModelQueue] = []
        self.replicas: dict[int, list[tuple[Host, BatchPolicy, ServiceTime, int]]] = {}
        self.received: dict[int, np.ndarray] = {}   # when each request was received, per model that waits for it
        self.wake_slice_s: list[float] = []
        self.arrival_work_s: list[float] = []
        for h, (placement, group) in enumerate(zip(hosts, groups)):
            self._add_host(h, self.envs[group], placement, profiles[placement.host_type], seed)
        for m, name in enumerate(self.models):
            if m in self.replicas:
                self._route(m, routers.get(name, "least_outstanding"), model_stream(seed, name, 2))
        for host, work_s in zip(self.hosts, self.arrival_work_s):
            if work_s:
                host.device.pause_for(ArrivalPauses(work_s, np.concatenate([q.times for q in host.queues])))
            self._schedule(host, min(q.wake for q in host.queues))

    # --- building ------------------------------------------------------------------------

    def _add_host(self, h: int, env: simpy.Environment, placement: HostPlacement, profile: Profile,
                  seed: int) -> None:
        names = list(placement.models)
        table = SlowdownTable(profile, names, [c.instances for c in placement.models.values()])
        host = Host(h, env, names, SharedDevice(table))
        host.device.speed = host_speed(profile, model_stream(seed, f"speed@{h}", 5))
        self.hosts.append(host)
        self.wake_slice_s.append((profile.wake_slice_ms or 0.0) / 1e3)   # classifies front ends
        self.arrival_work_s.append((profile.arrival_work_ms or 0.0) / 1e3)   # pauses the device
        for name, config in placement.models.items():
            lag_ms = profile.models[name].queue_delay_lag_ms or 0.0
            policy = BatchPolicy.of(config, lag_ms / 1e3)
            service = ServiceTime(profile.models[name], model_stream(seed, f"{name}@{h}", 1), policy.max_batch,
                                  model_stream(seed, f"{name}@{h}", 3), model_stream(seed, f"{name}@{h}", 4),
                                  profile.batch_spread, warms=profile.speed_path is None,
                                  receive_rng=model_stream(seed, f"{name}@{h}", 6))
            self.replicas.setdefault(self.models.index(name), []).append((host, policy, service, config.instances))

    def _route(self, m: int, kind: RouterKind, rng: np.random.Generator) -> None:
        times = self.arrivals[m]
        replicas = self.replicas[m]
        if any(service.receives for _, _, service, _ in replicas):
            self.received[m] = np.full(len(times), np.nan)
        eager = m in self.received or any(policy.max_queue is not None for _, policy, _, _ in replicas)
        assignment = None if eager else static_assignment(kind, len(times), len(replicas), rng)
        queues = []
        for r, (host, policy, service, instances) in enumerate(replicas):
            if assignment is None:
                q_times, q_ids = times[:0], np.empty(len(times), dtype=np.int64)
            else:
                q_ids = np.flatnonzero(assignment == r)
                q_times = times[q_ids]
                self.host_of[m][q_ids] = host.index
            queue = ModelQueue(len(self.queues), m, host.names.index(self.models[m]), host, policy, instances, service, q_times,
                               q_ids, assignment is None)
            queue.wake = queue.formation_time()
            host.queues.append(queue)
            self.queues.append(queue)
            queues.append(queue)
        if assignment is None and len(times):
            pick = (lambda i: least_outstanding([q.known - q.finished for q in queues])) \
                if kind == "least_outstanding" else self._static_pick(kind, len(queues), rng)
            self._at(queues[0].host.env, float(times[0]), self._on_arrivals, (m, 0, queues, pick))

    @staticmethod
    def _static_pick(kind: RouterKind, replicas: int, rng: np.random.Generator):
        if kind == "round_robin":
            return lambda i: i % replicas
        return lambda i: int(rng.integers(replicas))

    # --- events --------------------------------------------------------------------------

    @staticmethod
    def _at(env: simpy.Environment, when: float, callback, value: object) -> None:
        delay = when - env.now
        env.timeout(delay if delay > 0.0 else 0.0, value).callbacks.append(callback)

    def _schedule(self, host: Host, when: float) -> None:
        """Make ``when`` the host's one pending event (``inf``: none)."""
        if when == host.pending:
            return
        host.token += 1
        host.pending = when
        if when < INF:
            self._at(host.env, when, self._on_host, (host, host.token, when))

    def _on_host(self, event: simpy.Event) -> None:
        """The host's pending event: handle it, and the host's following ones as long as
        nothing else is due before them (the same order SimPy would take, without the
        round trip through its queue)."""
        host, token, when = event.value
        if token != host.token:
            return
        host.pending = INF
        peek = host.env.peek
        wake = self._step(host, when)
        while wake < peek():
            wake = self._step(host, wake)
        self._schedule(host, wake)

    def _on_arrivals(self, event: simpy.Event) -> None:
        """Route the arrivals due before anything else happens, one at a time."""
        m, i, queues, pick = event.value
        times, env = self.arrivals[m], queues[0].host.env
        count = len(times)
        while True:
            now = float(times[i])
            q = queues[pick(i)]
            if q.service.receives:
                self._receive(q, m, i, now)
            else:
                self._admit(q, m, i, now)
            i += 1
            if i == count:
                return
            if times[i] >= env.peek():
                self._at(env, float(times[i]), self._on_arrivals, (m, i, queues, pick))
                return

    def _receive(self, q: ModelQueue, m: int, i: int, now: float) -> None:
        """Request ``i`` of model ``m``, sent at ``now``, joins ``q`` once its host has
        received it, not before the requests of ``q`` sent ahead of it
        (:mod:`perseus.sim.frontend`)."""
        host = q.host
        device = host.device
        state = core_state_now(now, (b.start for b in device.running), max(device.last_end, host.last_arrival),
                               self.wake_slice_s[host.index])
        host.last_arrival = now
        received = max(now + q.service.receive(state), q.received_up_to)   # in send order
        q.received_up_to = received
        self.received[m][i] = received
        self._at(host.env, received, self._on_received, (q, m, i, received))

    def _on_received(self, event: simpy.Event) -> None:
        self._admit(*event.value)

    def _admit(self, q: ModelQueue, m: int, i: int, now: float) -> None:
        host = q.host
        self.host_of[m][i] = host.index
        if host.device.pauses:
            self._pause(host, now)
        if not q.push(now, i):
            self.rejected[m][i] = True
            return
        if q.busy < q.instances:
            q.wake = q.formation_time()
            if q.wake <= now:
                self._schedule(host, self._step(host, now))
            elif q.wake < host.pending:
                self._schedule(host, q.wake)

    def _pause(self, host: Host, now: float) -> None:
        """A request routed at ``now`` paused its host's device (:mod:`perseus.sim.ingress`):
        its running batches end later."""
        device = host.device
        device.receive(now)
        if device.running:
            host.next_end = device.rerate(now)
            self._schedule(host, min(host.next_end, *(q.wake for q in host.queues)))

    # --- a host at one moment ---------------------------------------------------------------

    def _step(self, host: Host, now: float) -> float:
        """Everything due on ``host`` at ``now`` - batches that end, batches that start -
        and when the host has something to do next."""
        device = host.device
        was_busy = bool(device.running)
        device.advance(now)
        changed = False
        if host.next_end <= now:
            log = self.log
            for batch in device.finished(now):
                q = batch.queue
                log.add(q.index, batch.instance, batch.first, batch.size, batch.start, now, batch.idle)
                q.catch_up(now)
                q.busy -= 1
                q.finished += batch.size
                q.idle.append(batch.instance)
                q.freed_at[batch.instance] = now
                if not q.busy:
                    q.rests(now)
                q.wake = now
            changed = True
        for q in host.queues:
            if q.wake <= now and self._dispatch(q, device, now):
                changed = True
        if changed:
            host.next_end = device.rerate(now)
            if was_busy and not device.running:
                self._add_busy(host.index, device.busy_since, now)
            elif device.running and not was_busy:
                device.busy_since = now
        wake = host.next_end
        for q in host.queues:
            if q.wake < wake:
                wake = q.wake
        return wake

    def _dispatch(self, q: ModelQueue, device: SharedDevice, now: float) -> bool:
        """Start batches on the queue's idle instances while the batcher lets them."""
        started = False
        service = q.service
        while q.busy < q.instances:
            first, size = q.take(now)
            if not size:
                break
            idle = now - q.rested_since if not q.busy else 0.0   # the model's own rest
            work = service.draw(size)
            if service.cold:
                work *= service.cold_factor(device.heat_at(now), size)
            elif service.warms:
                work *= service.warming(device.warmth_at(now))
            work += self._switch_extra(q, device)
            if device.speed:
                work *= device.speed.factor(now)
            q.busy += 1
            instance = q.idle.pop()
            device.start(RunningBatch(q.local, work, q, instance, first, size, now, idle), q.freed_at[instance] < now,
                         service)
            device.last = q.local
            started = True
        q.wake = q.formation_time() if q.busy < q.instances else INF
        return started

    @staticmethod
    def _switch_extra(q: ModelQueue, device: SharedDevice) -> float:
        """Extra work of a batch that starts on an empty device after another model's."""
        last = device.last
        if last >= 0 and last != q.local and not device.running:
            return device.table.switch_s[q.local][last]
        return 0.0

    def _add_busy(self, h: int, start: float, end: float) -> None:
        lo, hi = max(start, self.window[0]), min(end, self.window[1])
        if hi > lo:
            self.busy[h] += hi - lo

    # --- running and results ------------------------------------------------------------------

    def run(self, drain: bool) -> SimTrace:
        # The loop allocates many short-lived objects and no garbage cycles: pausing the
        # cycle collector spares it from rescanning the arrays held by the engine.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for env in self.envs:
                env.run() if drain else env.run(until=self.window[1])
        finally:
            if collecting:
                gc.enable()
        end = max((float(env.now) for env in self.envs), default=0.0 if drain else self.window[1])
        for host in self.hosts:
            if host.device.running:
                self._add_busy(host.index, host.device.busy_since, float(host.env.now))
        log = self.log.columns()
        return SimTrace(self._requests(log), self._batches(log), self.busy.copy(), end)

    def _requests(self, log: dict[str, np.ndarray]) -> RequestTable:
        """Give every request the outcome of the batch it ran in (once, vectorised)."""
        finish = [np.full(len(a), np.nan) for a in self.arrivals]
        start = [np.full(len(a), np.nan) for a in self.arrivals]
        end = [np.full(len(a), np.nan) for a in self.arrivals]
        batch = [np.zeros(len(a), dtype=np.int32) for a in self.arrivals]
        host_of_queue = np.array([q.host.index for q in self.queues], dtype=np.int32)
        state_at = [_state_at(log, host_of_queue, h, self.wake_slice_s[h], self._arrivals_at(h))
                    for h in range(len(self.hosts))]
        for q in self.queues:
            rows = np.flatnonzero(log["queue"] == q.index)
            rows = rows[np.argsort(log["first"][rows], kind="stable")]
            sizes = log["size"][rows]
            ids = q.ids[: int(sizes.sum())]
            m = q.model
            front_end = q.service.front_ends(sizes, log["idle"][rows], state_at[q.host.index](self.arrivals[m][ids]))
            finish[m][ids] = np.repeat(log["end"][rows], sizes) + front_end
            start[m][ids] = np.repeat(log["start"][rows], sizes)
            end[m][ids] = np.repeat(log["end"][rows], sizes)
            batch[m][ids] = np.repeat(sizes, sizes)
        for m, rejected in enumerate(self.rejected):
            finish[m][rejected] = self.arrivals[m][rejected]   # answered UNAVAILABLE at once
        finish_s = np.concatenate(finish)
        return RequestTable(
            models=self.models,
            model=np.concatenate([np.full(len(a), m, dtype=np.int32) for m, a in enumerate(self.arrivals)]),
            host=np.concatenate(self.host_of),
            arrival_s=np.concatenate(self.arrivals),
            finish_s=finish_s,
            ok=np.concatenate(batch) > 0,
            batch_size=np.concatenate(batch),
            start_s=np.concatenate(start),
            end_s=np.concatenate(end),
            received_s=self._received_s(),
        )

    def _received_s(self) -> np.ndarray | None:
        """When each request joined its queue: its arrival unless its host received it
        later (None: every request at its arrival)."""
        if not self.received:
            return None
        received = np.concatenate([self.received.get(m, a) for m, a in enumerate(self.arrivals)])
        return np.where(np.isnan(received), np.concatenate(self.arrivals), received)

    def _arrivals_at(self, host: int) -> np.ndarray:
        """Sorted arrival times of every request routed to ``host``."""
        return np.sort(np.concatenate([a[h == host] for a, h in zip(self.arrivals, self.host_of)]))

    def _batches(self, log: dict[str, np.ndarray]) -> BatchTable:
        model = np.array([q.model for q in self.queues], dtype=np.int32)
        host = np.array([q.host.index for q in self.queues], dtype=np.int32)
        queue = log["queue"]
        return BatchTable(model=model[queue] if len(queue) else np.empty(0, np.int32),
                          host=host[queue] if len(queue) else np.empty(0, np.int32),
                          instance=log["instance"], size=log["size"], start_s=log["start"], end_s=log["end"])


def _state_at(log: dict[str, np.ndarray], host_of_queue: np.ndarray, host: int, slice_s: float,
              arrivals: np.ndarray):
    """A function giving, for times, the state of ``host``'s core then
    (:data:`perseus.sim.frontend.CORE_STATES`); ``arrivals``: every request it received."""
    rows = np.flatnonzero(host_of_queue[log["queue"]] == host)
    starts, ends = log["start"][rows], log["end"][rows]
    return lambda times: core_states(starts, ends, times, slice_s, arrivals)


def linked_groups(hosts: list[HostPlacement], routers: dict[str, RouterKind]) -> list[int]:
    """Group number of each host: hosts share a group when a router that decides per
    request on the state of its replicas (``least_outstanding``) spreads a model over
    them. Groups are numbered in order of their first host."""
    parent = list(range(len(hosts)))

    def root(h: int) -> int:
        while parent[h] != h:
            h = parent[h]
        return h

    replicas: dict[str, list[int]] = {}
    for h, placement in enumerate(hosts):
        for name in placement.models:
            replicas.setdefault(name, []).append(h)
    for name, members in replicas.items():
        if routers.get(name, "least_outstanding") == "least_outstanding":
            for h in members[1:]:
                parent[root(h)] = root(members[0])
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(h), len(numbers)) for h in range(len(hosts))]


def simulate_placement(hosts: list[HostPlacement], profiles: dict[str, Profile], arrivals: dict[str, np.ndarray],
                       routers: dict[str, RouterKind], seed: int, window: tuple[float, float],
                       drain: bool = True) -> SimTrace:
    """Simulate ``hosts`` (one placement) serving ``arrivals``; see the module docstring.

    ``arrivals[model]`` are sorted arrival times (s); ``routers[model]`` spreads a model
    over its replicas (default ``least_outstanding``); ``seed`` drives the service-time
    draws and the random router, one stream per model; ``host_busy_s`` is measured inside
    ``window = (warmup_s, duration_s)``. With ``drain`` the run continues until every
    request finished, otherwise it stops at ``window[1]``.
    """
    return Engine(hosts, profiles, arrivals, routers, seed, window).run(drain)
