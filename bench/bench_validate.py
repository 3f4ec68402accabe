"""The simulator's error against the embedded host, for the cases the fidelity targets name.

One-model host and shared host (two models on one core), under Poisson, spiky and Gamma
arrivals, each replayed open loop for DURATION seconds (default 130: at least 2 minutes
and 2,000 requests per model) and simulated on the same trace. Prints the signed errors
and whether each meets its target: p50 3%, p95 5%, p99 8%, throughput 1%, SLA violation
rate 1.5 points. ``speed`` is how much slower (+) the host computed batches of one during
the replay than the simulation of its profile, ``slope`` how much more a batch of ``k``
(``k ** slope`` times that), ``front`` how much longer its front end took (from
the request traces; :mod:`perseus.validate.speed`): a shared machine drifts, so the
errors as profiled are not the model's alone. Each model gets two rows: the simulation
as profiled (``profile``), and with the profile rescaled to the replay's speeds
(``at speed``). ``p99/1% slow`` (on the ``at speed`` row) is how many percent the
simulated p99 rises for a host 1% slower than that: where it is large, the spread of the
replays' speeds alone moves the p99 by that many times as much.

    python bench/bench_validate.py [--duration 130] [--cases one-poisson,shared-gamma,...] [--repeat N] [--keep DIR]
                                   [--profile PROFILE.yaml] [--calibrate S] [--seed 5]
    python bench/bench_validate.py --summarise DIR

``--repeat N`` replays each case N times (``validate --repeat``): the rows compare the
simulation with the mean of the replays, and a row per replay follows with that replay's
own errors at its speed, so that the machine's spread shows beside the model's error.

``--calibrate S`` (``validate --calibrate``) replays S seconds of another draw of each
case's workload right before its replays and adds a row simulated at the speeds that
calibration measured (``calibrated``; with ``--repeat``, a row per replay too, ``cal.
k``): a prediction made on the host minutes before, of replays it has not seen, between
the profile measured long before and the replay's own speed.

At the end it sums up each kind of row (``profile``, ``at speed``, single replays): the
mean absolute p50 / p95 / p99 error, and how many rows meet the three latency targets and
all five; with ``--repeat`` 2 or more, also how far the replays of the same arrivals
landed from each other (``replay_spread``, the mean over the rows): the noise floor under
those errors; beside it the simulations of the same arrivals at other seeds
(``seed_spread``), and on how many rows the replays landed wider apart at p99; and of
the latency figures missed at replay speed, at how many the replays themselves landed
further apart than the target: there the host, not only the model, keeps the figure
from being checked against its target.

``--seed N`` (default 5) is every case's scenario seed: its arrivals, and with
``--calibrate`` the calibration's (seed plus ``CALIBRATION_SEED``). Runs that keep the
default see one draw of each case; vary it to tell a pattern from one draw's.

``--keep DIR`` leaves in DIR the profile as it was, each case's scenario, results (JSON)
and requests (CSV, with Triton's trace times), to study the error afterwards without
replaying again; ``--summarise DIR`` prints their rows and summary again.

The embedded host is simulated with the shipped profile measured on this machine's CPU
(``profiles/*.yaml``, by ``hardware.name``), else ``profiles/local-cpu.yaml``, whose
hardware ``validate`` then names as other than this machine's; ``--profile`` chooses one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from perseus.config.profile import load_profile
from perseus.config.scenario import load_scenario
from perseus.profile.runner import hardware_of_this_machine
from perseus.validate.run import run, write_outputs

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "profiles/local-cpu.yaml"
TARGETS = {"p50": 0.03, "p95": 0.05, "p99": 0.08, "throughput": 0.01, "sla_violation_rate": 0.015}
WORKLOADS = {
    "poisson": lambda rps: {"kind": "poisson", "rps": rps},
    "spiky": lambda rps: {"kind": "spiky", "base_rps": rps * 0.7, "spike_rps": rps * 2.5, "period_s": 30,
                          "spike_s": 5},
    "gamma": lambda rps: {"kind": "gamma", "rps": rps, "cv": 2},
}
HOSTS = {
    "one": {"resnet18": 25.0},
    "shared": {"resnet18": 18.0, "mobilenet_v2": 25.0},
}
SLA_MS = {"resnet18": 60.0, "mobilenet_v2": 40.0}
SEED = 5   # every case's scenario seed unless --seed says otherwise
LATENCY = ("p50", "p95", "p99")


def profile_of_this_machine() -> Path:
    """The shipped profile measured on this machine's CPU, else the default one."""
    here = hardware_of_this_machine(1).name
    return next((path for path in sorted((ROOT / "profiles").glob("*.yaml"))
                 if load_profile(path).hardware.name == here), DEFAULT_PROFILE)


