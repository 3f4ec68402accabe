"""How long a batch computes, and what each request costs outside compute.

Batch time (one batch alone on the device, one busy instance) comes from the profile's
curve: the mean for a size is interpolated linearly between measured sizes; outside the
measured range it follows the linear ``fit`` when the profile has one, else the line
through the two nearest measured points. Its spread follows the profile's
``service_time`` (``ModelProfile.service_time_kind``):

* ``deterministic`` - always the mean;
* ``exponential`` - exponential with that mean (for M/M/c checks);
* ``lognormal`` - lognormal with that mean and the measured standard deviation, or the
  spread that puts the measured p95 at the lognormal's 95th percentile;
* ``empirical`` - the measured spread: a piecewise-linear quantile function through the
  measured p50, p95 and p99 (tails extended linearly), rescaled so that its mean is the
  measured mean; with only a standard deviation measured, lognormal with it.
  Sizes between measured ones use the nearest measured size's shape. Where the profile
  measured the host's open-loop spread (``Profile.batch_spread``,
  :mod:`perseus.profile.spread`), every size draws from that instead, through its p5 ...
  p99 (tails extended linearly), rescaled to the size's mean.

Cold start (``cold_start``, measured at batch 1 after think times, model alone; a model
that the profile's open-loop replay measured has none, and its batches compute at their
warm time: :func:`perseus.profile.summary.model_profiles` says why): each measured think
time is a steady duty cycle, ``compute / (compute + rest)``, the share of time the model
computed. A host's *heat* is the share of time its device executed any
batch, through an exponential memory of ``HEAT_MEMORY_S``: it decays while the device
idles and climbs towards one while it is busy (``SharedDevice.heat_at``). Each batch
computes ``compute(heat) / compute(back to back)`` times its warm time, the table read
by duty cycle, linear between the measured points and held beyond them; a batch of more
than one pays a share of that slowdown (``factor - 1``): the cold core costs a batch an
extra time, batch 1's at batch 1 and, at a size the profile measured
(``cold_start_share``: a batch of 8 back to back and after eight times the longest think
time, against batch 1's table at that duty cycle), that share of the slowdown on its own
time; linear in the size in between and held beyond (batch 1's extra time without a
measurement); each of its requests has the overhead measured after its model's rest.
Why the extra time and not the share is linear in the size: re-simulated on the arrivals
of three ``bench_validate.py --repeat 3`` runs of 2026-11-29 (12:34, 14:02, 14:58; 27
model-case rows against the mean of their replays) with the 14:57 profile (ResNet-18's
share at 8: 0.34), the mean absolute p50 / p95 / p99 error was 1.4 / 5.8 / 5.6% at replay
speed and 4.5 / 12.2 / 11.7% as profiled with the share linear, 1.8 / 3.6 / 6.1% and 3.6 /
6.4 / 7.5% with the extra time linear (rows within all three targets: 11 and 2, then 13
and 7; batch 1's extra time at every size, the measured share ignored, gave 1.8 / 3.1 /
6.2% and 3.6 / 5.0 / 5.2%). In the 14:58 run's one-model spiky replays, live batches of
2, 3 and 4 (302, 47 and 6 per replay) paid 0.60, 0.20 and 0.09 of batch 1's slowdown
(against the curve), where the share linear to 0.34 at 8 gave them 0.91, 0.81 and 0.72.
Why a share: in all seven
``bench_validate.py`` runs kept on 2026-11-29, one-model Gamma replays at replay speed
(:mod:`perseus.validate.speed`), live batches of 1 computed 3-4% longer than simulated
with one factor for every size, of 2 about 2% longer and of 4 5-8% shorter; the profile's
batch of 8 after 800 ms slowed by 0.02-0.25 of batch 1's slowdown at that duty cycle.
Re-simulated on those runs (63 rows at replay speed), the mean absolute error of p50 /
p95 / p99 went from 2.4 / 4.2 / 7.6% to 2.1 / 4.0 / 7.0%.
Why heat and not the last rest: in Triton's traces of an open-loop shared replay on the
embedded host (`bench_validate.py`'s shared Poisson case, 60 s), batch-1 compute hardly
depended on how long the model had rested just before - ResNet-18 10.0 ms after under 3
ms of rest, 10.5 ms after over 100 ms; MobileNetV2 3.3 and 3.8 ms - where the profile's
table by rest said 8.9 and 11.1 ms, 2.5 and 3.7 ms. A batch that starts right as the one
before it ends is not warm either. Why a memory of ``HEAT_MEMORY_S`` = 10 s: in the traces
of the spiky shared replays (kept by ``bench_validate.py --keep``, 2026-11-29), a batch of
1 that ran alone computed 8% faster during the 5 s spikes than between them (ResNet-18
10.1 against 11.0 ms, MobileNetV2 3.5 against 3.8 ms); a 1 s memory made the simulated
spikes 10% and 28% faster, a 10 s one 3% slower and 6% faster. Re-simulated on the
arrivals of four kept runs (36 model-case rows, each at the speed its replay computed at,
:mod:`perseus.validate.speed`), the mean absolute error of p50 / p95 / p99 was 2.2 / 4.7
/ 8.6% with 1 s, 2.3 / 4.2 / 7.3% with 5 s, 2.3 / 4.0 / 6.6% with 10 s and 2.4 / 4.0 /
7.2% with 20 s. A second, short memory (50 ms, half the weight) for the time since the
last batch did not help (2.1 / 4.9 / 8.3%). Why
a factor and not an extra time: in the traces of a ``bench_validate.py`` run (kept by
``--keep``, 2026-11-29 07:03), a batch of 2 that ran alone took the same multiple of its
back-to-back time as a batch of 1 - ResNet-18 1.25 and 1.26 on the one-model Poisson
host, 1.27 and 1.26 on the shared Poisson host, MobileNetV2 1.62 and 1.55 - where one
extra time for every size predicted 1.25 and 1.13. Why the device's heat and not the
model's own: re-simulated on the arrivals of three kept ``bench_validate.py`` runs
(2026-11-29 06:40, 07:03 and 07:50), 27 model-case rows, the mean absolute error of p50
/ p95 / p99 was 4.3 / 9.1 / 10.7% with the device's heat and 6.3 / 11.1 / 14.2% with
each model's own (same on one-model hosts; on shared hosts a neighbour's batches keep
the core warm: MobileNetV2 beside ResNet-18 computed 1.48 times its back-to-back time
live under Gamma load where its own duty cycle read the table's cold end, 1.74).
Assumption: a batch that starts beside another model's running batch pays the factor
too.

Open loop (``open_loop_factor``, :mod:`perseus.profile.openloop`): every batch's compute
is multiplied by the model's factor, solved for on the quiet part of the profile's
open-loop replay with the cold start above in place, so that it carries only what the
closed-loop points miss. A model without a cold-start table has the factor at a cold core
only: it fades as the core warms, ``factor ** (1 - warmth)``, where *warmth* is the
device's busy share through an exponential memory of ``WARM_MEMORY_S``
(``SharedDevice.warmth_at``). The closed-loop curve, measured back to back (warmth near
one), is the warm end, and the profile's quiet replay part (0.1 of the core) the cold one.
Why: in the open-loop ``validate`` replays of the embedded host (kept by
``bench_validate.py --keep``, 2026-12-07 04:52), a lone batch's log time over its group's mean fell with the
warmth at the batch's start (0.5 s memory), by 0.16-0.17 per unit of warmth in the
one-model spiky replays, 0.15-0.31 in the Poisson ones, 0.18-0.24 on the shared host
(spiky, Gamma; both models pooled), where ResNet-18's factor (1.19) makes 0.17; in the
spiky replays of the 03:32 and 04:03 runs, the seconds in which the core was over 0.4 busy
computed at 0.93-0.98 of the replay's speed, those under 0.2 at 1.01-1.03 (the replays'
measured speed path). With the factor steady, the simulated spikes ran slow and their
tails long: re-simulated as profiled (two seeds) on the arrivals of four runs of that day
(27 model-case rows against the mean of their replays, the profile of 02:43 summarised
again at 04:48, its factors solved again under each law), the mean absolute p50 / p95 /
p99 error was 2.9 / 12.5 / 16.3% with the factor steady (3 rows within the three latency
targets), 3.6 / 5.1 / 7.3% fading over 0.2 s (7), 3.5 / 5.4 / 7.2% over 0.5 s (10, as
landed), and 3.1 / 7.4 / 9.6% (9) and 3.5 / 5.8 / 9.3% (6) with one slope for every model
of 0.1 and 0.2 over 0.2 s (the others in a prototype of the same mechanism); the spiky
rows' p95 went from +5 to +47% to -10 to +13% (as landed). The profile's own replay cannot fit
the law: within each of its parts, where four models displace each other's data, its
batches read 0.03 per unit over 0.5 s (0.10-0.12 over 0.1-0.2 s). Assumptions: the warm
end is the curve for every model and batch size; warmth is the device's, not the model's,
and a batch starting beside a running one reads it busy. A host that follows a measured
speed path (``validate`` at a replay's speed) keeps the factor steady: the path carries
the warm stretches.

The per-request overhead (client, network, server front end) is otherwise the profile's
``overhead_ms`` mean interpolated by batch size (held at the ends; none if missing). It
delays each response but does not occupy the device. Where the profile measured the
front end request by request (``front_end_ms``), each request's overhead is that mean
times a draw from the measured spread (quantile knots as for ``empirical``, mean one); a
request that reaches its host while a batch executes there draws from the spread
measured while another model's batch held the core (``busy_front_end_ms``, relative to
the mean alone): the server's threads that receive and answer it wait for the core.
Assumption: whether the core is busy when the request arrives decides it, and the
front-end delays do not change which batch it joins.

Where the profile measured the front end in an open-loop replay (``front_end_by_core_ms``,
:mod:`perseus.sim.frontend`), that replaces all of the above: each request's overhead is a
draw from the spread of the core's state when it arrived (idle, busy, waking, asleep), through
quantile knots at the measured p5 ... p99 (tails extended linearly), whatever its batch
size or its model's rest. The knots keep the measured quantiles, not the mean. Where it
also measured the front end's two parts (``receive_by_core_ms``, ``respond_by_core_ms``),
the first delays the request's entry into its queue (:meth:`ServiceTime.receive`, drawn
by the engine when the request arrives, :mod:`perseus.sim.frontend` says why) and the
overhead after its batch is the second, drawn the same way.

Draws come from the model's own random stream, a chunk of standardised variates (mean
one) at a time, so that a draw is one multiplication.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
from scipy.special import ndtri

from perseus.config.profile import ColdStart, LatencyStats, ModelProfile, Quantiles
from perseus.sim.frontend import BUSY, CORE_STATES, WAKING

_CHUNK = 4096
Shape = tuple[tuple[float, ...], tuple[float, ...]]   # quantile levels and values, mean one
HEAT_MEMORY_S = 10.0   # time constant of a host's heat (see the module docstring)
WARM_MEMORY_S = 0.5    # time constant of a host's warmth (see the module docstring)
_KNOTS = np.array([0.0, 0.5, 0.95, 0.99, 1.0])
_FINE_KNOTS = np.array([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0])
_Z95 = 1.6448536269514722


class Uniforms:
    """Uniform variates of one random stream, drawn a chunk at a time."""

    __slots__ = ("rng", "chunk", "used")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.chunk: list[float] = []
        self.used = 0

    def next(self) -> float:
        if self.used == len(self.chunk):
            self.chunk = self.rng.random(_CHUNK).tolist()
            self.used = 0
        self.used += 1
        return self.chunk[self.used - 1]


class ServiceTime:
    """Draws solo batch times (seconds) for one model on one host type."""

    def __init__(self, profile: ModelProfile, rng: np.random.Generator, max_batch: int,
                 front_rng: np.random.Generator | None = None, slice_rng: np.random.Generator | None = None,
                 spread: Quantiles | None = None, warms: bool = True,
                 receive_rng: np.random.Generator | None = None) -> None:
        self.kind = profile.service_time_kind()
        self.rng = rng
        self.front_rng = front_rng
        self._slice_draws = Uniforms(slice_rng or rng)
        self._receive_draws = Uniforms(receive_rng) if receive_rng is not None else None
        self._front, self._busy_front = _front_end_spreads(profile)
        self._by_core = _by_core_knots(profile.front_end_by_core_ms)
        receive, respond = _by_core_knots(profile.receive_by_core_ms), _by_core_knots(profile.respond_by_core_ms)
        self.receives = receive is not None and respond is not None and self._receive_draws is not None
        if self.receives:   # the front end in its two parts (module docstring)
            self._by_core = respond
        self._receive = [(levels.tolist(), values.tolist()) for levels, values in receive or ()]
        sizes = sorted(profile.batch_latency_ms)
        open_loop = profile.open_loop_factor or 1.0
        self.means = [mean_ms(profile, sizes, k) * open_loop / 1e3 for k in range(max_batch + 1)]
        self.overhead_s = np.array([overhead_ms(profile, k) / 1e3 for k in range(max_batch + 1)])
        cold = profile.cold_start
        self.cold = cold is not None
        self._idle_s = [i / 1e3 for i in cold.idle_ms] if cold else [0.0]
        self._cold_overhead_s = [o / 1e3 for o in cold.overhead_ms] if cold else [0.0]
        self._duty, self._cold_factor = cold_factor_by_duty(cold)
        self._cold_share = _cold_share_by_size(profile, sizes, max_batch)
        self._cooling = math.log(open_loop) if warms and not self.cold else 0.0
        self.warms = self._cooling != 0.0   # its open-loop factor fades as the core warms
        shapes = [_shape(self.kind, profile.batch_latency_ms[_nearest(sizes, k)], spread) for k in range(max_batch + 1)]
        distinct = sorted(set(shapes))
        self._shape_of = [distinct.index(s) for s in shapes]
        self._shapes = distinct
        self._variates: list[list[float]] = [[] for _ in distinct]
        self._used = [0] * len(distinct)

    def mean(self, size: int) -> float:
        return self.means[size]

    def draw(self, size: int) -> float:
        """A solo batch time for a batch of ``size``."""
        if self.kind == "deterministic":
            return self.means[size]
        s = self._shape_of[size]
        used = self._used[s]
        variates = self._variates[s]
        if used == len(variates):
            variates = self._variates[s] = self._standard(self._shapes[s])
            used = 0
        self._used[s] = used + 1
        return self.means[size] * variates[used]

    def wake_slice(self, slice_s: float, preempt: float | None) -> float:
        """How long a batch of this model that wakes beside running ones holds the core
        (:mod:`perseus.sim.device`): with the profile's ``wake_law`` (``preempt`` given),
        ``slice_s`` with probability ``preempt``, else nothing; without it, exponential with
        the host's measured mean ``slice_s``. The mean itself where the profile draws
        nothing (``deterministic``)."""
        if self.kind == "deterministic":
            return slice_s if preempt is None else slice_s * preempt
        u = self._slice_draws.next()
        if preempt is None:
            return -slice_s * math.log1p(-u)
        return slice_s if u < preempt else 0.0

    def receive(self, state: int) -> float:
        """How long after its send the server receives a request (s) that found its host's
        core in ``state`` (:data:`perseus.sim.frontend.CORE_STATES`); only where ``receives``."""
        levels, values = self._receive[state]
        return _interpolate(levels, values, self._receive_draws.next())

    def cold_factor(self, heat: float, size: int) -> float:
        """How many times its warm solo time a batch of ``size`` takes that starts on a
        device at ``heat`` (its duty cycle)."""
        factor = _interpolate(self._duty, self._cold_factor, heat)
        return 1.0 + (factor - 1.0) * self._cold_share[size]

    def warming(self, warmth: float) -> float:
        """How many times its cold time a batch takes that starts on a device at ``warmth``:
        its open-loop factor fades (module docstring); 1 where it stays."""
        return math.exp(-self._cooling * warmth)

    def overheads(self, sizes: np.ndarray, idle_s: np.ndarray) -> np.ndarray:
        """Per-request overhead of batches of ``sizes`` whose model rested ``idle_s`` (s)."""
        if self.cold:
            return np.interp(idle_s, self._idle_s, self._cold_overhead_s)
        return self.overhead_s[sizes]

    def front_ends(self, sizes: np.ndarray, idle_s: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Each request's overhead (s), for batches of ``sizes`` whose model rested ``idle_s``
        (one entry per batch) and requests that found their host's core in ``states``
        (:data:`perseus.sim.frontend.CORE_STATES`, one per request, in batch order)."""
        if self._by_core is not None and self.front_rng is not None:
            u = self.front_rng.random(len(states))
            drawn = np.empty(len(states))
            for state, (levels, values) in enumerate(self._by_core):
                here = states == state
                drawn[here] = np.interp(u[here], levels, values)
            return drawn
        mean_s = np.repeat(self.overheads(sizes, idle_s), sizes)
        if self._front is None or self.front_rng is None:
            return mean_s
        u = self.front_rng.random(len(mean_s))
        spread = np.interp(u, _KNOTS, self._front)
        if self._busy_front is not None:
            spread = np.where(np.isin(states, (BUSY, WAKING)), np.interp(u, _KNOTS, self._busy_front), spread)
        return mean_s * spread

    def _standard(self, shape: Shape) -> list[float]:
        """A chunk of variates with mean one and the given shape."""
        u = self.rng.random(_CHUNK)
        if self.kind == "exponential":
            return _unit_exponentials(u)
        levels, values = shape
        if not levels:   # lognormal with this sigma
            sigma = values[0]
            z = ndtri(np.clip(u, 1e-12, 1 - 1e-12))
            return np.exp(sigma * z - sigma * sigma / 2).tolist()
        return np.interp(u, levels, values).tolist()


