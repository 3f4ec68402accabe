"""Open-loop replay of an arrival trace against live Triton servers (``validate``).

Each request leaves at its scheduled time whether or not earlier ones have returned
(asyncio with ``tritonclient.grpc.aio``: the HTTP client did not overlap requests enough
for the server to batch them). How late each request left against its schedule is
recorded, so that a report can tell when the load generator, not the server, limited a
run. A failed or timed-out request is recorded with its error, never dropped.

Each request carries its row number as Triton's ``request_id``, so that a server's
request traces (:mod:`perseus.triton.trace`) can be joined to the log: when the server
received it, when its batch computed, on the replay's clock.

A model on several hosts is spread over them by the same router policies the simulator
models (``least_outstanding`` counts this model's requests sent to a host and not yet
answered; ties go to the lowest host index).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from perseus.config.hosts import Host
from perseus.config.scenario import RouterKind
from perseus.sim.trace import RequestTable

LEAD_S = 0.5            # time between starting the replay and the trace's t = 0
SPIN_S = 0.002          # the last stretch before a send is waited out by yielding to the
                        # event loop rather than by a timer, which wakes up to ~2 ms late
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    """One live server of the placement."""

    name: str
    url: str
    host: Host
    shapes: dict[str, tuple[int, ...]]   # model -> input shape of one item
    trace_file: Path | None = None       # where the server writes request traces (embedded hosts)
    exit_reason: Callable[[], str | None] | None = None   # embedded hosts: how the server stopped, None while up


@dataclass
class ReplayLog:
    """One row per scheduled request, filled in as the replay runs."""

    models: tuple[str, ...]
    model: np.ndarray
    scheduled_s: np.ndarray
    host: np.ndarray = field(init=False)
    sent_s: np.ndarray = field(init=False)
    finish_s: np.ndarray = field(init=False)
    ok: np.ndarray = field(init=False)
    errors: dict[int, str] = field(default_factory=dict)
    origin_s: float = float("nan")       # the replay's t = 0 on the monotonic clock
    # from the servers' request traces (NaN where not traced): received, batch start and end
    received_s: np.ndarray = field(init=False)
    start_s: np.ndarray = field(init=False)
    end_s: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.model)
        self.host = np.full(n, -1, dtype=np.int32)
        self.sent_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        self.ok = np.zeros(n, dtype=bool)
        self.received_s = np.full(n, np.nan)
        self.start_s = np.full(n, np.nan)
        self.end_s = np.full(n, np.nan)

    @classmethod
    def from_requests(cls, rows: pd.DataFrame, arrivals: dict[str, np.ndarray], hosts: list[str]) -> ReplayLog:
        """One replay's log read back from its rows of ``validate``'s requests CSV
        (:func:`perseus.validate.run.requests_csv`), to study a kept run offline:
        ``arrivals`` are those it replayed (its rows are in their merged order), ``hosts``
        the placement's host names by index. The run's clock origin is not kept."""
        models, index, times = merge_arrivals(arrivals)
        if len(rows) != len(times) or list(rows["model"]) != [models[m] for m in index]:
            raise ValueError(f"{len(rows)} rows do not follow the {len(times)} arrivals replayed")
        log = cls(models, index, times)
        number = {name: h for h, name in enumerate(hosts)}
        log.host[:] = [number.get(name, -1) for name in rows["host"].fillna("")]
        log.sent_s[:] = rows["sent_s"]
        log.finish_s[:] = rows["sent_s"] + rows["latency_ms"] / 1e3
        log.ok[:] = rows["ok"]
        log.errors = {i: error for i, error in enumerate(rows["error"]) if isinstance(error, str) and error}
        for column, target in (("received_s", log.received_s), ("compute_start_s", log.start_s),
                               ("compute_end_s", log.end_s)):
            target[:] = rows[column]
        return log

    def add_traces(self, traces: pd.DataFrame) -> None:
        """Server times of the replayed requests found in a host's traces (other requests,
        such as the reference requests before the replay, carry no row number)."""
        rows = pd.to_numeric(traces["request_id"], errors="coerce")
        traces = traces[rows.notna()]
        rows = rows[rows.notna()].to_numpy(dtype=np.int64)
        for column, target in (("received_ns", self.received_s), ("compute_start_ns", self.start_s),
                               ("compute_end_ns", self.end_s)):
            target[rows] = traces[column].to_numpy() / 1e9 - self.origin_s

    @property
    def lateness_ms(self) -> np.ndarray:
        return (self.sent_s - self.scheduled_s) * 1e3

    def request_table(self) -> RequestTable:
        """The replay as the simulator's per-request table: arrival = the scheduled time,
        and the latency from the send, so a request that left late does not count its
        lateness. The server's events (received, compute start and end) keep the run's
        clock: a batch's requests share their compute times whatever their own lateness,
        which is how their batch is told apart (:func:`perseus.profile.wakeup.replay_batches`),
        and a request's stages are differences of them (:func:`perseus.validate.compare.stage_summary`)."""
        latency = self.finish_s - self.sent_s
        return RequestTable(
            models=self.models, model=self.model.astype(np.int32), host=self.host,
            arrival_s=self.scheduled_s, finish_s=np.where(self.ok, self.scheduled_s + latency, np.nan),
            ok=self.ok.copy(), batch_size=np.zeros(len(self.model), dtype=np.int32),
            start_s=self.start_s.copy(), end_s=self.end_s.copy(), received_s=self.received_s.copy(),
        )

    def interrupted(self) -> None:
        """Mark the requests that were sent but not answered (nor failed) when the replay was
        stopped."""
        for i in np.flatnonzero(np.isfinite(self.sent_s) & ~self.ok):
            self.errors.setdefault(int(i), "interrupted before its answer")

    def failures_by_host(self, names: list[str]) -> dict[str, int]:
        failed = ~self.ok
        return {names[h]: int(np.sum(failed & (self.host == h))) for h in range(len(names))
                if np.any(failed & (self.host == h))}


