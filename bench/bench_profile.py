"""How long a full profile of the built-in models takes, phase by phase.

    python bench/bench_profile.py            # all four models, batch sizes 1-16, 16 pairs
    python bench/bench_profile.py --quick    # what `perseus profile --quick` measures

Starts the embedded host pinned to one core (the load generator on the others), exactly
as `perseus profile --host local` does, and prints the seconds spent starting the server
and in each phase (curves, instance scaling, interference). Target for the full run:
under 10 minutes, set on the Intel host before the curve and the pairs of two models
were measured in three passes; with them a full profile took 16 min 20 s on the AMD
EPYC host (2026-11-30), where a single pass had taken 11 min.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from perseus import zoo
from perseus.config.hosts import builtin_local
from perseus.profile.plan import FULL, QUICK, Point
from perseus.profile.runner import run_profile
from perseus.triton.hosts import open_target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    models = zoo.model_names()
    phases: dict[str, float] = {}
    current = {"phase": "", "since": 0.0}

    def progress(point: Point, index: int, total: int) -> None:
        now = time.perf_counter()
        if current["phase"]:
            phases[current["phase"]] = phases.get(current["phase"], 0.0) + now - current["since"]
        current["phase"], current["since"] = (point.phase if index < total else ""), now

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, open_target("local", builtin_local(), models,
                                                           settings.max_batch_size) as target:
        up = time.perf_counter()
        profile = run_profile(target, models, settings, Path(tmp) / "local.yaml", resume=False, progress=progress,
                              warn=print)
    total = time.perf_counter() - start
    print(f"{'quick' if args.quick else 'full'} profile of {len(models)} models, batch sizes "
          f"{list(settings.batch_sizes)}, {len(profile.interference)}x{len(models)} interference pairs")
    print(f"  server start        {up - start:7.1f} s")
    for phase, seconds in phases.items():
        print(f"  {phase:<19} {seconds:7.1f} s")
    print(f"  total               {total:7.1f} s (target: {'2' if args.quick else '10'} min)")


if __name__ == "__main__":
    main()
