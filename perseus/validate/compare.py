"""How far the simulation was from the live run: errors, batch sizes, stages, utilisation,
how long a batch of one took alone and when it joined another model's running batch
(:mod:`perseus.profile.wakeup`: where the interference model is off, this shows it), and
how much longer a lone batch ran per request arriving during it
(:mod:`perseus.profile.ingress`: the front end's work on the core).

Stages split each request's latency, the same way for a live and a simulated request:
``queue`` from the server receiving it to its batch starting (the batcher's delay, waiting
for an instance, hand-offs inside the server), ``compute`` its batch's execution, and
``front_end`` the rest (client, network and the server's front end, both ways). The
simulator receives a request on arrival and adds its overhead after compute, so there
``front_end`` is that overhead; live, the times come from Triton's request traces.
"""

from __future__ import annotations

from typing import Any

import itertools

import numpy as np
import pandas as pd

from perseus.metrics import Window
from perseus.profile.drift import fit_speed_drift
from perseus.profile.ingress import fit_arrival_work
from perseus.profile.spread import fit_batch_spread
from perseus.profile.wakeup import fit_wake_law, host_joins, replay_batches, replay_joins
from perseus.sim.trace import RequestTable, SimTrace

LATENCY_ERRORS = ("mean", "p50", "p95", "p99")
SPREAD_KEYS = ("p50", "p95", "p99")


def relative(simulated: float | None, measured: float | None) -> float | None:
    """(simulated - measured) / measured, None where undefined."""
    if simulated is None or measured is None or measured == 0:
        return None
    return (simulated - measured) / measured


def model_error(measured: dict[str, Any], simulated: dict[str, Any]) -> dict[str, float | None]:
    """SPEC's ``error`` block: signed relative errors, and the difference of violation rates."""
    error = {key: relative(simulated["latency_ms"][key], measured["latency_ms"][key]) for key in LATENCY_ERRORS}
    error["throughput"] = relative(simulated["throughput_rps"], measured["throughput_rps"])
    error["sla_violation_rate"] = simulated["sla_violation_rate"] - measured["sla_violation_rate"]
    return error


