"""``perseus validate`` as a library call: deploy, replay, simulate the same trace, compare.

Per placement: the placement is put on live hosts (:mod:`perseus.validate.deploy`), the
scenario's arrivals for the seed - the very ones ``simulate`` draws - are replayed open
loop, every request is kept, and the same placement, seed, duration and warm-up are
simulated. Both runs are summarised by the same code (:mod:`perseus.metrics`), so the
error is the model's, not the bookkeeping's. Measured host utilisation is the time the
host executed batches (:func:`measured_busy_s`).

With ``repeat`` above one the placement is deployed and the same trace replayed that many
times, each on freshly deployed hosts. The measured numbers are then the means over the
replays, with 95% confidence intervals (``latency_ms_ci95``, as ``simulate`` gives over
replications), and each replay's own errors are kept under ``replays``. A live run is one
draw of a noisy machine: two replays of the same arrivals on the embedded host differed
by 8.9 / 15.4 / 19.1% at p50 / p95 / p99 on average (nine runs, ``bench/live_spread.py``,
2026-11-29), more than the simulator's error against either; the mean of several replays
is the steadier reference.

Every prediction - as profiled, at a replay's speed, calibrated - is the mean over
``SEED_RUNS`` simulations of the very same arrivals at the scenario's seed and the next
ones (:func:`seed_summaries`): the profile's randomness (batch spread, speed drift,
front end) parts them, and one of them is one draw of that noise, which adds to its
error against a replay. On the six ``bench_validate.py`` cases (130 s,
the shipped EPYC profile, ``python bench/seed_runs.py --seeds 100``, 2026-12-07), one
simulation landed 2.5 / 5.0 / 6.4% from the mean of 100 at p50 / p95 / p99 on average
(one-model spiky ResNet-18 12.4 / 13.5% at p95 / p99), the mean of 20 0.6 / 1.0 / 1.3%:
with one, the simulation's own noise took most of the latency targets (3 / 5 / 8%). The
batch sizes, stages and the host's mechanisms are read from the simulation at the
scenario's seed, and the speed is solved on it (:mod:`perseus.validate.speed`).

Beside the replays' spread (``replay_spread``), each model gets the simulations': how far
the ``SEED_RUNS`` of them landed apart, by the same measure (``seed_spread``,
:func:`perseus.validate.compare.runs_apart`). Re-simulated on the arrivals of eight kept
``bench_validate.py`` runs (2026-12-06, 00:08 to 14:35; 45 model-case rows of two or
three replays), five seeds landed 2.9 / 5.8 / 7.1% apart at p50 / p95 / p99 on average,
the live replays 11.1 / 29.6 / 36.3%, wider at p99 on 41 rows: the embedded host varied
far more between replays than its profile measured within one.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perseus.config.hosts import Host
from perseus.config.loading import write_atomic
from perseus.config.scenario import LoadedScenario
from perseus.errors import HostError, InputError, PerseusError
from perseus.metrics import Window, placement_summary
from perseus.simulation import combine, placements_to_run, simulate_one, window_of
from perseus.sim.trace import RequestTable, SimTrace
from perseus.triton.trace import read_trace
from perseus.validate.compare import (arrival_work_ms, batch_of_one_ms, batch_spread, mean_stages, model_error,
                                     runs_apart, simulated_batch_ms, simulated_batches, simulated_histogram,
                                     speed_drift, stage_summary, traced_batches, traced_requests, union_length,
                                     wake_law)
from perseus.validate.deploy import Assignment, DoesNotFit, assign, core_plan, deploy, hardware_differences
from perseus.validate.observe import ServerView, difference, merged, snapshot, tracing
from perseus.validate.speed import (ReplaySpeed, at_speeds, following_the_replay, measured_compute,
                                   median_front_end_ms, nudged, replay_speed, sensitivity)
from perseus.replay import LiveRouter, ReplayLog, merge_arrivals, replay
from perseus.workload import scenario_arrivals

LATENESS_LIMIT_MS = 1.0
SEED_RUNS = 20   # simulations of the same arrivals: each prediction is their mean, ``seed_spread`` their spread
CALIBRATION_SEED = 1000   # the calibration's arrivals: the scenario's workload drawn at its seed plus this


@dataclass(frozen=True)
class Replayed:
    """One replay of a placement's trace: every request, and what the servers counted
    (None when a host failed, since its statistics are then incomplete)."""

    log: ReplayLog
    view: ServerView | None
    exits: dict[str, str] = field(default_factory=dict)   # embedded hosts that stopped during it: how


@dataclass
class Outcome:
    """Everything one validate run produced."""

    results: dict[str, Any]
    logs: dict[str, list[ReplayLog]] = field(default_factory=dict)   # per placement, one per replay
    calibrations: dict[str, ReplayLog] = field(default_factory=dict)  # per placement, its --calibrate replay
    host_names: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failure: PerseusError | None = None
    interrupted: bool = False           # stopped by Ctrl-C; what it measured is kept

    def replays(self) -> list[tuple[str, int, ReplayLog]]:
        """Every replay's log with its placement and number: 0 for the calibration's, then
        the replays from 1."""
        numbered = []
        for name in dict.fromkeys([*self.calibrations, *self.logs]):
            first = [(0, self.calibrations[name])] if name in self.calibrations else []
            numbered += [(name, k, log) for k, log in first + list(enumerate(self.logs.get(name, []), start=1))]
        return numbered


def run(loaded: LoadedScenario, inventory: dict[str, Host] | None, *, placement: str | None, seed: int | None,
        duration_s: float | None, progress: Callable[[str, int, int], None], warn: Callable[[str], None],
        repeat: int = 1, calibrate_s: float | None = None) -> Outcome:
    scenario = loaded.scenario
    seed = scenario.seed if seed is None else seed
    window = window_of(loaded, duration_s)
    arrivals = scenario_arrivals(loaded, seed, window.end_s)
    outcome = Outcome({"scenario": scenario.name, "seed": seed, "duration_s": window.end_s,
                       "warmup_s": window.start_s, "placements": {}})
    try:
        _validate_placements(loaded, inventory, placement, arrivals, seed, window, outcome, progress, warn, repeat,
                             calibrate_s)
    except KeyboardInterrupt:   # the hosts are restored on the way out; the requests sent are kept
        outcome.interrupted = True
        for _, _, log in outcome.replays():
            log.interrupted()
        return outcome
    if not outcome.results["placements"] and outcome.failure is None:
        outcome.failure = InputError("no placement of this scenario fits this machine: "
                                     + "; ".join(f"{n}: {why}" for n, why in outcome.skipped.items()),
                                     field="placement")
    return outcome


def _validate_placements(loaded: LoadedScenario, inventory: dict[str, Host] | None, placement: str | None,
                         arrivals: dict[str, np.ndarray], seed: int, window: Window, outcome: Outcome,
                         progress: Callable[[str, int, int], None], warn: Callable[[str], None], repeat: int,
                         calibrate_s: float | None) -> None:
    for name in placements_to_run(loaded, placement):
        try:
            _validate_placement(loaded, inventory, name, arrivals, seed, window, outcome, progress, warn, repeat,
                                calibrate_s)
        except DoesNotFit as exc:
            if placement is not None:
                outcome.failure = exc
                return
            outcome.skipped[name] = str(exc)
            warn(f"placement {name!r} skipped: {exc}")
        except PerseusError as exc:
            outcome.failure = exc
            return


def _validate_placement(loaded: LoadedScenario, inventory: dict[str, Host] | None, name: str,
                        arrivals: dict[str, np.ndarray], seed: int, window: Window, outcome: Outcome,
                        progress: Callable[[str, int, int], None], warn: Callable[[str], None], repeat: int,
                        calibrate_s: float | None) -> None:
    assignments = assign(name, loaded.scenario.placements[name], inventory)
    cores = core_plan(assignments)   # a placement this machine cannot hold is refused before any warning
    for line in hardware_differences(name, assignments, loaded.profiles):
        warn(line)
    calibration = None
    if calibrate_s:
        calibration = _calibrate(loaded, assignments, cores, name, arrivals, seed, window, calibrate_s, outcome,
                                 progress, warn)
    replays: list[Replayed] = []
    failed: dict[str, int] = {}
    for k in range(repeat):
        label = name if repeat == 1 else f"{name} ({k + 1}/{repeat})"
        replayed, failed = _replay_once(loaded, assignments, cores, name, arrivals, seed, outcome, label, progress,
                                        warn)
        replays.append(replayed)
        if failed:
            break
    speeds = [_at_replay_speed(loaded, name, arrivals, seed, window, r) for r in replays]
    outcome.results["placements"][name] = compare_placement(
        loaded, name, replays, simulate_one(loaded, name, arrivals, seed, window),
        seed_summaries(loaded, name, arrivals, seed + 1, window, SEED_RUNS - 1), speeds, window, calibration)
    if failed:
        raise _replay_failed(name, failed, replays[-1])


def _replay_failed(name: str, failed: dict[str, int], replayed: Replayed) -> HostError:
    """The error of a replay whose requests to a host failed: how many, the first's error
    and, for an embedded host that stopped, how (its server's log is gone once it is taken
    down)."""
    host, count = next(iter(failed.items()))
    first = next(iter(replayed.log.errors.values()))
    stopped = f"; {replayed.exits[host]}" if host in replayed.exits else ""
    return HostError(f"{count} request(s) failed during the replay of placement {name!r} (first: {first}){stopped}",
                     host=host)


def _calibrate(loaded: LoadedScenario, assignments: list[Assignment], cores: dict[int, list[int]], name: str,
               arrivals: dict[str, np.ndarray], seed: int, window: Window, calibrate_s: float, outcome: Outcome,
               progress: Callable[[str, int, int], None], warn: Callable[[str], None]) -> ReplaySpeed | None:
    """``validate --calibrate``: the speeds a calibration replay measured right before the
    replays, and the simulation of the replays' arrivals at them (None without its
    statistics). The calibration replays ``calibrate_s`` seconds after the scenario's
    warm-up of another draw of the same workload (seed plus ``CALIBRATION_SEED``) on the
    placement deployed as for the replays, and is solved as a replay is
    (:func:`_solved_speed`) but without its speed path, whose seconds do not line up
    with the replays' (its hosts draw the speed drift fit on it instead): a prediction
    calibrated on the host minutes before, of a run it has not seen. Its requests are kept
    (replay 0 of the CSV). In ``bench_validate.py --repeat 2 --calibrate 60`` (2026-12-07
    10:43, the profile measured at 07:31, the host 3-9% faster than it in the replays),
    the simulation as profiled met every latency target on 3 of the 9 model-case rows
    (mean absolute p50 / p95 / p99 error 2.0 / 9.2 / 11.7%), as calibrated on 7 (2.5 /
    2.5 / 3.0%), at each replay's own speed on 9 (0.9 / 1.5 / 2.2%)."""
    calibration_window = Window(window.start_s, window.start_s + calibrate_s)
    calibration_arrivals = scenario_arrivals(loaded, seed + CALIBRATION_SEED, calibration_window.end_s)
    replayed, failed = _replay_once(loaded, assignments, cores, name, calibration_arrivals, seed, outcome,
                                    f"{name} (calibration)", progress, warn, calibration=True)
    if failed:
        raise _replay_failed(name, failed, replayed)
    return calibrated_prediction(loaded, name, replayed, calibration_arrivals, calibration_window, arrivals, seed,
                                 window)


