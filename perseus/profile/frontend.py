"""The front end as an open-loop replay meets it: the profile's ``frontend`` phase.

The closed-loop probes (``coldstart`` and ``busy`` points) time the front end of requests
that the profiler's synchronous client sends when it chooses. ``validate`` replays a
schedule with an asyncio client, and its requests land wherever the core happens to be:
idle, in the first moments of a batch, or deep in one. On the embedded host that made
the front end 1.1-1.25 ms on average with a p95 of 2.1-3.3 ms in the replays, where the
probes had measured 1.0-1.1 ms and 1.2-1.3 ms (``perseus.sim.frontend`` has the split).

So every profiled model gets a Poisson stream, all at once, each at an equal share of
the core's time (rate = share / its batch-1 compute on the curve), for
``Settings.replay_s``: its first part at the first of ``Settings.replay_utilization``,
the next at the next (:func:`replay_schedule`). A low utilisation leaves the core quiet
long enough between requests for the ``asleep`` state (:mod:`perseus.sim.frontend`): at
0.5 alone, 268 of 3,537 requests arrived on a core quiet for 20 ms or more, most of them
quiet for under 40 ms, where a one-model replay at 25 requests/s has most. The
requests are sent by ``validate``'s own replay code
(:mod:`perseus.replay`) with Triton's request traces on. A request's front end is its
latency less the server's time from receiving it to its batch's end. The requests with
their trace times are kept beside the profile, ``NAME.frontend.csv`` in the columns of
``validate``'s requests CSV, and summarised by :func:`front_end_by_core` into each model's
``front_end_by_core_ms``, by the core's state when the request was sent, with the host's
wake slice, and into its two parts: ``receive_by_core_ms``, from the send to Triton's
``REQUEST_START``, and ``respond_by_core_ms``, from the batch's end to the answer
(:mod:`perseus.sim.frontend` says why the simulator needs them apart). A state in which
a model has fewer than ``MIN_REQUESTS`` requests takes the requests of every model in
that state: at 0.5 utilisation VGG-11 (32 ms batches) sent
199 requests in 45 s here, and 9% of all requests landed in a waking core. The batches of
the quietest part (:func:`quietest_part`) also give each model's ``open_loop_factor``
(:mod:`perseus.profile.openloop`).

Why one replay of every model and not one per model: a one-model replay's front end was
longer than the profile's in some ``bench_validate.py`` runs (:mod:`perseus.validate.speed`),
but replays of 45 s each on one embedded host (2026-12-07 20:37-20:46, each on a fresh
server, the dynamic batcher as ``validate`` loads it) gave ResNet-18's idle-core requests
a median receive / response of 0.84 / 0.48 and 0.84 / 0.49 ms in two four-model replays at
0.5, 0.75 / 0.47 and 1.06 / 0.75 ms in two of ResNet-18 alone at 25 requests/s, 0.82 /
0.49 ms alone at its four-model rate and 0.85 / 0.52 ms beside MobileNetV2: the machine
moved the same replay's front end by more than the number of models did.

Only hosts whose traces Perseus can read have this phase: embedded ones that it starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from perseus.config.profile import BY_CORE_FIELDS, OverheadStats
from perseus.errors import HostError
from perseus.replay import Endpoint, LiveRouter, ReplayLog, merge_arrivals, replay
from perseus.sim.frontend import CORE_STATES, core_states
from perseus.triton.client import TritonClient
from perseus.triton.trace import read_trace
from perseus.workload.arrivals import renewal

MIN_REQUESTS = 200
TRACE_WAIT_S = 15.0       # the server writes the traces once tracing is off and they are done
QUANTILES = (5, 25, 50, 75, 95, 99)
COLUMNS = ["model", "scheduled_s", "sent_s", "latency_ms", "received_s", "compute_start_s", "compute_end_s"]


def replay_rates(batch1_ms: dict[str, float], utilization: float) -> dict[str, float]:
    """Requests per second of each model: an equal share of ``utilization`` of one core."""
    share = utilization / len(batch1_ms)
    return {model: share / (ms / 1e3) for model, ms in batch1_ms.items()}


def poisson_schedule(rates: dict[str, float], duration_s: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {model: renewal(lambda n, rate=rate: rng.exponential(1.0 / rate, n), rate, duration_s)
            for model, rate in rates.items()}


def replay_schedule(batch1_ms: dict[str, float], utilizations: tuple[float, ...], duration_s: float,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Poisson arrivals per model: ``duration_s`` split in equal parts, the k-th at the
    rates (:func:`replay_rates`) of the k-th utilisation."""
    part_s = duration_s / len(utilizations)
    parts = [poisson_schedule(replay_rates(batch1_ms, u), part_s, seed + k) for k, u in enumerate(utilizations)]
    return {model: np.concatenate([k * part_s + part[model] for k, part in enumerate(parts)]) for model in batch1_ms}


