"""``scenarios/NAME.yaml``: the workload, the SLAs and the candidate placements.

Read by ``simulate``, ``validate`` and ``plan`` (SPEC, "scenarios/NAME.yaml"). Loading
checks every cross-reference (models, host types, profiles) before anything runs, and
each problem is one :class:`~perseus.errors.InputError` naming file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from perseus.config.loading import load_model
from perseus.config.profile import Profile, load_profile
from perseus.errors import InputError

RouterKind = Literal["least_outstanding", "round_robin", "random"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- workloads -------------------------------------------------------------------------


class PoissonWorkload(_Strict):
    """Poisson arrivals: exponential gaps at ``rps`` per second."""

    kind: Literal["poisson"]
    rps: PositiveFloat


class ConstantWorkload(_Strict):
    """Evenly spaced arrivals, ``rps`` per second."""

    kind: Literal["constant"]
    rps: PositiveFloat


class GammaWorkload(_Strict):
    """Renewal process with Gamma gaps: mean rate ``rps``, coefficient of variation ``cv``."""

    kind: Literal["gamma"]
    rps: PositiveFloat
    cv: PositiveFloat = 1.0


class SpikyWorkload(_Strict):
    """Poisson at ``base_rps``, jumping to ``spike_rps`` for ``spike_s`` at the start of every ``period_s``."""

    kind: Literal["spiky"]
    base_rps: PositiveFloat
    spike_rps: PositiveFloat
    period_s: PositiveFloat
    spike_s: PositiveFloat

    @model_validator(mode="after")
    def _spike_fits(self) -> "SpikyWorkload":
        if self.spike_s > self.period_s:
            raise ValueError("spike_s must not exceed period_s")
        return self


class DiurnalWorkload(_Strict):
    """Non-homogeneous Poisson, rate ``mean_rps * (1 + amplitude * sin(2 pi t / period_s))``."""

    kind: Literal["diurnal"]
    mean_rps: PositiveFloat
    amplitude: float = Field(ge=0, le=1)
    period_s: PositiveFloat


class TraceWorkload(_Strict):
    """A recorded trace: CSV with columns ``time_s,model`` (path relative to the scenario file)."""

    kind: Literal["trace"]
    file: str


Workload = Annotated[
    Union[PoissonWorkload, ConstantWorkload, GammaWorkload, SpikyWorkload, DiurnalWorkload, TraceWorkload],
    Field(discriminator="kind"),
]


# --- models, placements ----------------------------------------------------------------


class Sla(_Strict):
    """A request meets the SLA when its latency is at most ``latency_ms``; the model meets
    it when the ``percentile`` of its latencies does."""

    latency_ms: PositiveFloat
    percentile: float = Field(default=99, gt=0, le=100)


class ModelSpec(_Strict):
    sla: Sla
    workload: Workload
    router: RouterKind | None = None  # overrides the scenario's router for this model


class ModelConfig(_Strict):
    """Triton's per-model settings on one host (``config.pbtxt``), with Triton's defaults."""

    instances: PositiveInt = 1
    max_batch_size: int = Field(default=1, ge=0)
    max_queue_delay_ms: NonNegativeFloat | None = None
    preferred_batch_sizes: list[PositiveInt] | None = None
    max_queue_size: PositiveInt | None = None

    @model_validator(mode="after")
    def _preferred_within_max(self) -> "ModelConfig":
        for size in self.preferred_batch_sizes or []:
            if size > max(self.max_batch_size, 1):
                raise ValueError(f"preferred batch size {size} exceeds max_batch_size {self.max_batch_size}")
        return self

    @property
    def dynamic_batching(self) -> bool:
        """Triton batches on the server only with ``dynamic_batching`` configured."""
        return self.max_batch_size > 1 and (
            self.max_queue_delay_ms is not None or self.preferred_batch_sizes is not None
        )

    @property
    def batch_limit(self) -> int:
        """Largest batch the scheduler may form (1 without dynamic batching)."""
        return self.max_batch_size if self.dynamic_batching else 1

    @property
    def preferred_sizes(self) -> list[int]:
        """Preferred sizes as the server auto-completes them: ``[max_batch_size]`` when none given."""
        if not self.dynamic_batching:
            return []
        return sorted(self.preferred_batch_sizes or [self.max_batch_size])

    @property
    def queue_delay_s(self) -> float:
        return (self.max_queue_delay_ms or 0.0) / 1000.0


class HostPlacement(_Strict):
    """One server of a placement: its host type and the models it serves."""

    host_type: str
    models: dict[str, ModelConfig] = Field(min_length=1)


class HostType(_Strict):
    profile: str
    price_per_hour: NonNegativeFloat


class Scenario(_Strict):
    name: str
    duration_s: PositiveFloat
    warmup_s: NonNegativeFloat = 0.0
    seed: int = 0
    router: RouterKind = "least_outstanding"
    host_types: dict[str, HostType] = Field(min_length=1)
    models: dict[str, ModelSpec] = Field(min_length=1)
    placements: dict[str, list[HostPlacement]] = Field(min_length=1)

    @model_validator(mode="after")
    def _warmup_before_end(self) -> "Scenario":
        if self.warmup_s >= self.duration_s:
            raise ValueError(f"warmup_s ({self.warmup_s}) must be shorter than duration_s ({self.duration_s})")
        return self

    def router_for(self, model: str) -> RouterKind:
        return self.models[model].router or self.router

    @property
    def prices(self) -> dict[str, float]:
        """Each host type's price per hour."""
        return {name: host_type.price_per_hour for name, host_type in self.host_types.items()}


