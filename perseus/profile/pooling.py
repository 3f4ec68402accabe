"""Pooling noisy per-pair measurements towards the host's mean (empirical Bayes).

A profile measures some quantities once per pair of models (the interference matrix: a
model's batch time beside a busy partner over its time alone, in a window right before).
Each pair gets a handful of windows, and on a shared machine a window's speed drifts: on
the embedded CPU host of 2026-12-06 one pair's six ratios ran from 1.01 to 2.00, while
the pairs' means scattered no more than that noise explains (one core fairly shared by
two busy threads gives about 2 for every pair there). Taking each pair's own mean then
hands the simulator the noise of its few windows as if it were a property of the pair.

The estimate here is the normal-normal model with moment estimates (James-Stein
shrinkage): each measurement of group ``g`` is ``theta_g`` plus noise of one variance
``sigma²`` common to all groups (their pooled within-group variance), and the ``theta_g``
scatter around the host's mean ``mu`` (the mean of all measurements) with variance
``tau²`` (the variance of the group means less their mean sampling variance
``sigma² / n_g``, at least 0). A group's estimate is its posterior mean
``mu + B_g * (mean_g - mu)`` with ``B_g = tau² / (tau² + sigma² / n_g)``: where the
groups differ by far more than their noise (as a memory-bound and a compute-bound model
beside each other might on a GPU), ``tau²`` dwarfs the noise and each keeps its own
mean; where they differ by noise alone, they all get the host's mean. Assumptions: the
noise is the same for every group and independent between measurements; with fewer than
two groups, or no group measured twice, nothing is pooled.
"""

from __future__ import annotations

from typing import Hashable, TypeVar

import numpy as np

Key = TypeVar("Key", bound=Hashable)


def shrunk_means(groups: dict[Key, np.ndarray]) -> dict[Key, float]:
    """Each group's mean, moved towards the mean of all measurements by the share of its
    deviation that its own noise explains."""
    means = {key: float(np.mean(values)) for key, values in groups.items()}
    counts = np.array([len(values) for values in groups.values()])
    freedom = counts.sum() - len(groups)
    if len(groups) < 2 or freedom < 1:
        return means
    noise = sum(float(np.sum((values - means[key]) ** 2)) for key, values in groups.items()) / freedom
    host = float(np.mean(np.concatenate(list(groups.values()))))
    between = max(0.0, float(np.var(list(means.values()), ddof=1)) - float(np.mean(noise / counts)))
    if between == 0.0 and noise == 0.0:
        return means
    return {key: host + between / (between + noise / n) * (mean - host)
            for (key, mean), n in zip(means.items(), counts)}
