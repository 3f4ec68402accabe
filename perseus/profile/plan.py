"""What a profile measures: the list of points, in the order they are measured.

A point is one (phase, model, batch size, instances, partner) combination measured in
stability windows. Phases:

* ``curve`` - the batch-latency curve: one client at concurrency 1 sending batches of
  ``batch_size``, model alone, one instance; measured in ``Settings.curve_passes``
  passes spread over the profile (``repeat`` numbers them), which the summary averages:
  a shared machine's speed moves over minutes, and by more at large batches than at
  batch 1. On the AMD EPYC embedded host, ResNet-18's batch 8 back to back for 2 min
  had a coefficient of variation of 4.5-4.7% across 15-30 s windows (batch 1: 1.3-1.9%;
  2026-11-30). One profile's single measurement
  of it (judged windows 87-100 ms; 82.8 ms once drift-scaled, 2026-11-29 22:00) was
  13-28% below the 106-120 ms that six later replays computed it in; three passes of a
  later profile took 101, 104 and 104 ms;
* ``coldstart`` - one-item requests at concurrency 1 with a think time of ``think_ms``
  between a response and the next request, model alone: how much slower the model
  computes, and how much more a request costs, after it sat idle; and batches of
  ``Settings.cold_batch_size`` (at most the curve's largest) back to back and after the
  longest think time times that size (about the same duty cycle as batch 1's longest):
  how much of the slowdown a larger batch pays;
* ``switch`` - ``model``'s batch-1 time when each of its requests follows one of
  ``partner`` (one client alternating the two at concurrency 1): what running another
  model just before costs it (caches refilled);
* ``busy`` - one-item requests with a think time of ``think_ms`` while ``partner`` is kept
  busy by one closed-loop client of its own: the front end of a request on a core that
  another model's batch holds (the server's threads wait for it); only where the host
  has no ``frontend`` phase;
* ``frontend`` - one point for all models: an open-loop Poisson replay of every model at
  once with Triton's request traces on (:mod:`perseus.profile.frontend`), on hosts whose
  traces Perseus reads (embedded ones);
* ``timer`` - one-item requests with a think time of ``think_ms``, the model loaded with
  the dynamic batcher and a max queue delay of ``Settings.timer_delay_ms``: each request
  waits alone for the delay, and the server's queue time shows how late the batcher's
  timer lets it go;
* ``scaling`` - throughput of ``instances`` busy instances (closed loop at concurrency
  2 x instances);
* ``interference`` - ``model``'s batch time at ``batch_size`` while ``partner`` is kept
  busy by its own closed-loop load. For a self-pair the model runs two instances, so
  that the measured request and the neighbour's run side by side. The pairs of two
  models are measured in as many passes as the curve, beside its later passes: one
  measurement of MobileNetV2 beside ResNet-18 on the AMD EPYC host read 2.11, 1.86 and
  1.58 in three profiles (2026-11-29 22:00 and 23:00, 2026-11-30 00:50), and the summary
  averages each pair's passes and pools the pairs towards the host's slowdown as far as
  they differ by that noise (:mod:`perseus.profile.pooling`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["curve", "coldstart", "switch", "busy", "frontend", "timer", "scaling", "interference"]
PER_REQUEST_THINK_MS = 10.0   # think times long enough for a statistics snapshot inside
NEIGHBOUR_BATCH = 3  # batch size of the neighbour's load: never a measured size, so the
                     # server's batch_stats keep the measured model's batches apart on self-pairs


def interleaves_reference(phase: str, batch_size: int) -> bool:
    """Whether a point of ``phase`` at ``batch_size`` measures its batch-1 reference
    interleaved with its own requests (:attr:`Point.interleaved`)."""
    return phase == "curve" and batch_size > 1


@dataclass(frozen=True)
class Point:
    phase: Phase
    model: str
    batch_size: int
    instances: int = 1
    partner: str = ""
    think_ms: float = 0.0
    repeat: int = 0       # which pass of the curve or of the pairs (0: the first)

    @property
    def key(self) -> str:
        key = f"{self.phase}/{self.model}/b{self.batch_size}/i{self.instances}/{self.partner}"
        if self.repeat:
            key += f"/r{self.repeat}"
        return f"{key}/t{self.think_ms:g}" if self.phase in ("coldstart", "busy", "timer") else key

    @property
    def label(self) -> str:
        return self._what + (f" (pass {self.repeat + 1})" if self.repeat else "")

    @property
    def _what(self) -> str:
        if self.phase == "curve":
            return f"{self.model} batch {self.batch_size}"
        if self.phase == "scaling":
            return f"{self.model} x{self.instances} instances"
        if self.phase == "coldstart":
            return f"{self.model} batch {self.batch_size} after {self.think_ms:g} ms idle"
        if self.phase == "switch":
            return f"{self.model} right after {self.partner}"
        if self.phase == "busy":
            return f"{self.model} front end beside busy {self.partner}"
        if self.phase == "frontend":
            return "front end in an open-loop replay"
        if self.phase == "timer":
            return f"{self.model} batcher delay timer"
        return f"{self.model} batch {self.batch_size} beside busy {self.partner}"

    @property
    def concurrency(self) -> int:
        return 2 * self.instances if self.phase == "scaling" else 1

    @property
    def per_request(self) -> bool:
        """Whether each request's front end is measured (a snapshot in its think time)."""
        return self.phase == "busy" or (self.phase == "coldstart" and self.batch_size == 1
                                        and self.think_ms >= PER_REQUEST_THINK_MS)

    @property
    def referenced(self) -> bool:
        """Whether its model's batch 1 back to back is measured with this point, so that
        the summary can take out the machine's drift between points: the curve's larger
        sizes and batch 1's cold starts, whose ratios to batch 1 the simulator uses."""
        return self.interleaved or (self.phase == "coldstart" and self.batch_size == 1 and self.think_ms > 0)

    @property
    def interleaved(self) -> bool:
        """Whether its reference is interleaved with it: a batch of one before each
        measured request, read apart from it in Triton's per-size statistics, window by
        window (the curve's larger sizes; a cold-start point's reference is a window right
        before it, since a batch of one in its think time would end the model's rest).
        This host's speed moves within seconds, so a reference window before the point
        missed it: in the profile of 2026-12-06 07:44 (an embedded host reporting the
        Intel CPU name), ResNet-18's batch 2 over its reference read 1.59, 1.90 and 1.58
        in its three passes and batch 4 3.66, 2.92 and 3.90, where the batches of two
        over those of one in 34 ``validate`` replays on that host the same day, which
        run the sizes interleaved, read 1.78-1.91."""
        return interleaves_reference(self.phase, self.batch_size)

    @property
    def busy_partner(self) -> bool:
        """Whether ``partner`` is kept busy while this point is measured."""
        return self.phase in ("interference", "busy")