class LoadedScenario(BaseModel):
    """A validated scenario with the file it came from and the profile of each host type."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    scenario: Scenario
    profiles: dict[str, Profile]  # host type -> profile

    def resolve(self, relative: str) -> Path:
        """A path named in the scenario, relative to the scenario's folder or the project root."""
        return resolve_path(relative, self.path)


def resolve_path(relative: str, scenario_path: Path) -> Path:
    """``relative`` as written, else beside the scenario file, else beside its folder."""
    candidate = Path(relative)
    if candidate.is_absolute():
        return candidate
    for base in (Path.cwd(), scenario_path.parent, scenario_path.parent.parent):
        if (base / candidate).exists():
            return base / candidate
    return scenario_path.parent / candidate


def check_references(scenario: Scenario, file: Path) -> None:
    """Every placement names known host types and models, and places every model."""
    for name, hosts in scenario.placements.items():
        if not hosts:
            raise InputError("a placement needs at least one host", file=file, field=f"placements.{name}")
        placed: set[str] = set()
        for i, host in enumerate(hosts):
            where = f"placements.{name}[{i}]"
            if host.host_type not in scenario.host_types:
                known = ", ".join(sorted(scenario.host_types))
                raise InputError(
                    f"unknown host type {host.host_type!r} (expected one of: {known})",
                    file=file, field=f"{where}.host_type",
                )
            for model in host.models:
                if model not in scenario.models:
                    known = ", ".join(sorted(scenario.models))
                    raise InputError(
                        f"unknown model {model!r} (expected one of the scenario's models: {known})",
                        file=file, field=f"{where}.models.{model}",
                    )
            placed.update(host.models)
        missing = sorted(set(scenario.models) - placed)
        if missing:
            raise InputError(
                f"model(s) {', '.join(missing)} have a workload but no host in this placement",
                file=file, field=f"placements.{name}",
            )


def check_profiles(scenario: Scenario, profiles: dict[str, Profile], file: Path) -> None:
    """Every model a placement puts on a host type is in that host type's profile."""
    for name, hosts in scenario.placements.items():
        for i, host in enumerate(hosts):
            profile = profiles[host.host_type]
            for model in host.models:
                if model not in profile.models:
                    raise InputError(
                        f"model {model!r} is not in the profile of host type {host.host_type!r} "
                        f"({scenario.host_types[host.host_type].profile}; it has: {', '.join(sorted(profile.models))})",
                        file=file, field=f"placements.{name}[{i}].models.{model}",
                    )


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, validate and cross-check a scenario and the profiles it names."""
    path = Path(path)
    scenario = load_model(path, Scenario)
    check_references(scenario, path)
    profiles: dict[str, Profile] = {}
    for name, host_type in scenario.host_types.items():
        profile_path = resolve_path(host_type.profile, path)
        if not profile_path.exists():
            raise InputError(
                f"profile file {host_type.profile!r} not found (run `perseus profile` to measure one)",
                file=path, field=f"host_types.{name}.profile",
            )
        profiles[name] = load_profile(profile_path)
    check_profiles(scenario, profiles, path)
    return LoadedScenario(path=path, scenario=scenario, profiles=profiles)
