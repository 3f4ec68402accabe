"""Simulator speed and memory, against a bare SimPy loop measured in the same run.

Prints (a) simulated requests per second on a large scenario - 20 models on 10 hosts,
2 million requests, spiky and bursty arrivals, dynamic batching and interference -
(b) requests per second of a bare SimPy M/M/1 loop that makes one process per request,
their ratio (target: at least 5), and (c) the peak memory of a 10-million-request run
(target: under 2 GiB).

    python bench/bench_sim.py            # all three
    python bench/bench_sim.py --memory   # (c) alone, in its own process
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import simpy

from perseus.config.profile import Profile
from perseus.config.scenario import HostPlacement, ModelConfig
from perseus.sim import simulate_placement

MODELS, HOSTS = 20, 10


def large_case(total_requests: int, seed: int = 0):
    """20 models, two per host, half spiky and half bursty, at about 85% utilisation."""
    rng = np.random.default_rng(seed)
    names = [f"m{i}" for i in range(MODELS)]
    curve = {1: 2.0, 2: 3.0, 4: 5.0, 8: 9.0, 16: 17.0}     # ms; 1 ms per item plus 1 ms per batch
    profile = Profile.model_validate({
        "models": {n: {"batch_latency_ms": {k: {"mean": v, "p50": v, "p95": 1.1 * v, "p99": 1.2 * v}
                                            for k, v in curve.items()}} for n in names},
        "interference": {a: {b: 1.6 for b in names} for a in names},
    })
    per_model = total_requests // MODELS
    rate = 400.0                                            # requests per second per model
    duration = per_model / rate
    arrivals = {}
    for i, name in enumerate(names):
        if i % 2 == 0:   # spiky: Poisson at 4x the base rate for 5 s of every 30 s (thinning)
            base = rate / (1 + 3 * 5 / 30)
            kept = (5 + 25 * 0.25) / 30
            t = np.cumsum(rng.exponential(1 / (4 * base), int(per_model / kept * 1.1)))
            keep = (np.mod(t, 30) < 5) | (rng.random(len(t)) < 0.25)
            times = t[keep][:per_model]
            assert len(times) == per_model
        else:            # bursty: Gamma gaps with cv 4
            times = np.cumsum(rng.gamma(1 / 16, 16 / rate, per_model))
        arrivals[name] = times
    hosts = [HostPlacement(host_type="h", models={names[2 * h]: ModelConfig(max_batch_size=16, max_queue_delay_ms=2),
                                                  names[2 * h + 1]: ModelConfig(max_batch_size=16,
                                                                                max_queue_delay_ms=2)})
             for h in range(HOSTS)]
    return hosts, {"h": profile}, arrivals, duration


def run_large(total_requests: int) -> float:
    hosts, profiles, arrivals, duration = large_case(total_requests)
    start = time.perf_counter()
    trace = simulate_placement(hosts, profiles, arrivals, {}, 0, (0.0, duration))
    elapsed = time.perf_counter() - start
    assert trace.requests.ok.all()
    return sum(len(a) for a in arrivals.values()) / elapsed


def bare_simpy(requests: int = 200_000) -> float:
    """M/M/1 the textbook SimPy way: one process per request, a Resource as the server."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = np.random.default_rng(1)
    gaps, services = rng.exponential(1 / 0.8, requests), rng.exponential(1.0, requests)

    def request(service: float):
        with server.request() as slot:
            yield slot
            yield env.timeout(service)

    def source():
        for gap, service in zip(gaps, services):
            yield env.timeout(gap)
            env.process(request(service))

    env.process(source())
    start = time.perf_counter()
    env.run()
    return requests / (time.perf_counter() - start)


def peak_memory_gib(total_requests: int) -> float:
    run_large(total_requests)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", help="only the 10-million-request memory run")
    parser.add_argument("--requests", type=int, default=2_000_000)
    args = parser.parse_args()
    if args.memory:
        print(f"peak memory, 10 million requests: {peak_memory_gib(10_000_000):.2f} GiB (target < 2 GiB)")
        return
    baseline = bare_simpy()
    ours = run_large(args.requests)
    print(f"bare SimPy M/M/1, one process per request: {baseline:,.0f} requests/s")
    print(f"perseus, {MODELS} models on {HOSTS} hosts, {args.requests:,} requests: {ours:,.0f} requests/s")
    print(f"ratio: {ours / baseline:.1f}x (target >= 5x)")
    subprocess.run([sys.executable, __file__, "--memory"], check=True)


if __name__ == "__main__":
    main()