def _unit_exponentials(u: np.ndarray) -> list[float]:
    """Exponential variates with mean one from uniform ones (the inverse CDF)."""
    return (-np.log1p(-u)).tolist()


def _interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """``ys`` at ``x``, linear between the points ``xs`` (ascending) and held beyond them:
    ``np.interp`` for one value, without its array overhead in the event loop."""
    i = bisect_right(xs, x)
    if i == 0:
        return ys[0]
    if i == len(xs):
        return ys[-1]
    return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])


def cold_factor_by_duty(cold: ColdStart | None) -> tuple[list[float], list[float]]:
    """The cold-start table as (duty cycle, compute / compute back to back), by duty cycle."""
    if cold is None:
        return [0.0], [1.0]
    rows = sorted((c / (c + i), c / cold.compute_ms[0]) for c, i in zip(cold.compute_ms, cold.idle_ms))
    return [d for d, _ in rows], [e for _, e in rows]


def _cold_share_by_size(profile: ModelProfile, curve_sizes: list[int], max_batch: int) -> list[float]:
    """The share of batch 1's cold-start slowdown each size 0 .. ``max_batch`` pays. The
    cold core costs a batch an extra time: batch 1's slowdown times its warm time at
    batch 1, and the measured share of that slowdown times its warm time at each measured
    size; linear in the size in between and held beyond (batch 1's without a
    measurement). A size's share is that extra time over its own warm time."""
    measured = profile.cold_start_share
    sizes = [1, *sorted(k for k in measured if k > 1)]
    extra = [mean_ms(profile, curve_sizes, 1), *(measured[k] * mean_ms(profile, curve_sizes, k) for k in sizes[1:])]
    at = np.interp(np.arange(max_batch + 1), sizes, extra)
    return [1.0, *(float(at[k]) / mean_ms(profile, curve_sizes, k) for k in range(1, max_batch + 1))]


