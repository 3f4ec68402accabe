"""From per-request outcomes to the numbers of SPEC's Results JSON.

One code path for the simulator's and the live replay's requests: both produce a
:class:`~perseus.sim.trace.RequestTable`. Only requests that arrive inside the window
``[warmup_s, duration_s)`` count. A request that failed, was rejected or had not
finished counts as an SLA violation and as infinitely slow for ``meets_sla``; latency
percentiles are over the requests that finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perseus.config.scenario import Scenario
from perseus.sim.trace import SimTrace

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def model_summary(trace: SimTrace, model: str, window: Window, sla_ms: float, percentile: float) -> dict[str, object]:
    """SPEC's per-model block for ``model``."""
    table = trace.requests
    index = table.models.index(model)
    arrival = table.arrival_s
    mask = (table.model == index) & (arrival >= window.start_s) & (arrival < window.end_s)
    latency_ms = table.latency_s[mask] * 1e3
    done = table.ok[mask] & np.isfinite(latency_ms)
    finished = latency_ms[done]
    requests = int(mask.sum())
    completed = int(done.sum())
    violations = int(np.sum(~done) + np.sum(finished > sla_ms))
    worst = np.where(done, latency_ms, np.inf)
    attained = float(np.percentile(worst, percentile)) if requests else float("nan")
    sizes = table.batch_size[mask][done]
    return {
        "requests": requests,
        "completed": completed,
        "throughput_rps": completed / window.length_s,
        "latency_ms": _latency(finished),
        "sla_violation_rate": violations / requests if requests else 0.0,
        "meets_sla": bool(requests == 0 or attained <= sla_ms),
        "mean_batch_size": float(sizes[sizes > 0].mean()) if np.any(sizes > 0) else None,
    }


def _latency(values: np.ndarray) -> dict[str, float | None]:
    if len(values) == 0:
        return {"mean": None, **{name: None for name in PERCENTILES}}
    result: dict[str, float | None] = {"mean": float(values.mean())}
    for name, q in PERCENTILES.items():
        result[name] = float(np.percentile(values, q))
    return result


def placement_summary(trace: SimTrace, scenario: Scenario, placement: str, window: Window,
                      prices: dict[str, float]) -> dict[str, object]:
    """SPEC's per-placement block: hosts, cost, utilisation and every model."""
    hosts = scenario.placements[placement]
    models = {name: model_summary(trace, name, window, spec.sla.latency_ms, spec.sla.percentile)
              for name, spec in scenario.models.items()}
    cost_per_hour = float(sum(prices[h.host_type] for h in hosts))
    completed = sum(int(m["completed"]) for m in models.values())
    window_cost = cost_per_hour * window.length_s / 3600.0
    return {
        "hosts": len(hosts),
        "cost_per_hour": cost_per_hour,
        "cost_per_million": window_cost / completed * 1e6 if completed else None,
        "meets_sla": all(bool(m["meets_sla"]) for m in models.values()),
        "models": models,
        "host_utilization": [float(min(busy / window.length_s, 1.0)) for busy in trace.host_busy_s],
    }


def best_placement(placements: dict[str, dict[str, object]]) -> tuple[str | None, float | None]:
    """The cheapest placement that meets every SLA (ties by name) and its saving vs ``dedicated``."""
    meeting = sorted((float(p["cost_per_hour"]), name) for name, p in placements.items() if p["meets_sla"])
    if not meeting:
        return None, None
    cost, best = meeting[0]
    dedicated = placements.get("dedicated")
    if dedicated is None or not float(dedicated["cost_per_hour"]):
        return best, None
    return best, 1.0 - cost / float(dedicated["cost_per_hour"])
