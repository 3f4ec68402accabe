"""Spreading a model's requests over its replicas (the hosts of the placement that serve it).

* ``round_robin`` - request ``i`` goes to replica ``i mod R``;
* ``random`` - a uniformly random replica per request (the model's seeded stream);
* ``least_outstanding`` - the replica with the fewest of this model's requests routed
  and not yet finished (their batch has not ended); ties go to the lowest host index.
  It depends on the state at each arrival, so the engine routes those requests one at a
  time, in time order with everything else.

The first two do not depend on the system's state and are decided for the whole trace
at once, so that their replicas see their arrivals as arrays like a single replica.
"""

from __future__ import annotations

import numpy as np

from perseus.config.scenario import RouterKind


def static_assignment(kind: RouterKind, count: int, replicas: int, rng: np.random.Generator) -> np.ndarray | None:
    """Replica index of every request, or None when routing depends on state."""
    if replicas == 1:
        return np.zeros(count, dtype=np.int32)
    if kind == "round_robin":
        return (np.arange(count) % replicas).astype(np.int32)
    if kind == "random":
        return rng.integers(replicas, size=count).astype(np.int32)
    return None


def least_outstanding(outstanding: list[int]) -> int:
    """Index of the replica with the fewest outstanding requests (lowest index on ties)."""
    return outstanding.index(min(outstanding))