def simulated_histogram(trace: SimTrace, model: str) -> dict[int, int]:
    """Executed batches of ``model`` by size in a simulated run (all hosts, whole run)."""
    assert trace.batches is not None
    index = trace.requests.models.index(model)
    sizes = trace.batches.size[trace.batches.model == index]
    values, counts = np.unique(sizes, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def simulated_batch_ms(trace: SimTrace, model: str, starting: tuple[float, float] | None = None) -> dict[int, float]:
    """Mean time from start to end of ``model``'s batches by size in a simulated run, in
    ms (all hosts; the whole run, or the batches that started within ``starting``, s):
    what Triton's statistics report as a batch's compute."""
    assert trace.batches is not None
    batches = trace.batches
    mine = batches.model == trace.requests.models.index(model)
    if starting is not None:
        mine &= (batches.start_s >= starting[0]) & (batches.start_s < starting[1])
    ms = (batches.end_s[mine] - batches.start_s[mine]) * 1e3
    sizes = batches.size[mine]
    return {int(size): float(ms[sizes == size].mean()) for size in np.unique(sizes)}


def traced_batches(table: RequestTable, window: Window) -> pd.DataFrame:
    """The batches of a live run's traced requests that started in the window: host,
    model, size, start and end (s)."""
    if table.start_s is None or table.end_s is None:
        return pd.DataFrame(columns=["host", "model", "size", "start", "end"])
    batches = replay_batches(pd.DataFrame({"host": table.host, "model": np.asarray(table.models)[table.model],
                                           "compute_start_s": table.start_s, "compute_end_s": table.end_s}))
    return batches[(batches["start"] >= window.start_s) & (batches["start"] < window.end_s)]


def simulated_batches(trace: SimTrace, window: Window) -> pd.DataFrame:
    """:func:`traced_batches` of a simulated run."""
    assert trace.batches is not None
    b = trace.batches
    frame = pd.DataFrame({"host": b.host, "model": np.asarray(trace.requests.models)[b.model], "size": b.size,
                          "start": b.start_s, "end": b.end_s})
    return frame[(frame["start"] >= window.start_s) & (frame["start"] < window.end_s)]


def batch_of_one_ms(runs: list[pd.DataFrame]) -> dict[str, dict[str, dict[str, float]]]:
    """Per model: p5 / p50 / p95 (ms) and count (``n``) of its batches of one that ran
    ``alone`` and of those that ``joined`` a running batch of another model
    (:func:`perseus.profile.wakeup.host_joins`), over every host of every run."""
    split = [host_joins(batches) for batches in runs]
    result: dict[str, dict[str, dict[str, float]]] = {}
    for kind, frames in (("alone", [alone for alone, _ in split]), ("joined", [joins for _, joins in split])):
        if not frames:
            continue
        for model, ms in pd.concat(frames).groupby("model")["ms"]:
            p5, p50, p95 = np.percentile(ms, [5, 50, 95])
            result.setdefault(str(model), {})[kind] = {"p5": float(p5), "p50": float(p50), "p95": float(p95),
                                                       "n": int(len(ms))}
    return result


def arrival_work_ms(frame: pd.DataFrame | None) -> float | None:
    """The front end's work per arrival (:func:`perseus.profile.ingress.fit_arrival_work`)
    fit on the traced requests ``frame`` (:func:`traced_requests`); None where there were
    none or too few batches had arrivals."""
    return None if frame is None else fit_arrival_work(frame)


def batch_spread(frame: pd.DataFrame | None, work_ms: float | None) -> dict[str, float] | None:
    """How lone batches spread around their neighbours' median
    (:func:`perseus.profile.spread.fit_batch_spread`, the front end's ``work_ms`` per
    request received taken out: :func:`arrival_work_ms` of the same ``frame``), on the
    traced requests ``frame``; None where there were none or too few batches ran alone."""
    spread = None if frame is None else fit_batch_spread(frame, work_ms or 0.0)
    return None if spread is None else spread.model_dump(exclude_none=True)


def speed_drift(frame: pd.DataFrame | None, work_ms: float | None) -> dict[str, float] | None:
    """How the hosts' speed wandered over seconds (:func:`perseus.profile.drift.fit_speed_drift`,
    each host of each run its own series, the front end's ``work_ms`` per request received
    taken out), on the traced requests ``frame``; None where there were none or they
    were too short."""
    drift = None if frame is None else fit_speed_drift(frame, work_ms or 0.0)
    return None if drift is None else drift.model_dump()


def wake_law(frame: pd.DataFrame | None, interference: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """How a batch that woke beside another model's running batch shared the core
    (:func:`perseus.profile.wakeup.fit_wake_law`, with the hosts' ``interference``), on the
    traced requests ``frame``; None where there were none or too few such batches."""
    law = None if frame is None else fit_wake_law(replay_joins(frame, interference))
    return None if law is None else law.model_dump()


def traced_requests(tables: list[RequestTable]) -> pd.DataFrame | None:
    """The traced requests of ``tables`` (runs of one placement) in the columns of
    ``validate``'s requests CSV, each host of each run its own ``host``; None where none
    was traced."""
    frames = [pd.DataFrame({"host": [f"{run}/{h}" for h in table.host], "model": np.asarray(table.models)[table.model],
                            "received_s": table.arrival_s if table.received_s is None else table.received_s,
                            "compute_start_s": table.start_s, "compute_end_s": table.end_s})
              for run, table in enumerate(tables) if table.start_s is not None and table.end_s is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def runs_apart(latencies: list[dict[str, float | None]]) -> dict[str, float | None] | None:
    """How far runs of the same arrivals landed from each other (live replays, or
    simulations at other seeds): per percentile of ``SPREAD_KEYS``, the mean over every
    two runs (earlier ``a``, later ``b``) of ``|a / b - 1|`` (None with fewer than two
    runs; a percentile None where a run lacks it). An error below the replays' is the
    machine's noise, not the model's; replays far wider apart than the simulations say the
    host varied more than its profile measured."""
    if len(latencies) < 2:
        return None
    pairs = list(itertools.combinations(latencies, 2))
    return {key: None if any(a[key] is None or not b[key] for a, b in pairs)
            else float(np.mean([abs(a[key] / b[key] - 1.0) for a, b in pairs])) for key in SPREAD_KEYS}


def worst_p99_error(placements: dict[str, Any]) -> float:
    """The largest absolute p99 error over every placement and model (0 when none)."""
    errors = [abs(m["error"]["p99"]) for p in placements.values() for m in p["models"].values()
              if m["error"]["p99"] is not None]
    return max(errors, default=0.0)


def stage_summary(table: RequestTable, model: str, window: Window) -> dict[str, dict[str, float]] | None:
    """Mean, p50 and p95 (ms) of each stage of ``model``'s finished requests that arrived
    in the window; None when the table has no batch times (a host without traces)."""
    if table.start_s is None or table.end_s is None:
        return None
    received = table.received_s if table.received_s is not None else table.arrival_s
    mask = ((table.model == table.models.index(model)) & table.ok & (table.arrival_s >= window.start_s)
            & (table.arrival_s < window.end_s) & np.isfinite(received) & np.isfinite(table.end_s))
    if not mask.any():
        return None
    queue = table.start_s[mask] - received[mask]
    compute = table.end_s[mask] - table.start_s[mask]
    stages = {"front_end": table.latency_s[mask] - queue - compute, "queue": queue, "compute": compute}
    return {name: {"mean": float(values.mean() * 1e3), "p50": float(np.percentile(values, 50) * 1e3),
                   "p95": float(np.percentile(values, 95) * 1e3)} for name, values in stages.items()}


def mean_stages(summaries: list[dict[str, dict[str, float]] | None]) -> dict[str, dict[str, float]] | None:
    """Several replays' :func:`stage_summary` averaged, figure by figure (None if any is)."""
    if not summaries or any(s is None for s in summaries):
        return None
    first = summaries[0]
    assert first is not None
    return {stage: {key: float(np.mean([s[stage][key] for s in summaries if s])) for key in first[stage]}
            for stage in first}


def union_length(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Total length of the union of intervals ``[starts[i], ends[i])`` inside ``[lo, hi)``
    (intervals may repeat, as a batch does for each of its requests, and overlap)."""
    order = np.argsort(starts, kind="stable")
    starts, ends = np.clip(starts[order], lo, hi), np.clip(ends[order], lo, hi)
    reach = np.maximum.accumulate(ends)
    previous = np.concatenate([[lo], reach[:-1]])   # how far the intervals before each reached
    return float(np.sum(np.maximum(ends - np.maximum(starts, previous), 0.0)))
