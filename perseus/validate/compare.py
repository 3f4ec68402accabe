"""How far the simulation was from the live run: errors, batch sizes, utilisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from perseus.sim.trace import SimTrace

LATENCY_ERRORS = ("mean", "p50", "p95", "p99")


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


def worst_p99_error(placements: dict[str, Any]) -> float:
    """The largest absolute p99 error over every placement and model (0 when none)."""
    errors = [abs(m["error"]["p99"]) for p in placements.values() for m in p["models"].values()
              if m["error"]["p99"] is not None]
    return max(errors, default=0.0)
