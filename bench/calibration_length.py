"""How long a calibration must be: runs kept by ``bench_validate.py --repeat 2 --keep DIR``,
solved again offline.

``validate --calibrate S`` solves the host's speeds on S seconds of a replay made just
before the replays (after the warm-up; no speed path, its seconds not being theirs) and
predicts the replays from them. Here, per kept case, the first L seconds after the
warm-up of one replay are solved as such a calibration
(:func:`perseus.validate.run.calibrated_prediction`), and the simulation at
those speeds is compared with the other replay of the same arrivals, for each L of
``--lengths`` and both orders of the two replays. A length that covers the whole replay
has seen the very spikes it predicts (of another replay), so compare lengths on the
Poisson cases first.

    python bench/calibration_length.py DIR [--lengths 60,120] [--cases one-poisson,...]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from bench_validate import LATENCY, TARGETS
from perseus.config.scenario import LoadedScenario, load_scenario
from perseus.metrics import Window, placement_summary
from perseus.replay import ReplayLog
from perseus.simulation import window_of
from perseus.validate.compare import model_error
from perseus.validate.observe import ServerView
from perseus.validate.run import Replayed, calibrated_prediction, measured_trace
from perseus.workload import scenario_arrivals

LATENCY_TARGETS = {key: TARGETS[key] for key in LATENCY}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path, help="a folder kept by bench_validate.py --repeat 2 --keep")
    parser.add_argument("--lengths", default="60,120", help="calibration lengths to compare (s, after the warm-up)")
    parser.add_argument("--cases", help="the kept cases to solve (default: every one)")
    args = parser.parse_args()
    lengths = [float(length) for length in args.lengths.split(",")]
    cases = args.cases.split(",") if args.cases else sorted(p.name.removesuffix(".requests.csv")
                                                            for p in args.folder.glob("*.requests.csv"))
    errors: dict[float, list[dict[str, float]]] = {length: [] for length in lengths}
    for case in cases:
        for length, model, order, error in case_errors(args.folder, case, lengths):
            errors[length].append(error)
            print(f"{case:<16}{model:<14}{order:<6}{length:>6.0f} s  "
                  + " / ".join(f"{100 * error[k]:+.1f}" for k in LATENCY_TARGETS) + "%", flush=True)
    for length, rows in errors.items():
        mean = np.mean([[abs(e[k]) for k in LATENCY_TARGETS] for e in rows], axis=0)
        within = sum(all(abs(e[k]) <= t for k, t in LATENCY_TARGETS.items()) for e in rows)
        print(f"{length:.0f} s: mean |error| p50 / p95 / p99 " + " / ".join(f"{100 * v:.1f}" for v in mean)
              + f"%; within the latency targets {within} of {len(rows)} rows")


def case_errors(folder: Path, case: str, lengths: list[float]) -> Iterator[tuple[float, str, str, dict]]:
    """(length, model, order, latency errors) of one kept case, each replay calibrating the
    other's prediction."""
    loaded = load_scenario(folder / f"{case}.yaml")
    name = next(iter(loaded.scenario.placements))
    seed, window = loaded.scenario.seed, window_of(loaded, None)
    arrivals = scenario_arrivals(loaded, seed, window.end_s)
    requests = pd.read_csv(folder / f"{case}.requests.csv")
    hosts = sorted(requests["host"].dropna().unique())
    for calibrating, predicted in ((1, 2), (2, 1)):
        rows = requests[requests["replay"] == predicted]
        replay = Replayed(ReplayLog.from_requests(rows, arrivals, hosts), view=None)
        measured = placement_summary(measured_trace(replay, len(hosts), window), loaded.scenario, name, window,
                                     loaded.scenario.prices)
        for length in lengths:
            simulated = calibrated_summary(loaded, name, requests[requests["replay"] == calibrating], hosts,
                                           arrivals, Window(window.start_s, window.start_s + length), window)
            for model in loaded.scenario.models:
                yield (length, model, f"{calibrating}->{predicted}",
                       model_error(measured["models"][model], simulated["models"][model]))


def calibrated_summary(loaded: LoadedScenario, name: str, rows: pd.DataFrame, hosts: list[str],
                       arrivals: dict[str, np.ndarray], calibration: Window, window: Window) -> dict:
    """The replay's arrivals simulated at the speeds the requests of ``rows`` measured up
    to the end of ``calibration``, solved as ``validate --calibrate`` solves its own."""
    early = {model: times[times < calibration.end_s] for model, times in arrivals.items()}
    cut = rows[rows["scheduled_s"] < calibration.end_s]
    no_statistics = ServerView([{} for _ in hosts])   # the CSV keeps none; the traced batches give the speeds
    replay = Replayed(ReplayLog.from_requests(cut, early, hosts), view=no_statistics)
    speed = calibrated_prediction(loaded, name, replay, early, calibration, arrivals, loaded.scenario.seed, window)
    if speed is None:
        raise SystemExit(f"{name}: the kept requests hold no traced batches to solve a speed from")
    assert speed.predicted is not None
    return speed.predicted


if __name__ == "__main__":
    main()
