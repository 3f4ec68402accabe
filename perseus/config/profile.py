"""``profiles/NAME.yaml``: what ``perseus profile`` writes and ``perseus simulate`` reads.

Only ``batch_latency_ms`` with a ``mean`` per batch size is required, so that a profile
can also be written by hand for a what-if or a test (SPEC, "profiles/NAME.yaml").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from perseus.config.loading import dump_yaml, load_model, write_atomic

ServiceTimeKind = Literal["empirical", "deterministic", "exponential", "lognormal"]
CoreState = Literal["idle", "busy", "waking", "asleep"]   # perseus.sim.frontend.CORE_STATES
BY_CORE_FIELDS = ("front_end_by_core_ms", "receive_by_core_ms", "respond_by_core_ms")   # ModelProfile's, by core state


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencyStats(_Strict):
    """Server compute time of one batch, in milliseconds, over ``n`` measured batches."""

    mean: PositiveFloat
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    std: float | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=0)
    stable: bool | None = None  # False when perf_analyzer's stability rule never held
    passes: list[PositiveFloat] | None = None   # each pass's mean, where measured in several


class Quantiles(_Strict):
    """A measured spread: its mean and quantiles, over ``n`` samples where counted."""

    mean: float = Field(ge=0)
    p5: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p95: float | None = None
    p99: float | None = None
    n: int | None = Field(default=None, ge=0)

    def scaled(self, factor: float) -> Self:
        """Every value ``factor`` times as large (the count kept)."""
        return self.model_copy(update={key: getattr(self, key) * factor for key in
                                       ("mean", "p5", "p25", "p50", "p75", "p95", "p99")
                                       if getattr(self, key) is not None})


class OverheadStats(Quantiles):
    """Per-request time outside compute (client, network, server front end), in ms, over
    ``n`` requests where counted."""


class LinearFit(_Strict):
    """Least-squares fit ``batch_time = intercept_ms + per_item_ms * batch_size``."""

    intercept_ms: float
    per_item_ms: float
    r2: float


class ColdStart(_Strict):
    """One-item requests that find the device idle: how compute and overhead grow with the
    idle time before them (closed loop with a think time between requests, model alone).

    On a CPU host an idle core loses its caches and clock: a batch after 100 ms of idle
    computed 20-45% slower than back to back here, and the client and front end slowed
    too. ``idle_ms`` is the model's rest before each measured batch (think time plus the
    request's overhead), ascending; ``compute_ms`` the batch-1 compute and
    ``overhead_ms`` the client latency less compute at that idle time.
    """

    idle_ms: list[float] = Field(min_length=1)
    compute_ms: list[PositiveFloat] = Field(min_length=1)
    overhead_ms: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _aligned(self) -> "ColdStart":
        if not len(self.idle_ms) == len(self.compute_ms) == len(self.overhead_ms):
            raise ValueError("idle_ms, compute_ms and overhead_ms must have the same length")
        if any(b <= a for a, b in zip(self.idle_ms, self.idle_ms[1:])) or self.idle_ms[0] < 0:
            raise ValueError("idle_ms must be ascending and not negative")
        return self


class Hardware(_Strict):
    kind: Literal["cpu", "gpu"] = "cpu"
    name: str = ""
    cores: int | None = None


class ModelProfile(_Strict):
    """One model's measurements on one host."""

    input_bytes: int | None = None
    batch_latency_ms: dict[PositiveInt, LatencyStats]
    overhead_ms: dict[PositiveInt, OverheadStats] = Field(default_factory=dict)
    fit: LinearFit | None = None
    instance_scaling: dict[PositiveInt, PositiveFloat] = Field(default_factory=dict)
    service_time: ServiceTimeKind | None = None
    cold_start: ColdStart | None = None
    # per batch size: the share of batch 1's cold-start slowdown that a batch of that size
    # pays at the same duty cycle (perseus.sim.service); batch 1 is 1 by definition
    cold_start_share: dict[PositiveInt, float] = Field(default_factory=dict)
    # each one-item request's time outside the server (client, network, front end), after
    # a think time with the model alone, and while another model's batch holds the core
    front_end_ms: OverheadStats | None = None
    busy_front_end_ms: OverheadStats | None = None
    # the front end of one-item requests in an open-loop replay, by what the core was doing
    # when each was sent (perseus.sim.frontend); where measured, the simulator draws from it
    front_end_by_core_ms: dict[CoreState, OverheadStats] | None = None
    # the same requests' front end in its two parts: from the send to the server receiving
    # the request (Triton's REQUEST_START), and from its batch's end to the answer; where
    # measured, the simulator queues a request only once received (perseus.sim.frontend)
    receive_by_core_ms: dict[CoreState, OverheadStats] | None = None
    respond_by_core_ms: dict[CoreState, OverheadStats] | None = None
    # how much later than max_queue_delay_ms a lone request's batch starts: the dynamic
    # batcher's timer and the hand-off to the instance
    queue_delay_lag_ms: float | None = None
    # how many times its closed-loop compute a batch takes under open-loop traffic, beyond
    # its cold start: solved for on the profile's traced replay (perseus.profile.openloop);
    # the simulator multiplies the model's compute by it
    open_loop_factor: PositiveFloat | None = None

    @model_validator(mode="after")
    def _has_points(self) -> "ModelProfile":
        if not self.batch_latency_ms:
            raise ValueError("batch_latency_ms needs at least one batch size")
        return self

    def at_speed(self, factor: float, slope: float = 0.0) -> "ModelProfile":
        """The same model on a host that computes a batch of ``k`` ``factor * k ** slope``
        times as long: every compute time scaled (the curve by size, the cold start as
        batch 1, the linear fit, used beyond the curve, as its largest size), the overhead
        outside compute kept."""
        def at(size: int) -> float:
            return factor * size ** slope

        def scaled(stats: LatencyStats, by: float) -> LatencyStats:
            return stats.model_copy(update={
                **{key: None if getattr(stats, key) is None else getattr(stats, key) * by
                   for key in ("mean", "p50", "p95", "p99", "std")},
                "passes": stats.passes and [p * by for p in stats.passes]})

        curve = {size: scaled(stats, at(size)) for size, stats in self.batch_latency_ms.items()}
        beyond = at(max(self.batch_latency_ms))
        fit = self.fit and self.fit.model_copy(update={"intercept_ms": self.fit.intercept_ms * beyond,
                                                       "per_item_ms": self.fit.per_item_ms * beyond})
        cold = self.cold_start and self.cold_start.model_copy(
            update={"compute_ms": [c * factor for c in self.cold_start.compute_ms]})
        return self.model_copy(update={"batch_latency_ms": curve, "fit": fit, "cold_start": cold})

    def with_front_end(self, factor: float) -> "ModelProfile":
        """The same model behind a front end that takes ``factor`` times as long: every
        time outside compute scaled (overheads, front-end spreads, cold-start overheads)."""
        def scale(stats: OverheadStats | None) -> OverheadStats | None:
            return None if stats is None else stats.scaled(factor)

        def by_core(spreads: dict[CoreState, OverheadStats] | None) -> dict[CoreState, OverheadStats] | None:
            return spreads and {state: stats.scaled(factor) for state, stats in spreads.items()}

        cold = self.cold_start and self.cold_start.model_copy(
            update={"overhead_ms": [o * factor for o in self.cold_start.overhead_ms]})
        return self.model_copy(update={
            "overhead_ms": {size: st.scaled(factor) for size, st in self.overhead_ms.items()},
            "front_end_ms": scale(self.front_end_ms), "busy_front_end_ms": scale(self.busy_front_end_ms),
            **{key: by_core(getattr(self, key)) for key in BY_CORE_FIELDS}, "cold_start": cold})

    def service_time_kind(self) -> ServiceTimeKind:
        """SPEC's default: ``empirical``, or ``deterministic`` where no spread was measured."""
        if self.service_time is not None:
            return self.service_time
        has_spread = any(s.p95 is not None or s.std is not None for s in self.batch_latency_ms.values())
        return "empirical" if has_spread else "deterministic"