def calibrated_prediction(loaded: LoadedScenario, name: str, calibration: Replayed,
                          calibration_arrivals: dict[str, np.ndarray], calibration_window: Window,
                          arrivals: dict[str, np.ndarray], seed: int, window: Window) -> ReplaySpeed | None:
    """The speeds a ``calibration`` replay of ``calibration_arrivals`` measured in
    ``calibration_window``, solved as a replay is (:func:`_solved_speed`) but without its
    speed path, and the simulation of ``arrivals`` at them (None without its statistics)."""
    solved = _solved_speed(loaded, name, calibration_arrivals, seed, calibration_window, calibration, path=False)
    if solved is None:
        return None
    here, speed = solved
    return _predicted_at(here, name, arrivals, seed, window, speed)


def _at_replay_speed(loaded: LoadedScenario, name: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
                     replayed: Replayed) -> ReplaySpeed | None:
    """The speeds one replay computed at and its simulation at them, its host following
    the speed the replay measured (:func:`_solved_speed`), with its ``nudged``
    simulation; None without its statistics."""
    solved = _solved_speed(loaded, name, arrivals, seed, window, replayed, path=True)
    if solved is None:
        return None
    here, speed = solved
    return _predicted_at(here, name, arrivals, seed, window, nudged(here, name, arrivals, seed, window, speed))