def case_scenario(host: str, workload: str, duration: float, folder: Path, profile: Path, seed: int = SEED) -> Path:
    models = HOSTS[host]
    data = {
        "name": f"{host}-{workload}", "duration_s": duration, "warmup_s": 10, "seed": seed,
        "host_types": {"cpu-small": {"profile": str(profile.resolve()), "price_per_hour": 0.05}},
        "models": {m: {"sla": {"latency_ms": SLA_MS[m], "percentile": 99}, "workload": WORKLOADS[workload](rps)}
                   for m, rps in models.items()},
        "placements": {host: [{"host_type": "cpu-small", "models": {
            m: {"max_batch_size": 8, "max_queue_delay_ms": 2} for m in models}}]},
    }
    path = folder / f"{host}-{workload}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=130.0)
    parser.add_argument("--cases", default=",".join(f"{h}-{w}" for h in HOSTS for w in WORKLOADS))
    parser.add_argument("--repeat", type=int, default=1, help="replays per case, compared by their mean")
    parser.add_argument("--keep", type=Path, help="folder for each case's scenario, results and requests")
    parser.add_argument("--profile", type=Path, help="the embedded host's profile (default: this machine's)")
    parser.add_argument("--calibrate", type=float, metavar="S",
                        help="seconds of a calibration replay before each case's replays (validate --calibrate)")
    parser.add_argument("--seed", type=int, default=SEED, help="every case's scenario seed (its arrivals)")
    parser.add_argument("--summarise", type=Path, metavar="DIR",
                        help="print the rows and the summary of the results kept in DIR by --keep; replay nothing")
    args = parser.parse_args()
    tally = Tally()
    if args.summarise:
        failed = summarise_kept(args.summarise, tally)
    else:
        failed = replay_cases(args, tally)
    tally.print_summary()
    if failed:
        sys.exit("cases left out, failed: " + "; ".join(failed))


def summarise_kept(folder: Path, tally: Tally) -> list[str]:
    """Print the rows of the results kept in ``folder``; the cases whose requests failed,
    left out."""
    print(f"results kept in {folder}")
    print_header()
    failed = []
    for path in sorted(folder.glob("*.json")):
        for placement in json.loads(path.read_text())["placements"].values():
            if placement["failed_requests"]:
                failed.append(f"{path.stem}: {placement['failed_requests']} request(s) failed")
            else:
                tally.add(path.stem, placement)
    return failed


def replay_cases(args: argparse.Namespace, tally: Tally) -> list[str]:
    """Validate every case of ``args.cases`` on the embedded host, printing its rows; the
    cases that failed (a host that died, say), with why. What a failed case measured is
    kept with ``--keep`` all the same."""
    failed: list[str] = []
    profile = args.profile or profile_of_this_machine()
    print(f"profile: {profile}; seed {args.seed}")
    print_header()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.keep:
            shutil.copy(profile, folder / "profile.yaml")
        for case in args.cases.split(","):
            host, workload = case.split("-")
            loaded = load_scenario(case_scenario(host, workload, args.duration, folder, profile, args.seed))
            outcome = run(loaded, None, placement=host, seed=None, duration_s=None,
                          progress=lambda *a: None, warn=print, repeat=args.repeat, calibrate_s=args.calibrate)
            if args.keep:
                write_outputs(outcome, folder / f"{case}.json", folder / f"{case}.requests.csv")
            if outcome.failure:   # the case's rows are left out of the tally; the other cases go on
                failed.append(f"{case}: {outcome.failure}")
                print(f"{case} failed: {outcome.failure}", flush=True)
                continue
            tally.add(case, outcome.results["placements"][host])
    return failed


def print_header() -> None:
    print(f"{'case':<16}{'model':<14}{'simulated':<10}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'thr':>8}"
          f"{'viol pp':>9}{'late p99 ms':>12}{'speed':>7}{'slope':>7}{'front':>7}{'p99/1% slow':>12}  targets")


def print_row(case: str, model: str, label: str, requests: float, e: dict, late_ms: float, at: dict,
              steep: float | None) -> None:
    ok = within(e, TARGETS)
    front = at.get("front_end_factor")
    print(f"{case:<16}{model:<14}{label:<10}{requests:>9g}"
          + "".join(f"{100 * e[k]:>+7.1f}%" for k in ("p50", "p95", "p99", "throughput"))
          + f"{100 * e['sla_violation_rate']:>+8.2f} {late_ms:>11.2f}{100 * (at['factor'] - 1):>+6.0f}%"
          + (f"{at['slope']:>+7.2f}" if "slope" in at else f"{'-':>7}")   # none before the law by size
          + (f"{100 * (front - 1):>+6.0f}%" if front else f"{'-':>7}")
          + (f"{steep:>+11.1f}%" if steep is not None else f"{'-':>12}") + "  " + ("met" if ok else "missed"), flush=True)