class WakeLaw(_Strict):
    """How a batch that wakes beside a running one shares the core (:mod:`perseus.sim.device`),
    fit on the profile's open-loop replay (:mod:`perseus.profile.wakeup`): with probability
    ``preempt`` it holds the core alone for ``slice_ms``, else it shares from the start;
    sharing slows it by the interference matrix times ``sharing_factor``."""

    preempt: float = Field(ge=0.0, le=1.0)
    slice_ms: NonNegativeFloat
    sharing_factor: PositiveFloat = 1.0


class SpeedDrift(_Strict):
    """How the host's speed wanders over seconds (:mod:`perseus.sim.speed`), fit on the
    profile's open-loop replay (:mod:`perseus.profile.drift`): the log of its speed is an
    Ornstein-Uhlenbeck process with standard deviation ``sigma`` and correlation time
    ``tau_s``."""

    sigma: NonNegativeFloat
    tau_s: PositiveFloat


class SpeedPath(_Strict):
    """The host's speed over one run as measured there, bin by bin from t = 0
    (:func:`perseus.profile.drift.measured_speed_path`; ``validate`` at a replay's speed):
    the simulator multiplies the work of a batch that starts in bin ``i`` by ``factors[i]``
    (1 beyond the last), in place of a drawn ``speed_drift`` (:mod:`perseus.sim.speed`)."""

    bin_s: PositiveFloat
    factors: list[PositiveFloat]