def seed_summaries(loaded: LoadedScenario, name: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
                   count: int = SEED_RUNS) -> list[dict[str, Any]]:
    """The placement's summaries of ``arrivals`` simulated at ``count`` seeds from ``seed``
    on: a prediction is their mean (``combine``; the module docstring says why). Each
    simulation is summarised as it ends, so that only one is held at a time."""
    scenario = loaded.scenario
    return [placement_summary(simulate_one(loaded, name, arrivals, seed + k, window), scenario, name, window,
                              scenario.prices) for k in range(count)]


def _predicted_at(here: LoadedScenario, name: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
                  speed: ReplaySpeed) -> ReplaySpeed:
    """``speed`` with the prediction at its speeds: ``arrivals`` on ``here`` rescaled by it,
    the mean over the seeds (:func:`seed_summaries`)."""
    at = at_speeds(here, speed.factors, speed.front_ends, speed.slopes)
    return replace(speed, predicted=combine(seed_summaries(at, name, arrivals, seed, window)))


def _solved_speed(loaded: LoadedScenario, name: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
                  replayed: Replayed, *, path: bool) -> tuple[LoadedScenario, ReplaySpeed] | None:
    """The host as one replay measured it, spreading its batches as the replay's did and,
    with ``path``, following its speed second by second
    (:func:`perseus.validate.speed.following_the_replay`), and the speeds the replay
    computed at against it (:func:`perseus.validate.speed.replay_speed`); None without
    the replay's statistics. Both are read in ``window`` (:func:`measured_compute`). The
    solve starts from that host at the profile's speed: a host that follows a path keeps
    its open-loop factors steady (:mod:`perseus.sim.service`), so it computes otherwise
    than the simulation as profiled at the same speed."""
    if replayed.view is None:
        return None
    table = replayed.log.request_table()
    here = following_the_replay(loaded, table, window, path=path)
    measured_ms, counts, starting = measured_compute(replayed.view, table, loaded.scenario.models, window)
    start = simulate_one(here, name, arrivals, seed, window)
    return here, replay_speed(here, name, arrivals, seed, window, start, measured_ms, counts,
                              _front_end_ms(table, loaded, window), batches_starting=starting)