def within(error: dict, targets: dict[str, float]) -> bool:
    """Whether every figure of ``targets`` was measured and within its target."""
    return all(error[k] is not None and abs(error[k]) <= t for k, t in targets.items())


class Tally:
    """Every row printed so far, by kind (``profile``, ``at speed``, ``replays``, and with
    ``--calibrate`` ``calibrated`` and ``cal. reps``), and per
    model and case with several replays, how far they and the simulations at other seeds
    landed apart."""

    def __init__(self) -> None:
        self.errors: dict[str, list[dict]] = {}
        self.spreads: list[tuple[dict, dict]] = []     # (replays apart, seeds apart)
        self.at_speed: list[tuple[dict, dict]] = []    # (error at replay speed, replays apart)

    def add(self, case: str, result: dict) -> None:
        """Print and count the rows of one placement's ``validate`` result."""
        for model, entry in result["models"].items():
            speed = entry["at_replay_speed"]
            rows = [("profile", entry["error"], speed), ("at speed", speed["error"], speed)]
            rows += [(f"replay {k}", one["at_replay_speed"]["error"], one["at_replay_speed"])
                     for k, one in enumerate(entry.get("replays", []), start=1)]
            if entry.get("calibrated"):
                rows += [("calibrated", entry["calibrated"]["error"], entry["calibrated"])]
                rows += [(f"cal. {k}", one["calibrated"]["error"], one["calibrated"])
                         for k, one in enumerate(entry.get("replays", []), start=1)]
            if entry.get("replay_spread"):
                self.at_speed.append((speed["error"], entry["replay_spread"]))
                if entry.get("seed_spread"):   # results kept before 2026-12-06 15:30 have none
                    self.spreads.append((entry["replay_spread"], entry["seed_spread"]))
            for label, e, at in rows:
                kind = "replays" if label.startswith("replay") else "cal. reps" if label.startswith("cal.") else label
                self.errors.setdefault(kind, []).append(e)
                steep = (at.get("sensitivity") or {}).get("p99") if label == "at speed" else None
                print_row(case, model, label, entry["measured"]["requests"], e, result["lateness_ms_p99"], at, steep)

    def print_summary(self) -> None:
        """Per kind of row: mean absolute latency errors, rows within the latency targets
        and within all five; then, where there are several replays, how far they landed
        apart against the simulations at other seeds, and how many of the latency figures
        missed at replay speed the replays themselves landed further apart than the target."""
        for kind, errors in self.errors.items():
            mean = np.mean([[abs(e[k]) for k in LATENCY] for e in errors], axis=0)
            latency = sum(within(e, {k: TARGETS[k] for k in LATENCY}) for e in errors)
            every = sum(within(e, TARGETS) for e in errors)
            print(f"{kind:<9} mean |error| p50 / p95 / p99: " + " / ".join(f"{100 * v:.1f}" for v in mean)
                  + f"%; within the latency targets {latency} of {len(errors)} rows, within all five {every}")
        if self.spreads:
            self.print_spreads()
        if self.at_speed:
            self.print_noise_floor()

    def print_spreads(self) -> None:
        """How far the replays and the simulations at other seeds landed apart."""
        floor = np.mean([[[spread[k] for k in LATENCY] for spread in pair] for pair in self.spreads], axis=0)
        wider = sum(live["p99"] > simulated["p99"] for live, simulated in self.spreads)
        print("runs of the same arrivals apart, mean over rows, p50 / p95 / p99: replays "
              + " / ".join(f"{100 * v:.1f}" for v in floor[0]) + "%, simulations at other seeds "
              + " / ".join(f"{100 * v:.1f}" for v in floor[1]) + f"%; replays wider at p99 on {wider} of "
              + f"{len(self.spreads)} rows")

    def print_noise_floor(self) -> None:
        """The latency figures missed at replay speed, and where the replays were further apart."""
        missed = [(abs(e[k]) > TARGETS[k], apart[k] > TARGETS[k]) for e, apart in self.at_speed for k in LATENCY]
        print(f"at speed, latency figures missed: {sum(m for m, _ in missed)} of {len(missed)}; of those, the "
              f"replays landed further apart than the target itself on {sum(m and n for m, n in missed)} "
              f"(met: {sum(not m for m, _ in missed)}, of which {sum(n and not m for m, n in missed)} so far apart)")


if __name__ == "__main__":
    main()