@dataclass(frozen=True)
class Settings:
    """How much to measure."""

    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16)
    curve_passes: int = 3
    interference_batch_sizes: tuple[int, ...] = (1, 8)
    scaling_batch_size: int = 4
    instance_counts: tuple[int, ...] = (1, 2)
    min_window_s: float = 0.5
    min_requests: int = 5
    max_windows: int = 10
    think_ms: tuple[float, ...] = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)
    cold_requests: int = 25   # per window of a cold-start point: a cold batch is noisy
    cold_batch_size: int = 8
    cold_batch_requests: int = 8   # per window of a cold-start point of that size
    probe_think_ms: float = 10.0   # think time of the busy and timer points
    timer_delay_ms: float = 2.0
    replay_s: float = 120.0           # the frontend phase's replay (a minute left the speed drift's fit noisy)
    replay_utilization: tuple[float, ...] = (0.5, 0.1)   # of the core, shared equally by the models, in turn

    def queue_delay_ms(self, point: "Point") -> float | None:
        """The batcher delay the point's model is loaded with (None: no dynamic batcher)."""
        return self.timer_delay_ms if point.phase == "timer" else None

    def window_requests(self, point: "Point") -> int:
        if point.phase == "coldstart" and point.batch_size > 1:
            return max(self.min_requests, self.cold_batch_requests)
        probing = point.per_request or point.phase in ("coldstart", "timer")
        return max(self.min_requests, self.cold_requests) if probing else self.min_requests

    @property
    def max_batch_size(self) -> int:
        return max(*self.batch_sizes, self.scaling_batch_size, NEIGHBOUR_BATCH)