def _replay_once(loaded: LoadedScenario, assignments: list[Assignment], cores: dict[int, list[int]], name: str,
                 arrivals: dict[str, np.ndarray], seed: int, outcome: Outcome, label: str,
                 progress: Callable[[str, int, int], None], warn: Callable[[str], None], calibration: bool = False
                 ) -> tuple[Replayed, dict[str, int]]:
    """Deploy the placement, replay the trace once, and take it down; the failed requests by
    host. The replay's log joins ``outcome`` once the hosts are up (as its ``calibration``,
    or one more replay), so that what it measured is kept whatever happens after."""
    scenario = loaded.scenario
    models, index, times = merge_arrivals(arrivals)
    log = ReplayLog(models, index, times)
    with tempfile.TemporaryDirectory(prefix="perseus-traces-") as traces:
        with deploy(assignments, cores, warn, Path(traces)) as endpoints:
            replicas = {m: [h for h, e in enumerate(endpoints) if model in e.shapes] for m, model in enumerate(models)}
            router = LiveRouter(replicas, {m: scenario.router_for(model) for m, model in enumerate(models)}, seed)
            before = snapshot(endpoints)
            outcome.host_names[name] = [e.name for e in endpoints]
            if calibration:
                outcome.calibrations[name] = log
            else:
                outcome.logs.setdefault(name, []).append(log)
            with tracing(endpoints):
                replay(endpoints, log, router, lambda sent: progress(label, sent, len(times)))
            failed = log.failures_by_host([e.name for e in endpoints])
            view = None if failed else difference(snapshot(endpoints), before)
            exits = {e.name: why for e in endpoints if e.exit_reason and (why := e.exit_reason())}
        for endpoint in endpoints:
            if endpoint.trace_file is not None:
                log.add_traces(read_trace(endpoint.trace_file))
    return Replayed(log, view, exits), failed