def replay_parts(utilizations: tuple[float, ...], duration_s: float) -> list[tuple[float, float]]:
    """When (s, from the replay's start) each of :func:`replay_schedule`'s parts runs."""
    part_s = duration_s / len(utilizations)
    return [(k * part_s, (k + 1) * part_s) for k in range(len(utilizations))]


def quietest_part(utilizations: tuple[float, ...], duration_s: float) -> tuple[float, float]:
    """When (s, from the replay's start) :func:`replay_schedule`'s part at the lowest
    utilisation runs."""
    return replay_parts(utilizations, duration_s)[int(np.argmin(utilizations))]


def measure_front_end(endpoint: Endpoint, client_of_host: Callable[[], TritonClient],
                      schedule: dict[str, np.ndarray]) -> pd.DataFrame:
    """Replay ``schedule`` (arrival times per model) to ``endpoint`` with traces on; every
    request with its trace times (:data:`COLUMNS`). A failed request stops the phase with
    the host's error."""
    assert endpoint.trace_file is not None
    models, index, times = merge_arrivals(schedule)
    log = ReplayLog(models, index, times)
    client = client_of_host()
    try:
        client.set_tracing(True)
        try:
            replay([endpoint], log, LiveRouter({m: [0] for m in range(len(models))}, {}, 0))
        finally:
            client.set_tracing(False)
    finally:
        client.close()
    if log.errors:
        first = next(iter(log.errors.values()))
        raise HostError(f"{len(log.errors)} request(s) of the front-end replay failed (first: {first})",
                        host=endpoint.name, url=endpoint.url)
    log.add_traces(_wait_for_traces(endpoint.trace_file, len(times), endpoint))
    return pd.DataFrame({
        "model": [models[m] for m in log.model], "scheduled_s": log.scheduled_s, "sent_s": log.sent_s,
        "latency_ms": (log.finish_s - log.sent_s) * 1e3, "received_s": log.received_s,
        "compute_start_s": log.start_s, "compute_end_s": log.end_s,
    })


def _wait_for_traces(path: Path, expected: int, endpoint: Endpoint) -> pd.DataFrame:
    """The traces of the replay, once the server has written all ``expected`` of them."""
    deadline = time.monotonic() + TRACE_WAIT_S
    while True:
        traces = read_trace(path)
        if len(traces) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(traces) < expected:
        raise HostError(f"the server wrote {len(traces)} of {expected} request traces to {path} "
                        f"within {TRACE_WAIT_S:g} s", host=endpoint.name, url=endpoint.url)
    return traces


def front_end_by_core(requests: pd.DataFrame, slice_ms: float | None) -> dict[str, dict[str, dict[str, OverheadStats]]]:
    """Per model, its front-end spreads per core state (see the module docstring), by the
    ``ModelProfile`` field they fill: the whole front end, its part before the server
    received the request and its part after the batch's end (``BY_CORE_FIELDS``)."""
    traced = requests.dropna(subset=["received_s", "compute_start_s", "compute_end_s", "latency_ms"])
    if traced.empty:
        return {}
    batches = traced.groupby(["model", "compute_start_s"], as_index=False)["compute_end_s"].max()
    states = core_states(batches["compute_start_s"].to_numpy(), batches["compute_end_s"].to_numpy(),
                         traced["sent_s"].to_numpy(), (slice_ms or 0.0) / 1e3,
                         np.sort(requests["sent_s"].dropna().to_numpy()))
    receive = (traced["received_s"] - traced["sent_s"]).to_numpy() * 1e3
    respond = traced["latency_ms"].to_numpy() - (traced["compute_end_s"] - traced["sent_s"]).to_numpy() * 1e3
    frame = pd.DataFrame({"model": traced["model"].to_numpy(), "state": np.asarray(CORE_STATES)[states],
                          BY_CORE_FIELDS[0]: receive + respond, BY_CORE_FIELDS[1]: receive,
                          BY_CORE_FIELDS[2]: respond})
    return {model: {part: _by_state(frame, model, part) for part in BY_CORE_FIELDS}
            for model in frame["model"].unique()}


def _by_state(frame: pd.DataFrame, model: str, part: str) -> dict[str, OverheadStats]:
    """``model``'s spread of ``part`` per core state, the requests of every model in a state
    where it has fewer than ``MIN_REQUESTS`` of its own."""
    result = {}
    for state in CORE_STATES:
        in_state = frame[frame["state"] == state]
        own = in_state.loc[in_state["model"] == model, part]
        values = own if len(own) >= MIN_REQUESTS else in_state[part]
        if len(values):
            result[state] = _stats(values.to_numpy())
    return result


def _stats(values: np.ndarray) -> OverheadStats:
    quantiles = {f"p{q}": round(float(np.percentile(values, q)), 4) for q in QUANTILES}
    return OverheadStats(mean=round(float(max(values.mean(), 0.0)), 4), n=len(values), **quantiles)
