"""How many seeds a prediction of ``validate`` needs: the simulation's own noise.

``validate`` predicts a replay by the mean over ``SEED_RUNS`` simulations of the very same
arrivals at successive seeds (:mod:`perseus.validate.run`): the profile's draws (batch
spread, speed drift, front end) part them. Here, per case of ``bench_validate.py`` (its
scenarios, arrivals and seed), ``--seeds`` simulations are run, and their mean stands in
for the simulation's expectation; the mean absolute deviation of one simulation, and of
the mean of N, from it is printed per model and p50 / p95 / p99. A live replay is one draw
too, so a prediction's own deviation adds to its error against it.

    python bench/seed_runs.py [--seeds 100] [--sizes 1,5,10,20] [--profile P] [--cases one-poisson,...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench_validate import HOSTS, LATENCY, WORKLOADS, case_scenario, profile_of_this_machine
from perseus.config.scenario import load_scenario
from perseus.simulation import window_of
from perseus.validate.run import seed_summaries
from perseus.workload import scenario_arrivals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100, help="simulations per case; their mean is the reference")
    parser.add_argument("--sizes", default="1,5,10,20", help="how many seeds' means to compare with it")
    parser.add_argument("--duration", type=float, default=130.0)
    parser.add_argument("--profile", type=Path, help="the embedded host's profile (default: this machine's)")
    parser.add_argument("--cases", default=",".join(f"{h}-{w}" for h in HOSTS for w in WORKLOADS))
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    profile = args.profile or profile_of_this_machine()
    print(f"profile {profile}; mean |deviation| from the mean of {args.seeds} seeds, p50 / p95 / p99 (%)")
    print(f"{'case':<16}{'model':<14}" + "".join(f"{f'mean of {n}':>20}" for n in sizes))
    totals = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as folder:
        for case in args.cases.split(","):
            host, workload = case.split("-")
            loaded = load_scenario(case_scenario(host, workload, args.duration, Path(folder), profile))
            window, seed = window_of(loaded, None), loaded.scenario.seed
            arrivals = scenario_arrivals(loaded, seed, window.end_s)
            summaries = seed_summaries(loaded, host, arrivals, seed, window, args.seeds)
            for model in loaded.scenario.models:
                figures = np.array([[s["models"][model]["latency_ms"][k] for k in LATENCY] for s in summaries])
                deviations = {n: deviation(figures, n) for n in sizes}
                for n, d in deviations.items():
                    totals[n].append(d)
                print(f"{case:<16}{model:<14}" + "".join(f"{' / '.join(f'{v:.1f}' for v in d):>20}"
                                                         for d in deviations.values()), flush=True)
    print(f"{'mean':<30}" + "".join(f"{' / '.join(f'{v:.1f}' for v in np.mean(totals[n], axis=0)):>20}"
                                    for n in sizes))


def deviation(figures: np.ndarray, n: int) -> np.ndarray:
    """Mean absolute deviation (%) of the means of consecutive groups of ``n`` rows of
    ``figures`` (seeds by percentiles) from the mean of all of them."""
    groups = figures[: len(figures) // n * n].reshape(-1, n, figures.shape[1]).mean(axis=1)
    return 100 * np.abs(groups / figures.mean(axis=0) - 1).mean(axis=0)


if __name__ == "__main__":
    main()