def _front_end_ms(table: RequestTable, loaded: LoadedScenario, window: Window) -> dict[str, float]:
    """Each model's median front end in a replay (its request table), where its hosts traced
    it (:func:`perseus.validate.speed.median_front_end_ms`)."""
    medians = {m: median_front_end_ms(table, m, window) for m in loaded.scenario.models}
    return {m: ms for m, ms in medians.items() if ms is not None}


def compare_placement(loaded: LoadedScenario, name: str, replays: list[Replayed], simulated: SimTrace,
                      later_seeds: list[dict[str, Any]], speeds: list[ReplaySpeed | None], window: Window,
                      calibration: ReplaySpeed | None = None) -> dict[str, Any]:
    """Measured against simulated, as profiled (``simulated``, ``error``: the mean of the
    simulation at the scenario's seed, ``simulated``, and the summaries of those at the
    next ones, ``later_seeds``), at the speed each replay computed at (``at_replay_speed``,
    :mod:`perseus.validate.speed`; null without the servers' statistics) and, with
    ``validate --calibrate``, at the speed the calibration replay computed at before them
    (``calibrated``, :func:`_calibrate`; null without one), each of the last two the mean
    over the seeds at its speeds (``ReplaySpeed.predicted``). Over several
    replays the measured numbers are their means (:func:`perseus.simulation.combine`), and
    so are the simulations at their speeds. The batch sizes, the stages and the host's
    mechanisms are read from the simulation at the scenario's seed: the mechanisms fit on
    the replays' traces and on it (as profiled) are the front end's work per arrival, the
    lone batches' spread, the speed's drift and the wake law, the last with the
    interference of the placement's first host."""
    scenario = loaded.scenario
    prices = scenario.prices
    measured_traces = [measured_trace(r, len(scenario.placements[name]), window) for r in replays]
    per_replay = [placement_summary(t, scenario, name, window, prices) for t in measured_traces]
    measured = combine(per_replay)
    at_seeds = [placement_summary(simulated, scenario, name, window, prices), *later_seeds]
    predicted = combine(at_seeds)
    timed = [s for s in speeds if s is not None and s.predicted is not None]
    nudges = [(placement_summary(s.trace, scenario, name, window, prices),
               placement_summary(s.nudged, scenario, name, window, prices))
              for s in timed if s.nudged is not None]   # (at the replay's speed, 2% slower; one seed)
    predicted_at_speed = combine([s.predicted for s in timed]) if timed else None
    views = [r.view for r in replays if r.view is not None]
    view = merged(views) if len(views) == len(replays) else None
    joins = {"measured": batch_of_one_ms([traced_batches(t.requests, window) for t in measured_traces]),
             "simulated": batch_of_one_ms([simulated_batches(simulated, window)])}
    lateness = np.concatenate([r.log.lateness_ms for r in replays])
    lateness = lateness[np.isfinite(lateness)]
    p99_late = float(np.percentile(lateness, 99)) if len(lateness) else None
    models = {}
    for model in scenario.models:
        m, s = measured["models"][model], predicted["models"][model]
        factors = [speed.factors[model] for speed in timed if model in speed.factors]
        slopes = [speed.slopes.get(model, 0.0) for speed in timed if model in speed.factors]
        front_ends = [speed.front_ends[model] for speed in timed if model in speed.front_ends]
        s_speed = predicted_at_speed["models"][model] if predicted_at_speed and factors else None
        models[model] = {
            "measured": m, "simulated": s, "error": model_error(m, s),
            "at_replay_speed": None if s_speed is None else {
                "factor": float(np.mean(factors)), "slope": float(np.mean(slopes)),
                "front_end_factor": float(np.mean(front_ends)) if len(front_ends) == len(factors) else None,
                "simulated": s_speed, "error": model_error(m, s_speed),
                "sensitivity": _mean_sensitivity([sensitivity(at["models"][model], slow["models"][model])
                                                  for at, slow in nudges])},
            "calibrated": _at_speed_errors(model, m, calibration),
            "batch_sizes": {"measured": view.batch_histogram(model, len(replays)) if view else None,
                            "simulated": simulated_histogram(simulated, model)},
            "batch_ms": {"measured": view.batch_ms(model) if view else None,
                         "simulated": simulated_batch_ms(simulated, model),
                         "profile": profile_batch_ms(loaded, name, model)},
            "batch_of_one_ms": {kind: joins[kind].get(model) for kind in joins},
            "stages": {"measured": mean_stages([stage_summary(t.requests, model, window) for t in measured_traces]),
                       "simulated": stage_summary(simulated.requests, model, window)},
            "seed_spread": runs_apart([summary["models"][model]["latency_ms"] for summary in at_seeds]),
        }
        if len(replays) > 1:
            models[model]["replays"] = [_replay_errors(model, r, s, a, calibration)
                                        for r, a in zip(per_replay, speeds)]
            models[model]["replay_spread"] = runs_apart([r["models"][model]["latency_ms"] for r in per_replay])
    frames = {"measured": traced_requests([t.requests for t in measured_traces]),
              "simulated": traced_requests([simulated.requests])}
    work = {kind: arrival_work_ms(frame) for kind, frame in frames.items()}
    interference = loaded.profiles[scenario.placements[name][0].host_type].interference
    return {
        "hosts": len(scenario.placements[name]), "cost_per_hour": measured["cost_per_hour"],
        "replays": len(replays),
        "meets_sla": {"measured": measured["meets_sla"], "simulated": predicted["meets_sla"]},
        "host_utilization": {"measured": measured["host_utilization"], "simulated": predicted["host_utilization"]},
        "lateness_ms_p99": p99_late,
        "arrival_work_ms": work,
        "batch_spread": {kind: batch_spread(frame, work[kind]) for kind, frame in frames.items()},
        "speed_drift": {kind: speed_drift(frame, work[kind]) for kind, frame in frames.items()},
        "wake_law": {kind: wake_law(frame, interference) for kind, frame in frames.items()},
        "load_generator_limited": bool(p99_late is not None and p99_late > LATENESS_LIMIT_MS),
        "failed_requests": int(sum(np.sum(~r.log.ok) for r in replays)),
        "models": models,
    }


