"""Small builders for simulator tests: hand-written profiles and one-host placements."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perseus.config.profile import Profile
from perseus.config.scenario import HostPlacement, ModelConfig
from perseus.sim import SimTrace, simulate_placement


def profile(times_ms: dict[str, dict[int, float]], kind: str = "deterministic",
            interference: dict[str, dict[str, float]] | None = None,
            scaling: dict[str, dict[int, float]] | None = None) -> Profile:
    return Profile.model_validate({
        "models": {m: {"batch_latency_ms": {k: {"mean": v} for k, v in curve.items()}, "service_time": kind,
                       "instance_scaling": (scaling or {}).get(m, {})}
                   for m, curve in times_ms.items()},
        "interference": interference or {},
    })


def one_host(prof: Profile, configs: dict[str, ModelConfig], arrivals: dict[str, np.ndarray], *, seed: int = 0,
             drain: bool = True, until: float | None = None) -> SimTrace:
    hosts = [HostPlacement(host_type="t", models=configs)]
    end = until if until is not None else max((float(a[-1]) for a in arrivals.values() if len(a)), default=1.0) + 1
    return simulate_placement(hosts, {"t": prof}, arrivals, {}, seed, (0.0, end), drain=drain)


def poisson(rate: float, count: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, count))


def traced(prof: Profile, arrivals: np.ndarray) -> pd.DataFrame:
    """A simulated replay of model ``a`` alone on a host (batches of one), its requests in
    the columns of Triton's traces (``validate``'s requests CSV)."""
    trace = one_host(prof, {"a": ModelConfig()}, {"a": arrivals}).requests
    return pd.DataFrame({"model": "a", "host": "h", "received_s": trace.arrival_s, "compute_start_s": trace.start_s,
                         "compute_end_s": trace.end_s})
