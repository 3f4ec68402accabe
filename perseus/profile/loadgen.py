"""Closed-loop load against one Triton model, measured in windows.

A window runs ``concurrency`` client threads, each sending its next request as soon as
the previous one returns (or a think time after it, or after a request to another model),
until both a minimum time and a minimum number of requests are
reached. Server-side times come from the difference of two statistics snapshots taken
around the window (as perf_analyzer does). A :class:`BackgroundLoad` keeps another model
busy meanwhile, for interference measurements.

With a think time, one client can also take a snapshot after every request, in its think
time: the difference to the previous one is that request's own server time, and its
client latency less that is its front end (client, network, the server's front end).
Triton reports a request's statistics after it has sent the response, so a snapshot taken
as the response arrives can miss the request, and the next one then holds two: only a
difference of exactly one request gives a front end (:func:`request_front_end_ms`). A CI
run on 2026-12-06 that took every difference read a window's mean front end at -0.30 ms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from perseus.triton.client import ComputeStats, TritonClient

ClientFactory = Callable[[], TritonClient]


@dataclass(frozen=True)
class Window:
    """What one measurement window saw."""

    requests: int
    wall_s: float
    latencies_ms: np.ndarray      # client-side latency of each request
    server: ComputeStats          # server statistics accumulated during the window
    batch_size: int
    front_end_ms: np.ndarray | None = None   # per request, when snapshots were taken per request

    @property
    def throughput(self) -> float:
        """Inferences (images) per second."""
        return self.requests * self.batch_size / self.wall_s


def random_batch(shape: tuple[int, ...], batch_size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((batch_size, *shape), dtype=np.float32)


def request_front_end_ms(latency_ms: float, delta: ComputeStats) -> float | None:
    """A request's front end: its client latency less its server time, where the
    statistics difference ``delta`` since the previous snapshot counts exactly that one
    request (None where it counts none or more than one)."""
    return latency_ms - delta.success_ns / 1e6 if delta.requests == 1 else None


class LoadGenerator:
    """Closed-loop clients of one server.

    Every thread makes its own client (the HTTP client cannot be shared across threads);
    :attr:`control`, for statistics and model control, belongs to the calling thread.
    """

    def __init__(self, factory: ClientFactory, max_concurrency: int = 4) -> None:
        self.factory = factory
        self.control = factory()
        self._local = threading.local()
        self._clients: list[TritonClient] = []
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="perseus-load")

    def _thread_client(self) -> TritonClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.factory()
            with self._lock:
                self._clients.append(client)
        return client

    def window(self, model: str, batch: np.ndarray, *, concurrency: int = 1, min_time_s: float = 0.5,
               min_requests: int = 3, max_time_s: float = 30.0, think_s: float = 0.0,
               lead: tuple[str, np.ndarray] | None = None, per_request: bool = False) -> Window:
        """Run one closed-loop window at ``concurrency`` and measure it; each client waits
        ``think_s`` between a response and its next request, and sends ``lead`` (model,
        batch) before each measured request. ``per_request`` (one client, a think time)
        measures each request's front end with a snapshot in its think time."""
        assert not per_request or (concurrency == 1 and think_s > 0 and lead is None)
        before = self.control.statistics(model)
        start = time.perf_counter()
        stop_at = start + min_time_s
        give_up = start + max_time_s
        done = threading.Event()
        counter = [0]
        lock = threading.Lock()

        front_end: list[float] = []

        def worker() -> list[float]:
            client = self._thread_client()
            inputs = client.make_inputs(batch)
            lead_inputs = client.make_inputs(lead[1]) if lead else None
            latencies = []
            previous = before
            while not done.is_set():
                if lead:
                    client.infer(lead[0], lead_inputs)
                sent = time.perf_counter()
                client.infer(model, inputs)
                now = time.perf_counter()
                latencies.append((now - sent) * 1e3)
                with lock:
                    counter[0] += 1
                    if (now >= stop_at and counter[0] >= min_requests) or now >= give_up:
                        done.set()
                if per_request:
                    current = client.statistics(model)
                    front = request_front_end_ms(latencies[-1], current.minus(previous))
                    if front is not None:
                        front_end.append(front)
                    previous = current
                if think_s and not done.is_set():
                    time.sleep(max(think_s - (time.perf_counter() - now), 0.0))
            return latencies

        futures = [self.pool.submit(worker) for _ in range(concurrency)]
        latencies = np.concatenate([np.asarray(f.result(), dtype=float) for f in futures])
        wall = time.perf_counter() - start
        server = self.control.statistics(model).minus(before)
        return Window(len(latencies), wall, latencies, server, int(batch.shape[0]),
                      np.asarray(front_end) if per_request else None)

    def warm_up(self, model: str, batch: np.ndarray, count: int = 2) -> None:
        inputs = self.control.make_inputs(batch)
        for _ in range(count):
            self.control.infer(model, inputs)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for client in (*self._clients, self.control):
            client.close()


class BackgroundLoad:
    """Keeps ``model`` busy with closed-loop requests until stopped (a context manager).

    A failure of the background clients is re-raised by :meth:`stop`, so that a server
    dying under load is not mistaken for a quiet neighbour.
    """

    def __init__(self, factory: ClientFactory, model: str, batch: np.ndarray, concurrency: int = 1) -> None:
        self.model = model
        self.batch = batch
        self.factory = factory
        self.concurrency = concurrency
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def _run(self) -> None:
        client = self.factory()
        try:
            inputs = client.make_inputs(self.batch)
            while not self._stop.is_set():
                client.infer(self.model, inputs)
        except BaseException as exc:  # reported by stop()
            self._errors.append(exc)
        finally:
            client.close()

    def start(self, settle_s: float = 0.1) -> "BackgroundLoad":
        for _ in range(self.concurrency):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        time.sleep(settle_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> "BackgroundLoad":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