def _mean_sensitivity(per_replay: list[dict[str, float | None]]) -> dict[str, float | None] | None:
    """Each figure's :func:`perseus.validate.speed.sensitivity`, averaged over the replays."""
    if not per_replay:
        return None
    return {key: None if any(s[key] is None for s in per_replay) else float(np.mean([s[key] for s in per_replay]))
            for key in per_replay[0]}


def measured_trace(replayed: Replayed, hosts: int, window: Window) -> SimTrace:
    """One replay as the simulator's trace, so that the same code summarises both."""
    log = replayed.log
    span = float(np.nanmax(log.finish_s)) if np.isfinite(log.finish_s).any() else window.end_s
    busy = measured_busy_s(log, replayed.view, hosts, window, span)
    return SimTrace(log.request_table(), None, busy, span)


def _replay_errors(model: str, replayed: dict[str, Any], simulated: dict[str, Any],
                   at_speed: ReplaySpeed | None, calibrated: ReplaySpeed | None) -> dict[str, Any]:
    """One replay of several: ``model``'s latency and errors, as profiled, at the replay's
    speed and as calibrated."""
    measured = replayed["models"][model]
    return {"latency_ms": measured["latency_ms"], "error": model_error(measured, simulated),
            "at_replay_speed": _at_speed_errors(model, measured, at_speed, simulated=False),
            "calibrated": _at_speed_errors(model, measured, calibrated, simulated=False)}


