"""The speed a host computed at during a replay, against its profile.

A shared machine's speed drifts: on the embedded host, the live batches of one 130 s
replay took 0.83 to 1.14 times what the simulation as profiled gave them, from one replay
to the next within hours (``bench_validate.py``, eleven runs, 2026-11-29). The
simulation as profiled carries that drift into its error, so ``validate`` also
simulates at the speed the replay itself computed at, to show the model's error apart
from the machine's.

The speed is per model a law in the batch size: a batch of ``k`` computed ``factor * k **
slope`` times what the simulation gave it, fit to the compute time of its measured
batches by size over the simulation's, weighted by the measured counts: where the hosts
traced the replay, the batches that started in the window the errors are read in, against
the simulation's in the same window; else Triton's statistics over the whole replay,
warm-up included (:func:`measured_compute` says why the window). The profile is rescaled
by it (``Profile.at_speeds``) and simulated again. A host's speed moves its heat (a slower
host is busier, so warmer, :mod:`perseus.sim.service`) and how much its models overlap, so
the speed is solved for over ``SPEED_ROUNDS`` simulations (:func:`replay_speed`). Why a slope
and not one factor for every size: the curve's shape moves with the machine's state
(ResNet-18's batch 8 over batch 1 read 6.1-9.5 in live replays, 6.63 in the profile), and
in the two ``bench_validate.py`` runs kept at 13:25 and 14:12 on 2026-12-06, live over
simulated (as profiled) compute of batches of 2 to 4 was mostly 1.0 to 1.2 times that of
batches of 1 (0.85 to 1.4 over all 36 model-replay rows). Re-simulated on the arrivals of
nine kept ``bench_validate.py`` runs of that day (81 model-case rows, each replay solved
on its own traced batches, the front end as profiled, against the mean of the replays),
the mean absolute p50 / p95 / p99 error at replay speed was 3.1 / 13.0 / 19.8% with one
factor (10 rows within all three targets) and 2.8 / 10.9 / 16.0% with the law (19 rows),
better at p99 in seven of the nine runs. Its price is noise where the truth is one
factor: the slope is fit to the fewer batches of 2 and more, which each simulation draws
anew, so it reads a few hundredths and moves the factor at batch 1 by up to about 1%
(``tests/test_validate_units.py``). Nor is a 60 s calibration's slope mostly noise:
shrunk towards the profile's shape (``k`` times the slope), the calibrated predictions
of the ``bench_validate.py --seed 11`` run of 2026-12-07 22:58 (nine model-case rows,
each calibration against the mean of the two replays after it) were 5.0 / 10.3 / 10.8%
off at p50 / p95 / p99 with ``k`` = 1, 4.9 / 11.3 / 12.9% with 0.5 and 5.3 / 15.8 /
18.1% with 0; each replay's first 60 s, solved as a calibration, predicting the other
replay (18 rows) 2.9 / 7.5 / 10.0%, 3.5 / 9.8 / 12.9% and 3.6 / 13.3 / 17.5%. Why every
batch and not only those that overlapped no other model's: on the shared cases of that
run (12 model-replay rows, each replay at its own speed against itself), the factor fit
on lone batches alone took the mean absolute p50 error from 1.9 to 1.3% (mean signed
-1.2 to +0.1%) but p95 / p99 from 3.2 / 4.4 to 6.2 / 8.6% (rows within the three latency
targets 9 to 5): the simulated overlap runs longer than the live one (shared Gamma,
replay 1: MobileNetV2's batches of one that overlapped a ResNet-18 batch 6.63 ms at the
median against 5.58 live), and the factor fit on every batch trades that against lone
batches 5% short (3.20 against 3.38 ms at the mean), which is most of that row's p50
error (-4.4%); so in the ``--seed 17`` run of 23:48 (its batches of one that started
beside a running ResNet-18 batch 6.97 against 6.40 ms at the median, lone ones 3.54
against 3.67 ms at the mean; p50 -3.1%). The shared device's joins
(:mod:`perseus.sim.device`), not the speed, are what to mend there: since then a backlog
batch draws the wake law too, which took that row's p50 to -3.7% and -2.5% (both
comparisons above were made before it). Assumptions: the host computed cold starts and
switches as its batch 1, and each size at one speed over the whole replay; a model
served by several hosts gets the law of all of them together. A profile's batch spread
and speed drift are drawn anew in each simulation as the speed reorders its events, so
the solve is as noisy as one simulation's batch times: 60 s of
``scenarios/co-serving.yaml``'s shared host computing 1.25 times as long were read back
as 1.272 and 1.266 for its two models with one factor (1.253 and 1.247 without those two
draws).

The front end drifts with the machine too: on embedded hosts, whose request traces split
each latency (:func:`perseus.validate.compare.stage_summary`), the live front end was 0.70
to 1.18 times the simulated one at replay speed over ten kept ``bench_validate.py`` runs
of 2026-11-29 (90 model-case rows), with every live per-state median moving together by
up to 0.15 ms between runs. So where the traces give the measured front end, each model's
times outside compute are then rescaled by the measured median over the simulated one
(``front_end``, ``ModelProfile.with_front_end``) and simulated once more. Re-simulated on
those runs with the means, the mean absolute p50 / p95 / p99 error at replay speed went
from 2.3 / 3.6 / 6.8% to 2.1 / 3.3 / 6.8%, and the rows within all three targets from 39
to 44 of 90.

Why the median: the replays' front end has another shape than the profile's. In the
``bench_validate.py`` run kept at 2026-12-07 08:25, a one-model Poisson replay's
ResNet-18 requests sent on an idle core took 0.57-0.60 ms to be received at the median
and 0.24-0.25 ms to be answered, where the profile's replay (07:31, four models at once)
measured 0.43 and 0.13 ms; for the same quiet time before the send, where that was under
40 ms, 0.09-0.14 ms more to be received and 0.05-0.18 ms more to be answered. Its busy
core's tail was the lighter one: receives of p95 1.8-3.2 ms against 3.4 ms. Rescaled to
the replay's mean, the simulated body stayed short (its receive's and response's medians
0.10 and 0.08 ms under the replay's, together 1.4% of the p50 latency), and the p50s at
replay speed ran short. Re-simulated on the kept arrivals of the six runs of that day
with receives (04:52 to 09:08, 54 model-case rows, against the mean of their replays,
validate's seed), the mean absolute p50 / p95 / p99 error at replay speed went from 1.7
/ 2.0 / 2.9% (mean signed -1.5 / +0.4 / +1.0%) with the means to 1.0 / 2.4 / 3.0% (-0.5
/ +1.1 / +1.5%) with the medians, the rows within all three latency targets from 42 to
47; the price is a heavier tail where the front end is a large part of the latency
(shared spiky MobileNetV2's p95 in the 05:37 run from +4.8 to +7.7%). On the three runs
made with the medians (10:06, 10:43, 11:27; 27 rows re-simulated alike) the trade was
even: 1.6 / 1.7 / 3.2% (mean signed p50 -1.3%, 24 rows) with the means, 0.9 / 1.8 / 4.0%
(-0.3%, 22 rows) with the medians, the Gamma cases' p99s the longer (shared Gamma
ResNet-18's at 11:27 +5.4% against +15.3%), where the front end ran 28-42% longer than
profiled and its tail, rescaled with its body, ran long. Assumption: the front end's
shape is the profile's; a rescale of its body apart from its tail would drop it.
Nor did the replay's own shape do better: the spreads by core state fit on the replay's
traces as the profiler fits its own (:func:`perseus.profile.frontend.front_end_by_core`)
in place of the profile's, re-simulated on two kept runs of 2026-12-08 (01:53, ``--seed
29``, six cases; 02:43, ``--seed 31``, the shared cases; each replay against itself), took
the mean absolute p50 / p95 / p99 error from 1.1 / 1.2 / 2.0% to 1.5 / 1.7 / 2.1% (17 of
18 rows within the three latency targets either way) and from 1.4 / 2.6 / 4.8% to 1.6 /
3.1 / 5.7% (8 of 12 either way), although in the second run's shared Poisson case the
simulated answers took 1.40-1.51 ms at p90 against 0.59-0.63 ms live (the profile's
four-model replay answered more slowly), where ResNet-18's p50 ran +1.6 to +2.5% long.

Assumption: the front end changes little which batch a request joins (only its receive
delays its queueing, :mod:`perseus.sim.frontend`), so one simulation gives the measured
median (to 1% in ``tests/test_validate_units.py``); its shape and its split by the
core's state stay the profile's, and the stage table of ``validate`` shows them as
profiled.

The host wanders over seconds more during the replays than during its profile: the
profile of 2026-12-06 13:17 read a drift of sigma 0.068 over 4.3 s
(:mod:`perseus.sim.speed`), and the 60 replays of the five ``bench_validate.py`` runs
kept with it (13:21-17:29) 0.04-0.26 (median 0.11) over 0.4-12 s (median 2.9 s). A
drift drawn anew, even one fit on the replay itself, does not put the slow stretches
where the replay had them, and a spiky replay's tail is made in a few spikes: in the
one-model spiky replays of 2026-12-06 20:42, the p95 of each 5 s spike ranged from 65
to 320 ms live. So at the replay's speed the simulation follows the speed the replay
measured, bin by bin (:func:`following_the_replay`, ``PATH_BIN_S``; as profiled where
the traces give none). Re-simulated on the kept arrivals of nine runs (81 model-case
rows, each with the profile it ran with), the mean absolute p50 / p95 / p99 error at
replay speed was 1.5 / 5.3 / 8.8% with the drift fit on the replay (32 rows within all
three latency targets) and 1.1 / 4.8 / 7.3% following its path in 0.5 s bins (50 rows):
better on every kind of case at p50, and at p99 on all but one-model Poisson (2.8% both
ways) and the shared spiky host (8.0 to 12.1%, its rows within all three from 2 to 6 of
18). Read more roughly (every batch that overlapped no other model's, the front end's
work left in), bins of 1 s gave 1.2 / 4.8 / 8.0% and of 0.5 s 1.2 / 4.9 / 6.9%.
Assumption: the path of a placement's hosts of one type is their mean, as the law is.
A calibration replay (``validate --calibrate``) has no path to give the replays after it,
so there the hosts draw the drift law fit on the calibration instead of the profile's.
On the AMD EPYC host of 2026-12-07 (the ``bench_validate.py`` run kept at 15:10, its
profile measured at 14:48-15:09 and summarised again at 15:54), each replay simulated at
its own speed without its path gave 2.0 / 5.7 / 11.4% with the profile's drift (sigma
0.033 over 15 s; 1 of 9 model-case rows within all three latency targets) and 1.6 / 2.9
/ 9.2% with the drift fit on the replay (sigma 0.02-0.13 over 0.6-30 s; 2 of 9), against
1.6 / 3.6 / 8.2% following its path (4 of 9). Live, the calibrated rows were 8.7 / 16.7
/ 21.9% off with the profile's drift (that run, the summary of 15:09) and 7.9 / 17.6 /
19.0% with the calibration's (15:58, the summary of 15:54), 0 of 9 within the targets
either way: there a 60 s calibration caught the host at another speed than the replays,
and fit its slope by size and its wake law on too few batches (the README has a shared
Poisson calibration taken apart).

Around that path the batches spread as the replay's own lone batches did around their
neighbours (``batch_spread``, fit as the profiler fits it, :mod:`perseus.profile.spread`):
the spread moves with the machine's state as its speed does. In the two
``bench_validate.py`` runs kept on 2026-12-07 (01:59 and 02:47, a quieter machine than the
day before), each case's replays spread p5 / p95 / p99 0.85-0.93 / 1.05-1.12 / 1.10-1.25,
where the profiles they ran with read 0.81 / 1.24 / 1.45 (2026-12-06 13:17) and 0.83 /
1.18 / 1.29 (2026-12-07 02:43), and the simulation at replay speed, drawing from the
profile's, put the one-model Poisson host's p95 / p99 5.7 / 7.2% and 7.8 / 9.2% above
the replays'. Re-simulated on those runs' arrivals (18 model-case rows, each with the
profile it ran with, seeds +0 / +1), the mean absolute p50 / p95 / p99 error at replay
speed went from 1.1 / 2.7 / 4.5% and 1.2 / 2.8 / 4.3% to 1.3 / 2.0 / 3.5% and 1.4 / 2.1 /
3.4%, and the rows within all three latency targets from 15 and 15 to 18 and 17; the p50
a little lower (mean signed -0.9 and -1.2%, from +0.1 and -0.0%), as a narrower spread
queues less.

And a batch that wakes beside another model's running one shares the core as the replay's
did (``wake_law``, fit on the replay's joins as the profiler fits it on its own replay,
:mod:`perseus.profile.wakeup`). The profile's replay runs four models at once; the shared
cases' replays, two. In the six ``bench_validate.py`` runs kept on 2026-12-07 (04:52 to
09:08), the joins of the 18 shared replays fit preempt 0.47-0.63 (median 0.55), slice
2.75-5.25 ms (median 3.0) and sharing 0.90-1.06, where the profiles they ran with read
0.68 / 3.25 ms / 1.07 and 0.67 / 3.0 ms / 1.02: a woken batch took the core from the
running one less often than in the profile's replay. Re-simulated at replay speed on
those runs' arrivals (the 36 shared model-case rows, validate's seed, against the mean of
their replays), the mean absolute p50 / p95 / p99 error went from 1.0 / 2.7 / 3.6% to 0.8
/ 1.7 / 3.0%, the mean signed one from -0.2 / +1.7 / +2.5% to +0.1 / +0.2 / +0.6%, and
the rows within all three latency targets from 32 to 34 (shared Poisson MobileNetV2's p99
at 07:44 and 08:25 from +7.2 and +7.0% to +4.0 and +4.9%). On the kept arrivals of the
two runs made with it (12:52 and 13:37, six shared rows each), the profile's law would
have given 2.3 / 4.8 / 5.9% and 2.7 / 3.8 / 4.8% (2 and 1 rows within the three latency
targets), the replay's gave 1.5 / 2.6 / 3.9% and 2.2 / 3.6 / 4.4% (4 and 3). Partly why
the profile's law preempts more: a woken batch takes the core more often the longer the
running batch has run (the README has the figures), and the profile's replay, with VGG-11
and ResNet-50 among its models, has more of its joins beside an old batch; but a law fit
on its joins beside young batches alone did no better than its own. A host of one model
has no joins and keeps its profile's law. Assumption: one law for every host of the placement
(fit on all of them, with each host type's interference).

How far the machine's speed alone moves the prediction: the simulation is run once more
with every model ``SPEED_NUDGE`` slower than the replay's speed (``ReplaySpeed.nudged``),
and :func:`sensitivity` gives, per latency figure, its change per 1% slower host. Near
saturation it is large (an M/D/1 queue at 90% load: its mean latency rises 11% for a
host 1% slower, measured over a 2% step; at 30%: 1.3%), so a host whose speed wanders by
a few percent between replays leaves the tail unpredictable by that many times as much,
whatever the model.

Why not a measurement beside the replay: a burst of batch-1 requests just before and
after each replay said the host was 4% to 30% slower than profiled, yet the replay's own
batches did not follow it (2026-11-29, ``bench_validate.py`` runs 1 and 2: rescaled by
it, the shared spiky MobileNetV2 p95 went from +3% to +45%).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from perseus.config.profile import Profile
from perseus.config.scenario import LoadedScenario
from perseus.metrics import Window
from perseus.profile.drift import fit_speed_drift, measured_speed_path
from perseus.profile.spread import fit_batch_spread
from perseus.profile.wakeup import fit_wake_law, replay_joins
from perseus.sim.trace import RequestTable, SimTrace
from perseus.simulation import simulate_one
from perseus.validate.compare import (arrival_work_ms, simulated_batch_ms, stage_summary, traced_batches,
                                     traced_requests)
from perseus.validate.observe import ServerView

SPEED_ROUNDS = 3
SPEED_NUDGE = 0.02   # how much slower than the replay's speed the sensitivity is read at
MIN_BATCHES = 10     # measured batches a size needs to enter the slope by size
PATH_BIN_S = 0.5     # the bins of the speed path a replay measured (module docstring)


def size_residuals(measured_ms: dict[int, float], measured_counts: dict[int, int],
                   simulated_ms: dict[int, float]) -> list[tuple[int, int, float]]:
    """Per batch size both ran and the replay measured: (size, measured batches, log of
    measured over simulated compute)."""
    return [(k, measured_counts[k], float(np.log(measured_ms[k] / simulated_ms[k])))
            for k in sorted(measured_ms) if k in simulated_ms and measured_counts.get(k) and simulated_ms[k] > 0]


def size_slope(points: list[tuple[int, int, float]]) -> float | None:
    """The slope of ``log factor`` on ``log size`` through (size, batches, log factor),
    least squares weighted by the batches, over the sizes with at least ``MIN_BATCHES``
    (None with fewer than two such sizes)."""
    kept = [(k, n, y) for k, n, y in points if n >= MIN_BATCHES]
    if len({k for k, _, _ in kept}) < 2:
        return None
    sizes, batches, logs = (np.array(column, dtype=float) for column in zip(*kept))
    return float(np.polyfit(np.log(sizes), logs, 1, w=np.sqrt(batches))[0])   # polyfit weighs residuals


@dataclass(frozen=True)
class ReplaySpeed:
    """Per model, how many times as long as its profile a replay computed a batch of
    ``k``: ``factors * k ** slopes``; and spent outside compute (``front_ends``, where
    traced); and the simulation at both that solved them."""

    factors: dict[str, float]
    trace: SimTrace
    front_ends: dict[str, float] = field(default_factory=dict)
    nudged: SimTrace | None = None   # every model ``SPEED_NUDGE`` slower than ``factors``
    slopes: dict[str, float] = field(default_factory=dict)
    predicted: dict[str, Any] | None = None   # the placement's summary at these speeds, the mean over seeds


def sensitivity(at_speed: dict[str, Any], nudged: dict[str, Any]) -> dict[str, float | None]:
    """Per latency figure of one model's summaries at the replay's speed and ``SPEED_NUDGE``
    slower: how many percent it rises per 1% slower host (None where either is missing)."""
    return {key: None if not at_speed["latency_ms"][key] or nudged["latency_ms"][key] is None else
            (nudged["latency_ms"][key] / at_speed["latency_ms"][key] - 1.0) / SPEED_NUDGE
            for key in ("mean", "p50", "p95", "p99")}


def at_speeds(loaded: LoadedScenario, factors: dict[str, float], front_ends: dict[str, float] | None = None,
              slopes: dict[str, float] | None = None) -> LoadedScenario:
    """The scenario with every host type's profile rescaled by ``factors`` and ``slopes``
    (compute, per model: a batch of ``k`` ``factor * k ** slope`` times as long) and
    ``front_ends`` (times outside compute)."""
    profiles = {host_type: profile.at_speeds(factors, front_ends, slopes)
                for host_type, profile in loaded.profiles.items()}
    return loaded.model_copy(update={"profiles": profiles})


Rescale = Callable[[LoadedScenario, dict[str, float], dict[str, float]], LoadedScenario]


def computing_at(loaded: LoadedScenario, factors: dict[str, float], slopes: dict[str, float]) -> LoadedScenario:
    """The scenario on hosts that compute by ``factors`` and ``slopes`` (:func:`at_speeds`),
    the front ends as profiled: how ``replay_speed`` rescales by default."""
    return at_speeds(loaded, factors, slopes=slopes)


def replay_speed(loaded: LoadedScenario, placement: str, arrivals: dict[str, np.ndarray], seed: int,
                 window: Window, simulated: SimTrace, measured_ms: dict[str, dict[int, float]],
                 measured_counts: dict[str, dict[int, int]],
                 measured_front_end_ms: dict[str, float] | None = None, *,
                 batches_starting: tuple[float, float] | None = None,
                 rescale: Rescale = computing_at) -> ReplaySpeed:
    """The speeds a replay ran at, and the simulation at them; ``simulated`` is the
    simulation of ``loaded`` at the profile's speed, ``measured_front_end_ms`` each traced
    model's median front end; ``batches_starting``: the measured batches are those that
    started within it (s), and the simulated ones are taken from the same span;
    ``rescale``: how the factors and slopes enter the profile (a host that computes slower
    or faster, by default).

    Per model, the speed is a law in the batch size, ``log f(k) = log factor + slope * log
    k``, fit to the log of measured over simulated compute by size (:func:`size_residuals`),
    weighted by the measured batches. Its level (the mean log factor over the measured
    batches) solves ``ratio = 1``, where ``ratio`` is the measured over the simulated
    compute at that level (their mean log ratio): by the secant method on the level against
    that log, from the profile's speed and, after it, one plain step (:func:`_secant`).
    Compute does not scale in proportion to the speed (a slower host is warmer, and its
    models overlap more), so the ratio alone overshoots or falls short. Its slope takes,
    each round, the slope of the residuals by size (:func:`size_slope`; none below two sizes
    of ``MIN_BATCHES``). The front end's factor is then the measured median over the
    simulated one at those speeds (the module docstring)."""
    tried: dict[str, list[tuple[float, float]]] = {}   # per model: (level, mean log ratio) tried
    factors: dict[str, float] = {}
    slopes: dict[str, float] = {}
    trace = simulated
    for _ in range(SPEED_ROUNDS):
        for model in measured_ms:
            points = size_residuals(measured_ms[model], measured_counts[model],
                                    simulated_batch_ms(trace, model, batches_starting))
            if not points:
                continue
            sizes, counts, logs = (np.array(column, dtype=float) for column in zip(*points))
            centre = float(np.average(np.log(sizes), weights=counts))   # the measured batches' mean log size
            slope = slopes.get(model, 0.0)
            history = tried.setdefault(model, [])
            history.append((float(np.log(factors.get(model, 1.0))) + slope * centre,
                            float(np.average(logs, weights=counts))))
            slope += size_slope(points) or 0.0
            factors[model] = float(np.exp(_secant(history) - slope * centre))
            slopes[model] = slope
        trace = simulate_one(rescale(loaded, factors, slopes), placement, arrivals, seed, window)
    front_ends = {model: ms / simulated_ms for model, ms in (measured_front_end_ms or {}).items()
                  if (simulated_ms := median_front_end_ms(trace.requests, model, window))}
    if front_ends:
        trace = simulate_one(at_speeds(rescale(loaded, factors, slopes), {}, front_ends), placement, arrivals,
                             seed, window)
    return ReplaySpeed(factors, trace, front_ends, slopes=slopes)


def measured_compute(view: ServerView, table: RequestTable, models: list[str], window: Window
                     ) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]], tuple[float, float] | None]:
    """Per model, a replay's mean compute (ms) and its batches, by batch size, and the span
    (s) they started in: from the traced batches that started in the window where every
    model was traced, else Triton's statistics over the whole replay (span None).

    Why the window: the first seconds after a deploy compute slower (a one-model spiky
    replay of 2026-12-06 18:24 computed its batches of 1 at 15.4 ms in its 10 s of
    warm-up and 13.3 ms after), and the errors leave them out, so a speed read over the
    whole replay set the simulation slower than the replay was where it was compared.
    Re-simulated on the kept arrivals of the eight ``bench_validate.py`` runs of 2026-12-06
    with traces (72 model-case rows, each with the profile it ran with), the mean absolute
    p50 / p95 / p99 error at replay speed went from 1.7 / 6.5 / 8.3% to 1.4 / 5.0 / 8.1%
    (mean signed p95 from +1.8 to +0.4%; one-model spiky ResNet-18's p95 in the 18:24 run
    from +34% to -13%, in the 18:53 run from +14% to +6%)."""
    traced = traced_batches(table, window)
    if not set(models) <= set(traced["model"]):
        return ({m: view.batch_ms(m) for m in models}, {m: view.batch_histogram(m) for m in models}, None)
    traced = traced.assign(ms=(traced["end"] - traced["start"]) * 1e3)
    by_size = {m: rows.groupby("size")["ms"].agg(["mean", "size"]) for m, rows in traced.groupby("model")}
    return ({m: {int(k): float(v) for k, v in stats["mean"].items()} for m, stats in by_size.items()},
            {m: {int(k): int(v) for k, v in stats["size"].items()} for m, stats in by_size.items()},
            (window.start_s, window.end_s))


def following_the_replay(loaded: LoadedScenario, replayed: RequestTable, window: Window, *,
                         path: bool = True) -> LoadedScenario:
    """The scenario whose hosts compute at the speed the replay measured, bin by bin
    (``Profile.speed_path``, :func:`perseus.profile.drift.measured_speed_path` on its traced
    batches, centred on the window), their batches spread around it as the replay's lone
    batches did (``Profile.batch_spread``, :func:`perseus.profile.spread.fit_batch_spread`),
    and a batch that wakes beside another model's shares the core as the replay's did
    (``Profile.wake_law``, :func:`perseus.profile.wakeup.fit_wake_law`, with each host
    type's interference); the module docstring says why. Each as profiled where the traces
    give none. Without ``path``, for a run other than the replay, whose seconds do not line
    up with its own (``validate --calibrate``), no speed path: the hosts draw their speed's
    wander from the law fit on the replay (``Profile.speed_drift``,
    :func:`perseus.profile.drift.fit_speed_drift`) instead."""
    frame = traced_requests([replayed])
    if frame is None:
        return loaded
    work_ms = arrival_work_ms(frame) or 0.0
    measured = {"batch_spread": fit_batch_spread(frame, work_ms)}
    if path:
        measured["speed_path"] = measured_speed_path(frame, work_ms, PATH_BIN_S, (window.start_s, window.end_s))
    else:
        measured["speed_drift"] = fit_speed_drift(frame, work_ms)

    def following(profile: Profile) -> Profile:
        law = fit_wake_law(replay_joins(frame, profile.interference))
        update = {key: value for key, value in {**measured, "wake_law": law}.items() if value is not None}
        return profile.model_copy(update=update)

    return loaded.model_copy(update={"profiles": {host_type: following(profile)
                                                  for host_type, profile in loaded.profiles.items()}})


def nudged(loaded: LoadedScenario, placement: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
           speed: ReplaySpeed) -> ReplaySpeed:
    """``speed`` with its ``nudged`` simulation: every model ``SPEED_NUDGE`` slower than the
    replay's speed at every batch size, the front ends as at that speed."""
    slower = {model: speed.factors.get(model, 1.0) * (1.0 + SPEED_NUDGE) for model in loaded.scenario.models}
    trace = simulate_one(at_speeds(loaded, slower, speed.front_ends, speed.slopes), placement, arrivals, seed, window)
    return replace(speed, nudged=trace)


def median_front_end_ms(table: RequestTable, model: str, window: Window) -> float | None:
    """``model``'s median front end (ms) in a run's request table, the measure the front
    end's factor matches (the module docstring says why the median); None where the run
    has no batch times."""
    stages = stage_summary(table, model, window)
    return stages["front_end"]["p50"] if stages else None


def _secant(tried: list[tuple[float, float]]) -> float:
    """The next level (mean log factor) from the points (level, mean log ratio) tried so
    far: between the last two where they bracket the root, else one plain step (each
    simulation draws its own batches, so a secant through two close points can throw far)."""
    x1, g1 = tried[-1]
    if len(tried) < 2 or tried[-2][1] * g1 >= 0:
        return x1 + g1
    x0, g0 = tried[-2]
    return x1 - g1 * (x1 - x0) / (g1 - g0)
