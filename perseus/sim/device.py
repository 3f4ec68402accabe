"""The shared device of one host: batches of all its models running at once slow each other.

Modelled as progress rates (a generalised processor sharing). Each running batch has
remaining solo work - its batch time had it run alone - and progresses at a rate in
(0, 1]. Rates are recomputed whenever a batch starts or ends on the host, from the
profile:

* a batch of model ``m`` beside ``k - 1`` other running batches of ``m`` (other
  instances) is slowed by ``k / instance_scaling[k]`` (instance scaling is the
  throughput of ``k`` busy instances relative to one); without a measured scaling, by
  ``1 + (k - 1) * (interference[m][m] - 1)``; without either, not at all (linear);
  beyond the largest measured ``k`` the scaling stays at its last value;
* each running batch of another model ``n`` adds ``interference[m][n] - 1``;
* the batch's rate is one over the sum.

With self- and cross-slowdown 2 (one core, fairly shared) this is exactly processor
sharing. Assumptions: slowdowns add up (measured pairwise, applied to any mix), they do
not depend on batch size, and a batch's remaining work is consumed linearly at its rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perseus.config.profile import Profile


@dataclass(eq=False, slots=True)
class RunningBatch:
    model: int
    remaining: float          # solo seconds of work left
    rate: float = 1.0
    payload: object = None    # whatever the engine needs back when the batch ends


@dataclass
class SlowdownTable:
    """Pairwise slowdown terms of the models on one host (indexed by engine model id)."""

    same: dict[int, list[float]]                  # model -> slowdown with k = index + 1 running
    cross: dict[tuple[int, int], float]           # (victim, neighbour) -> interference - 1

    @classmethod
    def of(cls, profile: Profile, models: dict[int, str], instances: dict[int, int]) -> "SlowdownTable":
        same = {m: [_same_model(profile, name, k) for k in range(1, instances[m] + 1)] for m, name in models.items()}
        cross = {(a, b): profile.slowdown(na, nb) - 1.0 for a, na in models.items() for b, nb in models.items()
                 if a != b}
        return cls(same, cross)


def _same_model(profile: Profile, name: str, k: int) -> float:
    """Slowdown of each of ``k`` running batches of one model (instances) on their own."""
    scaling = profile.models[name].instance_scaling
    if not scaling:
        return 1.0 + (k - 1) * (profile.slowdown(name, name) - 1.0)
    points = {1: 1.0, **scaling}
    sizes = sorted(points)
    return k / float(np.interp(k, sizes, [points[n] for n in sizes]))


@dataclass
class SharedDevice:
    """Running batches of one host and their progress."""

    table: SlowdownTable
    running: list[RunningBatch] = field(default_factory=list)
    updated: float = 0.0
    busy_since: float | None = None
    token: int = 0            # bumped whenever the pending completion event goes stale

    def advance(self, now: float) -> None:
        """Consume work done since the last update."""
        elapsed = now - self.updated
        if elapsed > 0:
            for batch in self.running:
                batch.remaining -= batch.rate * elapsed
        self.updated = now

    def rerate(self) -> None:
        counts: dict[int, int] = {}
        for batch in self.running:
            counts[batch.model] = counts.get(batch.model, 0) + 1
        cross = self.table.cross
        for batch in self.running:
            m = batch.model
            slow = self.table.same[m][counts[m] - 1]
            for other, count in counts.items():
                if other != m:
                    slow += count * cross[(m, other)]
            batch.rate = 1.0 / slow

    def next_finish(self) -> tuple[float, RunningBatch] | None:
        """Time from now until the first running batch ends, and that batch."""
        first, soonest = None, float("inf")
        for batch in self.running:
            left = batch.remaining / batch.rate
            if left < soonest:
                first, soonest = batch, left
        if first is None:
            return None
        return max(soonest, 0.0), first