def _at_speed_errors(model: str, measured: dict[str, Any], speed: ReplaySpeed | None,
                     simulated: bool = True) -> dict[str, Any] | None:
    """``model``'s measured speeds and the prediction at them (``ReplaySpeed.predicted``;
    ``simulated``, where asked) against ``measured``; None where it has no speed."""
    if speed is None or speed.predicted is None or model not in speed.factors:
        return None
    summary = speed.predicted
    return {"factor": speed.factors[model], "slope": speed.slopes.get(model, 0.0),
            "front_end_factor": speed.front_ends.get(model),
            **({"simulated": summary["models"][model]} if simulated else {}),
            "error": model_error(measured, summary["models"][model])}


def measured_busy_s(log: ReplayLog, view: ServerView | None, hosts: int, window: Window, span: float) -> np.ndarray:
    """Per host, how long its device executed batches inside the window, as the simulator
    counts it: the union of the batches' execution times from the request traces where the
    host wrote them; else the statistics' compute time summed over the run and scaled to
    the window (an upper bound where batches overlap); NaN without either."""
    busy = np.full(hosts, np.nan)
    for h in range(hosts):
        traced = (log.host == h) & np.isfinite(log.start_s) & np.isfinite(log.end_s)
        if traced.any():
            busy[h] = union_length(log.start_s[traced], log.end_s[traced], window.start_s, window.end_s)
        elif view is not None:
            busy[h] = view.compute_s(h) / span * window.length_s
    return busy


def profile_batch_ms(loaded: LoadedScenario, placement: str, model: str) -> dict[int, float]:
    """The profile's solo batch times of ``model`` on the first host type that serves it."""
    host = next(h for h in loaded.scenario.placements[placement] if model in h.models)
    curve = loaded.profiles[host.host_type].models[model].batch_latency_ms
    return {size: stats.mean for size, stats in sorted(curve.items())}


def requests_csv(outcome: Outcome) -> str:
    """Every replayed request: placement, replay (from 1; 0 is the calibration's, another
    draw of the workload), model, host, scheduled and sent time, latency, ok, error, and
    where the server traced it, when it received it and computed its batch. Of a run
    stopped by Ctrl-C, the requests it sent."""
    frames = []
    for name, k, log in outcome.replays():
        frame = _requests_frame(name, k, log, outcome.host_names[name])
        frames.append(frame[np.isfinite(log.sent_s)] if outcome.interrupted else frame)
    buffer = io.StringIO()
    (pd.concat(frames) if frames else pd.DataFrame()).to_csv(buffer, index=False, float_format="%.6f")
    return buffer.getvalue()


def _requests_frame(placement: str, replay: int, log: ReplayLog, names: list[str]) -> pd.DataFrame:
    """One replay's rows of :func:`requests_csv`; ``names`` are its hosts'."""
    return pd.DataFrame({
        "placement": placement, "replay": replay,
        "model": [log.models[m] for m in log.model],
        "host": [names[h] if h >= 0 else "" for h in log.host],
        "scheduled_s": log.scheduled_s, "sent_s": log.sent_s,
        "latency_ms": (log.finish_s - log.sent_s) * 1e3,
        "ok": log.ok,
        "error": [log.errors.get(i, "") for i in range(len(log.model))],
        "received_s": log.received_s, "compute_start_s": log.start_s, "compute_end_s": log.end_s,
    })


def write_outputs(outcome: Outcome, json_path: Path | None, csv_path: Path) -> None:
    import json

    write_atomic(csv_path, requests_csv(outcome))
    if json_path is not None:
        write_atomic(json_path, json.dumps(outcome.results, indent=2, default=_plain))


def _plain(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(type(value))
