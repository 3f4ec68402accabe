"""How far two live replays of the same arrivals land from each other: the noise floor
under the simulator's error.

Reads the folders that ``bench_validate.py --keep DIR`` left (same cases, same seeds:
the very same arrivals) and prints, per case and model, the range of each measured
percentile over the runs and the mean absolute relative difference between any two
runs. Where that difference is above a fidelity target, no simulator can meet the
target against every run on that machine. A folder kept with ``--repeat N`` counts as N
runs (its replays, one after another), so one such folder is enough. ``validate --repeat
N`` reports the same figure for its own replays (``replay_spread``).

    python bench/live_spread.py DIR [DIR ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from perseus.validate.compare import SPREAD_KEYS, runs_apart


def measured(folder: Path) -> list[dict[tuple[str, str], np.ndarray]]:
    """Per replay in a kept run, per (case, model): the measured p50, p95 and p99 (ms)."""
    result: list[dict[tuple[str, str], np.ndarray]] = []
    for path in sorted(folder.glob("*.json")):
        for placement in json.loads(path.read_text())["placements"].values():
            for model, entry in placement["models"].items():
                replays = [r["latency_ms"] for r in entry.get("replays", [])] or [entry["measured"]["latency_ms"]]
                result += [{} for _ in range(len(replays) - len(result))]
                for run, latency in zip(result, replays):
                    run[path.stem, model] = np.array([latency[k] for k in SPREAD_KEYS])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    runs = [run for folder in args.folders for run in measured(folder)]
    rows = sorted(set.intersection(*(set(run) for run in runs)))
    print(f"{len(runs)} runs; per case and model: measured range (ms), mean |difference| between two runs (%)")
    differences = []
    for row in rows:
        values = np.array([run[row] for run in runs])
        spread = runs_apart([dict(zip(SPREAD_KEYS, latency)) for latency in values])
        differences.append([100 * spread[k] for k in SPREAD_KEYS])
        ranges = "  ".join(f"{k} {values[:, i].min():6.1f}-{values[:, i].max():6.1f}"
                           for i, k in enumerate(SPREAD_KEYS))
        print(f"{row[0]:<16}{row[1]:<14}{ranges}   " + " / ".join(f"{d:4.1f}" for d in differences[-1]))
    print("all rows, mean |difference| between two runs, p50 / p95 / p99 %: "
          + " / ".join(f"{d:.1f}" for d in np.mean(differences, axis=0)))


if __name__ == "__main__":
    main()
