"""``perseus simulate`` as a library call: arrivals once per seed, every placement simulated.

With several replications (seeds ``seed .. seed + N - 1``) the per-model numbers are the
means over replications, and each latency statistic also gets a 95% confidence interval
(Student t over replications) in ``latency_ms_ci95``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from perseus.config.scenario import LoadedScenario
from perseus.errors import InputError
from perseus.metrics import Window, best_placement, placement_summary
from perseus.sim import SimTrace, simulate_placement
from perseus.workload import scenario_arrivals

Progress = Callable[[str], None]


def placements_to_run(loaded: LoadedScenario, placement: str | None) -> list[str]:
    names = list(loaded.scenario.placements)
    if placement is None:
        return names
    if placement not in names:
        raise InputError(f"unknown placement {placement!r}; the scenario has: {', '.join(names)}",
                         file=loaded.path, field="--placement")
    return [placement]


def simulate_one(loaded: LoadedScenario, placement: str, arrivals: dict[str, np.ndarray], seed: int,
                 window: Window) -> SimTrace:
    """One placement over given arrivals (what ``validate`` compares with)."""
    scenario = loaded.scenario
    routers = {name: scenario.router_for(name) for name in scenario.models}
    return simulate_placement(scenario.placements[placement], loaded.profiles, arrivals, routers, seed,
                              (window.start_s, window.end_s))


def window_of(loaded: LoadedScenario, duration_s: float | None) -> Window:
    scenario = loaded.scenario
    end = duration_s if duration_s is not None else scenario.duration_s
    if end <= scenario.warmup_s:
        raise InputError(f"duration {end} s must exceed the scenario's warmup_s {scenario.warmup_s} s",
                         field="--duration")
    return Window(scenario.warmup_s, end)


def run(loaded: LoadedScenario, *, placement: str | None = None, seed: int | None = None,
        duration_s: float | None = None, replications: int = 1, progress: Progress = lambda text: None
        ) -> dict[str, Any]:
    """SPEC's Results JSON for the scenario."""
    scenario = loaded.scenario
    base_seed = scenario.seed if seed is None else seed
    window = window_of(loaded, duration_s)
    names = placements_to_run(loaded, placement)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for r in range(replications):
        arrivals = scenario_arrivals(loaded, base_seed + r, window.end_s)
        for name in names:
            progress(f"{name} (seed {base_seed + r})")
            trace = simulate_one(loaded, name, arrivals, base_seed + r, window)
            runs[name].append(placement_summary(trace, scenario, name, window, scenario.prices))
    placements = {name: combine(results) for name, results in runs.items()}
    best, saving = best_placement(placements)
    return {"scenario": scenario.name, "seed": base_seed, "duration_s": window.end_s,
            "warmup_s": window.start_s, "replications": replications,
            "placements": placements, "best": best, "saving_vs_dedicated": saving}


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One replication as it is; several as means with confidence intervals."""
    if len(results) == 1:
        return results[0]
    first = results[0]
    combined = {**first, "meets_sla": all(r["meets_sla"] for r in results),
                "cost_per_million": _mean([r["cost_per_million"] for r in results]),
                "host_utilization": list(np.mean([r["host_utilization"] for r in results], axis=0))}
    models = {}
    for model in first["models"]:
        runs = [r["models"][model] for r in results]
        entry = {key: _mean([run[key] for run in runs]) for key in
                 ("requests", "completed", "throughput_rps", "sla_violation_rate", "mean_batch_size")}
        entry["meets_sla"] = all(run["meets_sla"] for run in runs)
        entry["latency_ms"] = {k: _mean([run["latency_ms"][k] for run in runs]) for k in first["models"][model]["latency_ms"]}
        entry["latency_ms_ci95"] = {k: confidence_interval([run["latency_ms"][k] for run in runs])
                                    for k in first["models"][model]["latency_ms"]}
        models[model] = entry
    combined["models"] = models
    return combined


def _mean(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return float(np.mean(present)) if present else None


def confidence_interval(values: list[float | None], level: float = 0.95) -> list[float] | None:
    """Student-t interval of the mean of ``values`` (None when fewer than two)."""
    present = np.array([v for v in values if v is not None], dtype=float)
    if len(present) < 2:
        return None
    half = stats.t.ppf((1 + level) / 2, len(present) - 1) * present.std(ddof=1) / np.sqrt(len(present))
    return [float(present.mean() - half), float(present.mean() + half)]
