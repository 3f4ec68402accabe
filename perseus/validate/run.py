"""``perseus validate`` as a library call: deploy, replay, simulate the same trace, compare.

Per placement: the placement is put on live hosts (:mod:`perseus.validate.deploy`), the
scenario's arrivals for the seed - the very ones ``simulate`` draws - are replayed open
loop, every request is kept, and the same placement, seed, duration and warm-up are
simulated. Both runs are summarised by the same code (:mod:`perseus.metrics`), so the
error is the model's, not the bookkeeping's. Measured host utilisation is the time the
host executed batches (:func:`measured_busy_s`).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perseus.config.hosts import Host
from perseus.config.loading import write_atomic
from perseus.config.scenario import LoadedScenario
from perseus.errors import HostError, InputError, PerseusError
from perseus.metrics import Window, placement_summary
from perseus.simulation import placements_to_run, simulate_one, window_of
from perseus.sim.trace import SimTrace
from perseus.triton.trace import read_trace
from perseus.validate.compare import model_error, simulated_histogram, stage_summary, union_length
from perseus.validate.deploy import DoesNotFit, deploy
from perseus.validate.observe import ServerView, difference, reference_batch_ms, snapshot, tracing
from perseus.replay import LiveRouter, ReplayLog, merge_arrivals, replay
from perseus.workload import scenario_arrivals

LATENESS_LIMIT_MS = 1.0


@dataclass
class Outcome:
    """Everything one validate run produced."""

    results: dict[str, Any]
    logs: dict[str, ReplayLog] = field(default_factory=dict)
    host_names: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failure: PerseusError | None = None


def run(loaded: LoadedScenario, inventory: dict[str, Host] | None, *, placement: str | None, seed: int | None,
        duration_s: float | None, progress: Callable[[str, int, int], None], warn: Callable[[str], None]) -> Outcome:
    scenario = loaded.scenario
    seed = scenario.seed if seed is None else seed
    window = window_of(loaded, duration_s)
    arrivals = scenario_arrivals(loaded, seed, window.end_s)
    outcome = Outcome({"scenario": scenario.name, "seed": seed, "duration_s": window.end_s,
                       "warmup_s": window.start_s, "placements": {}})
    for name in placements_to_run(loaded, placement):
        try:
            _validate_placement(loaded, inventory, name, arrivals, seed, window, outcome, progress, warn)
        except DoesNotFit as exc:
            if placement is not None:
                outcome.failure = exc
                break
            outcome.skipped[name] = str(exc)
            warn(f"placement {name!r} skipped: {exc}")
        except PerseusError as exc:
            outcome.failure = exc
            break
    if not outcome.results["placements"] and outcome.failure is None:
        outcome.failure = InputError("no placement of this scenario fits this machine: "
                                     + "; ".join(f"{n}: {why}" for n, why in outcome.skipped.items()),
                                     field="placement")
    return outcome


def _validate_placement(loaded: LoadedScenario, inventory: dict[str, Host] | None, name: str,
                        arrivals: dict[str, np.ndarray], seed: int, window: Window, outcome: Outcome,
                        progress: Callable[[str, int, int], None], warn: Callable[[str], None]) -> None:
    scenario = loaded.scenario
    hosts = scenario.placements[name]
    models, index, times = merge_arrivals(arrivals)
    log = ReplayLog(models, index, times)
    with tempfile.TemporaryDirectory(prefix="perseus-traces-") as traces:
        with deploy(name, hosts, inventory, warn, Path(traces)) as endpoints:
            replicas = {m: [h for h, e in enumerate(endpoints) if model in e.shapes] for m, model in enumerate(models)}
            router = LiveRouter(replicas, {m: scenario.router_for(model) for m, model in enumerate(models)}, seed)
            reference = reference_batch_ms(endpoints)
            before = snapshot(endpoints)
            outcome.logs[name] = log
            outcome.host_names[name] = [e.name for e in endpoints]
            with tracing(endpoints):
                replay(endpoints, log, router, lambda sent: progress(name, sent, len(times)))
            failed = log.failures_by_host([e.name for e in endpoints])
            view = None if failed else difference(snapshot(endpoints), before)
            if not failed:   # the speed over the replay: the mean of before and after it
                after = reference_batch_ms(endpoints)
                reference = {m: (ms + after[m]) / 2 for m, ms in reference.items()}
        for endpoint in endpoints:
            if endpoint.trace_file is not None:
                log.add_traces(read_trace(endpoint.trace_file))
    simulated = simulate_one(loaded, name, arrivals, seed, window)
    speeds = speed_factors(loaded, name, reference)
    at_speed = simulate_one(at_host_speed(loaded, speeds), name, arrivals, seed, window)
    outcome.results["placements"][name] = compare_placement(loaded, name, log, view, (simulated, at_speed), window,
                                                            reference)
    if failed:
        host, count = next(iter(failed.items()))
        first = next(iter(log.errors.values()))
        raise HostError(f"{count} request(s) failed during the replay of placement {name!r} (first: {first})",
                        host=host)


def compare_placement(loaded: LoadedScenario, name: str, log: ReplayLog, view: ServerView | None,
                      simulations: tuple[SimTrace, SimTrace], window: Window,
                      reference: dict[str, float]) -> dict[str, Any]:
    """Measured against simulated, as profiled (``simulated``, ``error``) and at the host's
    speed measured around the replay (``at_host_speed``)."""
    simulated, at_speed = simulations
    scenario = loaded.scenario
    prices = {h: t.price_per_hour for h, t in scenario.host_types.items()}
    hosts = scenario.placements[name]
    span = float(np.nanmax(log.finish_s)) if np.isfinite(log.finish_s).any() else window.end_s
    busy = measured_busy_s(log, view, len(hosts), window, span)
    measured_trace = SimTrace(log.request_table(), None, busy, span)
    measured = placement_summary(measured_trace, scenario, name, window, prices)
    predicted = placement_summary(simulated, scenario, name, window, prices)
    predicted_at_speed = placement_summary(at_speed, scenario, name, window, prices)
    lateness = log.lateness_ms[np.isfinite(log.lateness_ms)]
    p99_late = float(np.percentile(lateness, 99)) if len(lateness) else None
    models = {}
    for model in scenario.models:
        m, s, s_speed = measured["models"][model], predicted["models"][model], predicted_at_speed["models"][model]
        profile_ms = profile_batch_ms(loaded, name, model)
        speed = host_speed(reference.get(model), profile_ms)
        models[model] = {
            "measured": m, "simulated": s, "error": model_error(m, s),
            "at_host_speed": {"factor": 1 + (speed["drift"] or 0.0), "simulated": s_speed,
                              "error": model_error(m, s_speed)},
            "batch_sizes": {"measured": view.batch_histogram(model) if view else None,
                            "simulated": simulated_histogram(simulated, model)},
            "batch_ms": {"measured": view.batch_ms(model) if view else None,
                         "profile": profile_ms},
            "host_speed": speed,
            "stages": {"measured": stage_summary(measured_trace.requests, model, window),
                       "simulated": stage_summary(simulated.requests, model, window)},
        }
    return {
        "hosts": len(hosts), "cost_per_hour": measured["cost_per_hour"],
        "meets_sla": {"measured": measured["meets_sla"], "simulated": predicted["meets_sla"]},
        "host_utilization": {"measured": measured["host_utilization"], "simulated": predicted["host_utilization"]},
        "lateness_ms_p99": p99_late,
        "load_generator_limited": bool(p99_late is not None and p99_late > LATENESS_LIMIT_MS),
        "failed_requests": int(np.sum(~log.ok)),
        "models": models,
    }


def measured_busy_s(log: ReplayLog, view: ServerView | None, hosts: int, window: Window, span: float) -> np.ndarray:
    """Per host, how long its device executed batches inside the window, as the simulator
    counts it: the union of the batches' execution times from the request traces where the
    host wrote them; else the statistics' compute time summed over the run and scaled to
    the window (an upper bound where batches overlap); NaN without either."""
    busy = np.full(hosts, np.nan)
    for h in range(hosts):
        traced = (log.host == h) & np.isfinite(log.start_s) & np.isfinite(log.end_s)
        if traced.any():
            busy[h] = union_length(log.start_s[traced], log.end_s[traced], window.start_s, window.end_s)
        elif view is not None:
            busy[h] = view.compute_s(h) / span * window.length_s
    return busy


def host_speed(now_ms: float | None, profile: dict[int, float]) -> dict[str, float | None]:
    """Batch-1 compute measured around the replay (the mean of just before and just after)
    against the profile's: ``drift`` > 0 means the host computes slower than when it was
    profiled."""
    then = profile.get(1)
    drift = now_ms / then - 1 if now_ms is not None and then and np.isfinite(now_ms) else None
    return {"batch1_ms_now": now_ms, "batch1_ms_profile": then, "drift": drift}


def speed_factors(loaded: LoadedScenario, placement: str, reference: dict[str, float]) -> dict[str, float]:
    """How many times as long each model computes now as in its profile (batch 1)."""
    factors = {}
    for model, now_ms in reference.items():
        drift = host_speed(now_ms, profile_batch_ms(loaded, placement, model))["drift"]
        if drift is not None:
            factors[model] = 1 + drift
    return factors


def at_host_speed(loaded: LoadedScenario, factors: dict[str, float]) -> LoadedScenario:
    """The scenario with every host type's profile rescaled to the speeds measured now.
    Assumption: a host that drifted computes every batch size, cold start and switch by
    the same factor, and its front end and network did not change."""
    profiles = {host_type: profile.at_speeds(factors) for host_type, profile in loaded.profiles.items()}
    return loaded.model_copy(update={"profiles": profiles})


def profile_batch_ms(loaded: LoadedScenario, placement: str, model: str) -> dict[int, float]:
    """The profile's solo batch times of ``model`` on the first host type that serves it."""
    host = next(h for h in loaded.scenario.placements[placement] if model in h.models)
    curve = loaded.profiles[host.host_type].models[model].batch_latency_ms
    return {size: stats.mean for size, stats in sorted(curve.items())}