FULL = Settings()
QUICK = Settings(batch_sizes=(1, 2, 4, 8), interference_batch_sizes=(1, 2), min_window_s=0.15, min_requests=3,
                 max_windows=6, think_ms=(0.0, 100.0), cold_requests=5, replay_s=6.0, curve_passes=1,
                 cold_batch_size=1)   # no larger cold batches: 10 s more than the 2 min target allows


def points(models: list[str], settings: Settings, traced: bool = False) -> list[Point]:
    """Every point, grouped so that each model is reloaded only twice: to two instances,
    then to one with the dynamic batcher (the timer point), where it stays. A ``traced``
    host measures the front end by the ``frontend`` replay instead of ``busy`` points.

    The curve's first pass comes first; its later passes, each with a pass of the pairs
    of two models, end the blocks of points measured with every model at one instance,
    evenly over them (:func:`_spread`)."""
    blocks = [_cold_start_points(models, settings), _switch_points(models, settings, traced),
              _pair_points(models, settings)]
    plan = _curve(models, settings, 0)
    for block, passes in zip(blocks, _spread(settings.curve_passes - 1, len(blocks))):
        plan += block
        for repeat in passes:
            plan += _curve(models, settings, repeat) + _pairs(models, settings, repeat)
    for m in models:
        plan += [Point("scaling", m, settings.scaling_batch_size, n) for n in settings.instance_counts if n > 1]
        plan += [Point("interference", m, b, 2, m) for b in settings.interference_batch_sizes]
        plan.append(Point("timer", m, 1, think_ms=settings.probe_think_ms))   # a reload either way
    return plan


def _spread(extra: int, blocks: int) -> list[list[int]]:
    """Which of the passes ``1..extra`` follow each of ``blocks`` blocks: pass ``e`` after
    block ``ceil(e * blocks / extra)``, so that the last one ends the last block."""
    after: list[list[int]] = [[] for _ in range(blocks)]
    for e in range(1, extra + 1):
        after[-(-e * blocks // extra) - 1].append(e)
    return after


def _curve(models: list[str], settings: Settings, repeat: int) -> list[Point]:
    return [Point("curve", m, b, repeat=repeat) for m in models for b in settings.batch_sizes]


def _cold_start_points(models: list[str], settings: Settings) -> list[Point]:
    plan = [Point("coldstart", m, 1, think_ms=t) for m in models for t in settings.think_ms]
    cold_batch = min(settings.cold_batch_size, max(settings.batch_sizes))   # no larger than the curve's
    if cold_batch > 1:
        plan += [Point("coldstart", m, cold_batch, think_ms=t * cold_batch)
                 for m in models for t in (min(settings.think_ms), max(settings.think_ms))]
    return plan


def _switch_points(models: list[str], settings: Settings, traced: bool) -> list[Point]:
    plan = [Point("switch", a, 1, 1, b) for a in models for b in models if b != a]
    if traced:
        plan.append(Point("frontend", "", 1))
    elif len(models) > 1:   # the next model holds the core
        plan += [Point("busy", m, 1, 1, models[(i + 1) % len(models)], settings.probe_think_ms)
                 for i, m in enumerate(models)]
    return plan


def _pair_points(models: list[str], settings: Settings) -> list[Point]:
    return [Point("scaling", m, settings.scaling_batch_size, 1) for m in models] + _pairs(models, settings, 0)


def _pairs(models: list[str], settings: Settings, repeat: int) -> list[Point]:
    """The interference points of two different models (each at one instance)."""
    return [Point("interference", a, b, 1, partner, repeat=repeat)
            for a in models for partner in models if partner != a
            for b in settings.interference_batch_sizes]
