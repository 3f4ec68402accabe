"""The speed a host computed at during a replay, against its profile.

A shared machine's speed drifts: on the embedded host, the live batches of one 130 s
replay took 0.83 to 1.14 times what the simulation as profiled gave them, from one replay
to the next within hours (``bench_validate.py``, eleven runs, 2026-11-29). The
simulation as profiled carries that drift into its error, so ``validate`` also
simulates at the speed the replay itself computed at, to show the model's error apart
from the machine's.

The speed is one factor per model: the compute time of its measured batches (Triton's
statistics over the replay, by batch size) over what the simulation gave batches of the
same sizes, weighted by the measured counts. The profile is rescaled by it
(``Profile.at_speeds``) and simulated again. A host's speed moves its heat (a slower host
is busier, so warmer, :mod:`perseus.sim.service`) and how much its models overlap, so the
speed is solved for over ``SPEED_ROUNDS`` simulations (:func:`replay_speed`). Assumptions: the host computed every batch
size, cold start and switch slower or faster by one factor over the whole replay; a
model served by several hosts gets the factor of all of them together. A profile's batch
spread and speed drift are drawn anew in each simulation as the speed reorders its
events, so the solve is as noisy as one simulation's batch times: 60 s of
``scenarios/co-serving.yaml``'s shared host computing 1.25 times as long were read back as
1.272 and 1.266 for its two models (1.253 and 1.247 without those two draws).

The front end drifts with the machine too: on embedded hosts, whose request traces split
each latency (:func:`perseus.validate.compare.stage_summary`), the live front end was 0.70
to 1.18 times the simulated one at replay speed over ten kept ``bench_validate.py`` runs
of 2026-11-29 (90 model-case rows), with every live per-state median moving together by
up to 0.15 ms between runs. So where the traces give the measured front end, each model's
times outside compute are then rescaled by the measured mean over the simulated one
(``front_end``, ``ModelProfile.with_front_end``) and simulated once more. Re-simulated on
those runs, the mean absolute p50 / p95 / p99 error at replay speed went from 2.3 / 3.6 /
6.8% to 2.1 / 3.3 / 6.8%, and the rows within all three targets from 39 to 44 of 90.
Assumption: the front end delays responses but does not change which batch a request
joins (as :mod:`perseus.sim.service` models it), so one simulation gives the measured mean;
its shape and its split by the core's state stay the profile's, and the stage table of
``validate`` shows them as profiled.

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

from perseus.config.scenario import LoadedScenario
from perseus.metrics import Window
from perseus.sim.trace import SimTrace
from perseus.simulation import simulate_one
from perseus.validate.compare import simulated_batch_ms, stage_summary

SPEED_ROUNDS = 3
SPEED_NUDGE = 0.02   # how much slower than the replay's speed the sensitivity is read at


def compute_ratio(measured_ms: dict[int, float], measured_counts: dict[int, int],
                  simulated_ms: dict[int, float]) -> float | None:
    """Measured over simulated compute, for the batch sizes both ran, weighted by the
    measured batches; None without a common size."""
    sizes = [k for k in measured_ms if k in simulated_ms and measured_counts.get(k)]
    if not sizes:
        return None
    counts = np.array([measured_counts[k] for k in sizes], dtype=float)
    measured = float(np.dot(counts, [measured_ms[k] for k in sizes]))
    simulated = float(np.dot(counts, [simulated_ms[k] for k in sizes]))
    return measured / simulated if simulated > 0 else None


@dataclass(frozen=True)
class ReplaySpeed:
    """Per model, how many times as long as its profile a replay computed (``factors``) and
    spent outside compute (``front_ends``, where traced), and the simulation at both."""

    factors: dict[str, float]
    trace: SimTrace
    front_ends: dict[str, float] = field(default_factory=dict)
    nudged: SimTrace | None = None   # every model ``SPEED_NUDGE`` slower than ``factors``


def sensitivity(at_speed: dict[str, Any], nudged: dict[str, Any]) -> dict[str, float | None]:
    """Per latency figure of one model's summaries at the replay's speed and ``SPEED_NUDGE``
    slower: how many percent it rises per 1% slower host (None where either is missing)."""
    return {key: None if not at_speed["latency_ms"][key] or nudged["latency_ms"][key] is None else
            (nudged["latency_ms"][key] / at_speed["latency_ms"][key] - 1.0) / SPEED_NUDGE
            for key in ("mean", "p50", "p95", "p99")}


def at_speeds(loaded: LoadedScenario, factors: dict[str, float],
              front_ends: dict[str, float] | None = None) -> LoadedScenario:
    """The scenario with every host type's profile rescaled by ``factors`` (compute, per
    model) and ``front_ends`` (times outside compute)."""
    profiles = {host_type: profile.at_speeds(factors, front_ends) for host_type, profile in loaded.profiles.items()}
    return loaded.model_copy(update={"profiles": profiles})


Rescale = Callable[[LoadedScenario, dict[str, float]], LoadedScenario]


def replay_speed(loaded: LoadedScenario, placement: str, arrivals: dict[str, np.ndarray], seed: int,
                 window: Window, simulated: SimTrace, measured_ms: dict[str, dict[int, float]],
                 measured_counts: dict[str, dict[int, int]],
                 measured_front_end_ms: dict[str, float] | None = None, *,
                 batches_starting: tuple[float, float] | None = None,
                 rescale: Rescale = at_speeds) -> ReplaySpeed:
    """The speeds a replay ran at, and the simulation at them; ``simulated`` is the
    simulation as profiled, ``measured_front_end_ms`` each traced model's mean front end;
    ``batches_starting``: the measured batches are those that started within it (s), and
    the simulated ones are taken from the same span; ``rescale``: how the factors enter
    the profile (a host that computes slower or faster, by default).

    Per model, the speed ``f`` solves ``ratio(f) = 1``, where ``ratio`` is the measured
    compute over the simulation's at speed ``f``: by the secant method on ``log f``
    against ``log ratio``, from ``f = 1`` and, after it, ``f = ratio(1)`` (:func:`_secant`). Compute does not
    scale in proportion to the speed (a slower host is warmer, and its models overlap
    more), so the ratio alone overshoots or falls short. The front end's factor is then the
    measured mean over the simulated one at those speeds (the module docstring)."""
    logs: dict[str, list[tuple[float, float]]] = {}   # per model: (log f, log ratio) tried
    factors: dict[str, float] = {}
    trace = simulated
    for _ in range(SPEED_ROUNDS):
        for model in measured_ms:
            ratio = compute_ratio(measured_ms[model], measured_counts[model],
                                  simulated_batch_ms(trace, model, batches_starting))
            if ratio is None:
                continue
            tried = logs.setdefault(model, [])
            tried.append((float(np.log(factors.get(model, 1.0))), float(np.log(ratio))))
            factors[model] = float(np.exp(_secant(tried)))
        trace = simulate_one(rescale(loaded, factors), placement, arrivals, seed, window)
    front_ends = {model: ms / simulated_ms for model, ms in (measured_front_end_ms or {}).items()
                  if (simulated_ms := _front_end_ms(trace, model, window))}
    if front_ends:
        trace = simulate_one(at_speeds(rescale(loaded, factors), {}, front_ends), placement, arrivals, seed, window)
    return ReplaySpeed(factors, trace, front_ends)


def nudged(loaded: LoadedScenario, placement: str, arrivals: dict[str, np.ndarray], seed: int, window: Window,
           speed: ReplaySpeed) -> ReplaySpeed:
    """``speed`` with its ``nudged`` simulation: every model ``SPEED_NUDGE`` slower than the
    replay's speed, the front ends as at that speed."""
    slower = {model: speed.factors.get(model, 1.0) * (1.0 + SPEED_NUDGE) for model in loaded.scenario.models}
    trace = simulate_one(at_speeds(loaded, slower, speed.front_ends), placement, arrivals, seed, window)
    return replace(speed, nudged=trace)


def _front_end_ms(trace: SimTrace, model: str, window: Window) -> float | None:
    stages = stage_summary(trace.requests, model, window)
    return stages["front_end"]["mean"] if stages else None


def _secant(tried: list[tuple[float, float]]) -> float:
    """The next ``log f`` from the points (log f, log ratio) tried so far: between the
    last two where they bracket the root, else one plain step (each simulation draws its
    own batches, so a secant through two close points can throw far)."""
    x1, g1 = tried[-1]
    if len(tried) < 2 or tried[-2][1] * g1 >= 0:
        return x1 + g1
    x0, g0 = tried[-2]
    return x1 - g1 * (x1 - x0) / (g1 - g0)
