"""The simulator against queueing theory: M/D/1, M/M/1, M/M/c, Little's law, conservation.

A single run of 200,000 requests at utilisation 0.9 has a sampling error of several
percent (the waiting time's autocorrelation is long), so each case averages the mean
wait over seeds (two at 0.5 and 0.7, four at 0.9) of 200,000 requests each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from perseus.config.scenario import ModelConfig
from sim_helpers import one_host, poisson, profile

REQUESTS = 200_000
SERVICE_MS = 1000.0  # service time 1 s: rates below are per service time


def erlang_c_wait(c: int, rho: float) -> float:
    """Mean wait in M/M/c with unit service time (Erlang C)."""
    a = rho * c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    return tail / (head + tail) / (c - a)


def mean_wait(kind: str, rho: float, instances: int, seeds: int) -> float:
    waits = []
    for seed in range(seeds):
        arrivals = poisson(rho * instances, REQUESTS, seed)
        trace = one_host(profile({"m": {1: SERVICE_MS}}, kind), {"m": ModelConfig(instances=instances)},
                         {"m": arrivals}, seed=seed)
        waits.append(np.mean(trace.requests.latency_s) - SERVICE_MS / 1e3)
    return float(np.mean(waits))


CASES = [
    ("deterministic", 1, lambda rho: rho / (2 * (1 - rho))),        # M/D/1, Pollaczek-Khinchine
    ("exponential", 1, lambda rho: rho / (1 - rho)),                # M/M/1
    ("exponential", 3, lambda rho: erlang_c_wait(3, rho)),          # M/M/3, Erlang C
]


@pytest.mark.parametrize("rho", [0.5, 0.7, 0.9])
@pytest.mark.parametrize("kind, instances, theory", CASES, ids=["M/D/1", "M/M/1", "M/M/3"])
def test_mean_wait_matches_theory(kind, instances, theory, rho):
    simulated = mean_wait(kind, rho, instances, seeds=4 if rho == 0.9 else 2)
    assert simulated == pytest.approx(theory(rho), rel=0.03)


def test_single_server_follows_lindley_exactly():
    """Deterministic service on one instance: every wait equals the Lindley recursion's."""
    arrivals = poisson(0.8, 5000, 3)
    trace = one_host(profile({"m": {1: SERVICE_MS}}), {"m": ModelConfig()}, {"m": arrivals})
    wait = np.zeros(len(arrivals))
    for i in range(1, len(arrivals)):
        wait[i] = max(0.0, wait[i - 1] + 1.0 - (arrivals[i] - arrivals[i - 1]))
    np.testing.assert_allclose(trace.requests.latency_s - 1.0, wait, atol=1e-9)


def test_littles_law():
    arrivals = poisson(0.7, 50_000, 5)
    trace = one_host(profile({"m": {1: SERVICE_MS}}, "exponential"), {"m": ModelConfig()}, {"m": arrivals})
    req = trace.requests
    horizon = float(np.max(req.finish_s))
    events = np.concatenate([req.arrival_s, req.finish_s])
    steps = np.concatenate([np.ones(len(req.arrival_s)), -np.ones(len(req.finish_s))])
    order = np.argsort(events, kind="stable")
    in_system = np.cumsum(steps[order])
    time_average = np.sum(in_system[:-1] * np.diff(events[order])) / horizon
    assert time_average == pytest.approx(len(arrivals) / horizon * np.mean(req.latency_s), rel=1e-6)


def test_conservation_of_requests():
    """Cut off mid-run under overload: every request is completed, rejected or still inside."""
    arrivals = poisson(5.0, 3000, 7)
    configs = {"m": ModelConfig(max_batch_size=4, max_queue_delay_ms=100, max_queue_size=20)}
    trace = one_host(profile({"m": {1: 500.0, 4: 1200.0}}, "exponential"), configs, {"m": arrivals},
                     drain=False, until=float(arrivals[-1]) / 2)
    req = trace.requests
    arrived = req.arrival_s <= trace.end_s
    completed = arrived & req.ok & np.isfinite(req.finish_s)
    rejected = arrived & ~req.ok & np.isfinite(req.finish_s)
    inside = arrived & np.isnan(req.finish_s)
    assert completed.sum() + rejected.sum() + inside.sum() == arrived.sum() < len(arrivals)
    assert completed.sum() > 0 and rejected.sum() > 0 and inside.sum() > 0
    assert np.all(req.finish_s[completed] <= trace.end_s + 1e-9)