def _nearest(sizes: list[int], k: int) -> int:
    return min(sizes, key=lambda s: (abs(s - k), s))


def mean_ms(profile: ModelProfile, sizes: list[int], k: int) -> float:
    """Mean solo batch time of a batch of ``k`` (ms)."""
    curve = profile.batch_latency_ms
    if k <= 0:
        return 0.0
    if k in curve:
        return curve[k].mean
    if sizes[0] < k < sizes[-1]:
        return float(np.interp(k, sizes, [curve[s].mean for s in sizes]))
    if profile.fit is not None:
        return max(profile.fit.intercept_ms + profile.fit.per_item_ms * k, 1e-6)
    if len(sizes) == 1:
        return curve[sizes[0]].mean * k / sizes[0]
    lo, hi = (sizes[0], sizes[1]) if k < sizes[0] else (sizes[-2], sizes[-1])
    slope = (curve[hi].mean - curve[lo].mean) / (hi - lo)
    return max(curve[hi].mean + slope * (k - hi), 1e-6)


def overhead_ms(profile: ModelProfile, k: int) -> float:
    """Per-request time outside compute for a request in a batch of ``k`` (ms)."""
    if not profile.overhead_ms:
        return 0.0
    sizes = sorted(profile.overhead_ms)
    return float(np.interp(k, sizes, [profile.overhead_ms[s].mean for s in sizes]))