class Profile(_Strict):
    """Everything measured on one host: per-model curves and the interference matrix."""

    host: str = "unknown"
    hardware: Hardware = Field(default_factory=Hardware)
    triton_version: str | None = None
    measured_at: datetime | None = None
    command: str | None = None  # the command line that measured it
    models: dict[str, ModelProfile]
    interference: dict[str, dict[str, PositiveFloat]] = Field(default_factory=dict)
    # extra ms of the row model's batch when it runs right after one of the column model
    switch_ms: dict[str, dict[str, float]] = Field(default_factory=dict)
    # how long a batch that starts beside running ones has the device to itself (0: none)
    wake_slice_ms: NonNegativeFloat | None = None
    # how a woken batch shares the core, fit on the open-loop replay; the device draws it instead of wake_slice_ms
    wake_law: WakeLaw | None = None
    # core time the front end takes from the running batches for each request received, fit on the
    # open-loop replay; the device pauses for it at each arrival (perseus.sim.ingress)
    arrival_work_ms: NonNegativeFloat | None = None
    # how a lone batch's time spreads around the median of its neighbours in the open-loop
    # replay (a ratio, pooled over models and sizes); the simulator draws every batch time
    # from it in place of the closed-loop spread (perseus.profile.spread)
    batch_spread: Quantiles | None = None
    # how the host's speed wanders over seconds in the open-loop replay; the simulator
    # multiplies every batch's work by it (perseus.sim.speed)
    speed_drift: SpeedDrift | None = None
    # the speed one live run measured, bin by bin; set by validate at a replay's speed (never by
    # profile), and followed by the simulator in place of speed_drift (perseus.sim.speed)
    speed_path: SpeedPath | None = None

    def slowdown(self, victim: str, neighbour: str) -> float:
        """Slowdown of ``victim``'s batch time while ``neighbour`` is busy beside it (1.0 if unknown)."""
        return self.interference.get(victim, {}).get(neighbour, 1.0)

    def at_speeds(self, factors: dict[str, float], front_ends: dict[str, float] | None = None,
                  slopes: dict[str, float] | None = None) -> "Profile":
        """The profile with each named model's compute times scaled (``ModelProfile.at_speed``,
        by ``factors`` and ``slopes``) and, by ``front_ends``, its times outside compute
        (``ModelProfile.with_front_end``); switch costs scale with the model that pays them,
        as its batch 1."""
        front_ends, slopes = front_ends or {}, slopes or {}
        models = {name: m.at_speed(factors[name], slopes.get(name, 0.0)) if name in factors else m
                  for name, m in self.models.items()}
        models = {name: m.with_front_end(front_ends[name]) if name in front_ends else m for name, m in models.items()}
        switch = {a: {b: ms * factors.get(a, 1.0) for b, ms in row.items()} for a, row in self.switch_ms.items()}
        return self.model_copy(update={"models": models, "switch_ms": switch})

    def switch_cost_ms(self, model: str, previous: str) -> float:
        """Extra compute of ``model``'s batch right after one of ``previous`` (0 if unknown)."""
        return self.switch_ms.get(model, {}).get(previous, 0.0) if model != previous else 0.0


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; errors name the file and the field."""
    return load_model(path, Profile)


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write a profile atomically in SPEC's shape (unset optional fields left out)."""
    data = profile.model_dump(mode="python", exclude_none=True)
    write_atomic(path, dump_yaml(data))