def merge_arrivals(arrivals: dict[str, np.ndarray]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """All models' arrivals as one time-ordered schedule: (models, model index, time)."""
    models = tuple(arrivals)
    times = np.concatenate([arrivals[m] for m in models]) if models else np.empty(0)
    index = np.concatenate([np.full(len(arrivals[m]), i, dtype=np.int32) for i, m in enumerate(models)])
    order = np.argsort(times, kind="stable")
    return models, index[order], times[order]


class LiveRouter:
    """Chooses a replica for each request, as the simulated router does."""

    def __init__(self, replicas: dict[int, list[int]], policies: dict[int, RouterKind], seed: int) -> None:
        self.replicas = replicas
        self.policies = policies
        self.outstanding: dict[tuple[int, int], int] = {}
        self.turn: dict[int, int] = {}
        self.rng = np.random.default_rng(seed)

    def pick(self, model: int) -> int:
        hosts = self.replicas[model]
        if len(hosts) == 1:
            return hosts[0]
        policy = self.policies[model]
        if policy == "round_robin":
            turn = self.turn.get(model, 0)
            self.turn[model] = turn + 1
            return hosts[turn % len(hosts)]
        if policy == "random":
            return hosts[int(self.rng.integers(len(hosts)))]
        return min(hosts, key=lambda h: (self.outstanding.get((model, h), 0), h))

    def sent(self, model: int, host: int) -> None:
        self.outstanding[(model, host)] = self.outstanding.get((model, host), 0) + 1

    def answered(self, model: int, host: int) -> None:
        self.outstanding[(model, host)] -= 1


def replay(endpoints: list[Endpoint], log: ReplayLog, router: LiveRouter,
           progress: Callable[[int], None] = lambda sent: None) -> ReplayLog:
    """Send every request of ``log`` at its scheduled time and wait for every answer."""
    asyncio.run(_replay(endpoints, log, router, progress))
    return log


async def _replay(endpoints: list[Endpoint], log: ReplayLog, router: LiveRouter,
                  progress: Callable[[int], None]) -> None:
    import tritonclient.grpc.aio as aio

    clients = [aio.InferenceServerClient(e.url, ssl=e.host.ssl, root_certificates=e.host.root_certificates,
                                         private_key=e.host.private_key, certificate_chain=e.host.certificate_chain)
               for e in endpoints]
    inputs = {(h, m): _inputs(aio, endpoints[h].shapes[name])
              for h in range(len(endpoints)) for m, name in enumerate(log.models) if name in endpoints[h].shapes}
    loop = asyncio.get_running_loop()
    origin = loop.time() + LEAD_S
    log.origin_s = origin

    async def send(i: int, h: int, m: int) -> None:
        log.sent_s[i] = loop.time() - origin
        try:
            await clients[h].infer(log.models[m], inputs[(h, m)], request_id=str(i), client_timeout=REQUEST_TIMEOUT_S,
                                   headers=endpoints[h].host.headers or None)
            log.ok[i] = True
        except Exception as exc:  # a failed request is counted, never dropped
            log.errors[i] = _describe(exc)
        finally:
            log.finish_s[i] = loop.time() - origin
            router.answered(m, h)

    tasks = []
    try:
        for i in range(len(log.model)):
            due = origin + log.scheduled_s[i]
            if due - loop.time() > SPIN_S:
                await asyncio.sleep(due - loop.time() - SPIN_S)
            while loop.time() < due:
                await asyncio.sleep(0)
            m = int(log.model[i])
            h = router.pick(m)
            log.host[i] = h
            router.sent(m, h)
            tasks.append(asyncio.ensure_future(send(i, h, m)))
            if i % 64 == 0:
                progress(i)
        await asyncio.gather(*tasks)
        progress(len(log.model))
    finally:
        for task in tasks:
            task.cancel()
        for client in clients:
            await client.close()


def _inputs(aio: object, shape: tuple[int, ...]) -> list[object]:
    tensor = aio.InferInput("input", [1, *shape], "FP32")  # type: ignore[attr-defined]
    tensor.set_data_from_numpy(np.random.default_rng(0).random((1, *shape), dtype=np.float32))
    return [tensor]


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    text = message() if callable(message) else str(exc)
    return f"{type(exc).__name__}: {text}"[:300]