def _shape(kind: str, stats: LatencyStats, spread: Quantiles | None = None) -> Shape:
    """Spread around a mean of one, as quantile levels and values: for empirical, the
    host's open-loop ``spread`` where measured, else the knots through the size's measured
    quantiles; no levels and ``(sigma,)`` for lognormal; nothing where there is nothing to
    draw."""
    if kind in ("deterministic", "exponential"):
        return (), ()
    has_quantiles = stats.p50 is not None and stats.p95 is not None
    if kind == "lognormal" or (spread is None and not has_quantiles):
        return (), (_lognormal_sigma(stats),)
    levels, values = _quantile_knots(spread) if spread is not None else (_KNOTS, _knots(stats))
    mean = _knots_mean(levels, values)
    return (tuple(levels.tolist()), tuple((values / mean).tolist())) if mean > 0 else ((), (0.0,))


def _knots(stats: LatencyStats | Quantiles) -> np.ndarray:
    """Quantile knots at :data:`_KNOTS` through the measured p50, p95 and p99, the tails
    extended linearly."""
    assert stats.p50 is not None and stats.p95 is not None
    p50, p95 = stats.p50, max(stats.p95, stats.p50)
    p99 = max(stats.p99 if stats.p99 is not None else p95, p95)
    low = max(p50 - (p95 - p50), 0.0)
    return np.array([low, p50, p95, p99, p99 + (p99 - p95)])