def requests_csv(outcome: Outcome) -> str:
    """Every replayed request: placement, model, host, scheduled and sent time, latency, ok,
    error, and where the server traced it, when it received it and computed its batch."""
    frames = []
    for name, log in outcome.logs.items():
        names = outcome.host_names[name]
        frames.append(pd.DataFrame({
            "placement": name,
            "model": [log.models[m] for m in log.model],
            "host": [names[h] if h >= 0 else "" for h in log.host],
            "scheduled_s": log.scheduled_s, "sent_s": log.sent_s,
            "latency_ms": (log.finish_s - log.sent_s) * 1e3,
            "ok": log.ok,
            "error": [log.errors.get(i, "") for i in range(len(log.model))],
            "received_s": log.received_s, "compute_start_s": log.start_s, "compute_end_s": log.end_s,
        }))
    buffer = io.StringIO()
    (pd.concat(frames) if frames else pd.DataFrame()).to_csv(buffer, index=False, float_format="%.6f")
    return buffer.getvalue()


def write_outputs(outcome: Outcome, json_path: Path | None, csv_path: Path) -> None:
    import json

    write_atomic(csv_path, requests_csv(outcome))
    if json_path is not None:
        write_atomic(json_path, json.dumps(outcome.results, indent=2, default=_plain))


def _plain(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(type(value))
