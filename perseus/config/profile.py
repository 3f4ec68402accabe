"""``profiles/NAME.yaml``: what ``perseus profile`` writes and ``perseus simulate`` reads.

Only ``batch_latency_ms`` with a ``mean`` per batch size is required, so that a profile
can also be written by hand for a what-if or a test (SPEC, "profiles/NAME.yaml").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from perseus.config.loading import dump_yaml, load_model, write_atomic

ServiceTimeKind = Literal["empirical", "deterministic", "exponential", "lognormal"]


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


class OverheadStats(_Strict):
    """Per-request time outside compute (client, network, server front end), in ms."""

    mean: float = Field(ge=0)
    p50: float | None = None
    p99: float | None = None


class LinearFit(_Strict):
    """Least-squares fit ``batch_time = intercept_ms + per_item_ms * batch_size``."""

    intercept_ms: float
    per_item_ms: float
    r2: float


class OpenLoop(_Strict):
    """One-item requests sent open loop (Poisson, at ``rps``) with the replay client.

    Served this way a model computes slower than in the closed-loop curve (idle gaps
    between requests leave caches and clocks cold) and the replay client costs more than
    the closed-loop one: ``compute_factor`` scales the curve, ``overhead_ms`` replaces
    the curve's overhead for one-item requests.
    """

    rps: PositiveFloat
    compute_factor: PositiveFloat
    overhead_ms: float = Field(ge=0)


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
    open_loop: OpenLoop | None = None

    @model_validator(mode="after")
    def _has_points(self) -> "ModelProfile":
        if not self.batch_latency_ms:
            raise ValueError("batch_latency_ms needs at least one batch size")
        return self

    def service_time_kind(self) -> ServiceTimeKind:
        """SPEC's default: ``empirical``, or ``deterministic`` where no spread was measured."""
        if self.service_time is not None:
            return self.service_time
        has_spread = any(s.p95 is not None or s.std is not None for s in self.batch_latency_ms.values())
        return "empirical" if has_spread else "deterministic"


class Profile(_Strict):
    """Everything measured on one host: per-model curves and the interference matrix."""

    host: str = "unknown"
    hardware: Hardware = Field(default_factory=Hardware)
    triton_version: str | None = None
    measured_at: datetime | None = None
    command: str | None = None  # the command line that measured it
    models: dict[str, ModelProfile]
    interference: dict[str, dict[str, PositiveFloat]] = Field(default_factory=dict)

    def slowdown(self, victim: str, neighbour: str) -> float:
        """Slowdown of ``victim``'s batch time while ``neighbour`` is busy beside it (1.0 if unknown)."""
        return self.interference.get(victim, {}).get(neighbour, 1.0)


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; errors name the file and the field."""
    return load_model(path, Profile)


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write a profile atomically in SPEC's shape (unset optional fields left out)."""
    data = profile.model_dump(mode="python", exclude_none=True)
    write_atomic(path, dump_yaml(data))