def _knots_mean(levels: np.ndarray, values: np.ndarray) -> float:
    """The mean of the piecewise-linear quantile function through the knots."""
    return float(np.sum(np.diff(levels) * (values[:-1] + values[1:]) / 2))


def _front_end_spreads(profile: ModelProfile) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Knots of the front end alone (mean one) and on a busy core (relative to alone)."""
    alone, busy = profile.front_end_ms, profile.busy_front_end_ms
    if alone is None or alone.p50 is None or alone.p95 is None:
        return None, None
    values = _knots(alone)
    mean = _knots_mean(_KNOTS, values)
    if mean <= 0:
        return None, None
    if busy is None or busy.p50 is None or busy.p95 is None:
        return values / mean, None
    return values / mean, _knots(busy) / mean


def _by_core_knots(measured: dict[str, Quantiles] | None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per core state (in :data:`CORE_STATES` order): quantile levels and times (s) of a
    spread the profile measured by core state; a state it lacks (``asleep`` in profiles made
    before it) takes the idle spread."""
    if not measured or "idle" not in measured:
        return None
    knots = [_quantile_knots(measured.get(state, measured["idle"])) for state in CORE_STATES]
    return [(levels, values / 1e3) for levels, values in knots]


def _quantile_knots(stats: Quantiles) -> tuple[np.ndarray, np.ndarray]:
    """Levels and values (in the unit of ``stats``) through the measured quantiles, the
    tails extended linearly."""
    if None in (stats.p5, stats.p25, stats.p50, stats.p75, stats.p95, stats.p99):
        if stats.p50 is None or stats.p95 is None:
            return np.array([0.0, 1.0]), np.array([stats.mean, stats.mean])
        return _KNOTS, _knots(stats)
    p = [stats.p5, stats.p25, stats.p50, stats.p75, stats.p95, stats.p99]
    low = max(p[0] - (p[1] - p[0]) / 4, 0.0)
    high = p[-1] + (p[-1] - p[-2])
    return _FINE_KNOTS, np.maximum.accumulate(np.array([low, *p, high]))


def _lognormal_sigma(stats: LatencyStats) -> float:
    """Sigma of a lognormal with the measured mean and std, or with p95 at its 95th percentile."""
    if stats.std:
        cv = stats.std / stats.mean
        return float(np.sqrt(np.log1p(cv * cv)))
    if stats.p95 is None or stats.p95 <= stats.mean:
        return 0.0
    # mean one: log(p95 / mean) = -sigma^2 / 2 + z95 * sigma, the smaller root
    ratio = np.log(stats.p95 / stats.mean)
    return float(_Z95 - np.sqrt(max(_Z95 * _Z95 - 2 * ratio, 0.0)))
