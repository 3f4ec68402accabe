"""Pooling per-pair measurements towards the host's mean (perseus.profile.pooling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from perseus.profile.pooling import shrunk_means
from perseus.profile.rawtable import COLUMNS
from perseus.profile.summary import interference_matrix


def _noisy_groups(truths: list[float], noise: float, n: int, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {g: truth + rng.normal(0.0, noise, n) for g, truth in enumerate(truths)}


def test_groups_that_differ_by_noise_alone_get_closer_to_their_common_value():
    """Twelve pairs, all truly 2.0 (in logs), six windows each, 10% noise per window: the
    raw means scatter by the noise; pooled, every pair is nearer the truth than the worst
    raw mean, and the pooled error is smaller in total."""
    truth = np.log(2.0)
    for seed in range(20):
        groups = _noisy_groups([truth] * 12, 0.1, 6, seed)
        raw = {g: float(np.mean(v)) for g, v in groups.items()}
        pooled = shrunk_means(groups)
        assert sum(abs(pooled[g] - truth) for g in groups) < sum(abs(raw[g] - truth) for g in groups)
        assert max(abs(pooled[g] - truth) for g in groups) < max(abs(raw[g] - truth) for g in groups)


def test_groups_that_truly_differ_keep_their_own_means():
    """A GPU-like host: slowdowns 1.2, 1.6 and 3.0 measured with 1% noise stay theirs."""
    groups = _noisy_groups(list(np.log([1.2, 1.6, 3.0])), 0.01, 4, 0)
    pooled = shrunk_means(groups)
    for g, truth in enumerate([1.2, 1.6, 3.0]):
        assert np.exp(pooled[g]) == pytest.approx(truth, rel=0.02)
        assert pooled[g] == pytest.approx(np.mean(groups[g]), abs=1e-3)


def test_nothing_to_pool_leaves_the_means():
    one = {"a": np.array([1.0, 2.0, 3.0])}
    assert shrunk_means(one) == {"a": 2.0}
    single_windows = {"a": np.array([1.0]), "b": np.array([3.0])}   # no within-pair noise to measure
    assert shrunk_means(single_windows) == {"a": 1.0, "b": 3.0}
    identical = {"a": np.array([2.0, 2.0]), "b": np.array([2.0, 2.0])}
    assert shrunk_means(identical) == {"a": 2.0, "b": 2.0}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=6), min_size=1, max_size=8))
def test_a_pooled_mean_lies_between_its_own_mean_and_the_hosts(values):
    groups = {g: np.array(v) for g, v in enumerate(values)}
    host = float(np.mean(np.concatenate(list(groups.values()))))
    pooled = shrunk_means(groups)
    for g, v in groups.items():
        own = float(np.mean(v))
        assert min(own, host) - 1e-9 <= pooled[g] <= max(own, host) + 1e-9


def _pair_rows(victim: str, partner: str, ratios: list[float]) -> list[dict]:
    rows = []
    for repeat, ratio in enumerate(ratios):
        row = {**{c: np.nan for c in COLUMNS}, "key": f"interference/{victim}/{partner}/r{repeat}",
               "phase": "interference", "model": victim, "partner": partner, "batch_size": 1, "instances": 1,
               "think_ms": 0.0, "window": 0, "final": True, "stable": True, "requests": 100,
               "server_batch_ms": 10.0 * ratio, "server_batches": 100, "alone_batch_ms": 10.0}
        rows.append(row)
    return rows


# Beside / alone of the twelve pairs of two models in a profile of the embedded CPU host
# (one core; 2026-12-06 09:07, six windows each: batch 1 and 8 in three passes).
ONE_CORE = {
    ("m", "r18"): [1.01, 1.54, 1.91, 1.80, 1.48, 2.00],
    ("m", "r50"): [3.23, 2.06, 1.98, 1.47, 2.02, 3.03],
    ("m", "v"): [2.25, 1.94, 1.97, 1.57, 2.47, 1.63],
    ("r18", "m"): [1.93, 1.97, 2.01, 2.14, 1.79, 2.06],
    ("r18", "r50"): [1.85, 1.91, 1.79, 1.50, 2.13, 2.08],
    ("r18", "v"): [1.47, 1.60, 1.41, 2.05, 2.32, 1.96],
    ("r50", "m"): [2.04, 2.06, 2.03, 2.92, 1.41, 2.17],
    ("r50", "r18"): [2.44, 1.96, 2.02, 1.33, 1.85, 1.52],
    ("r50", "v"): [1.92, 1.61, 1.75, 2.09, 2.09, 1.52],
    ("v", "m"): [1.97, 2.78, 1.81, 2.01, 2.10, 2.30],
    ("v", "r18"): [1.55, 1.98, 1.82, 2.51, 1.54, 1.88],
    ("v", "r50"): [1.52, 2.60, 2.02, 2.12, 1.57, 1.94],
}


def test_pairs_of_one_core_that_differ_by_about_their_windows_noise_move_to_the_hosts_slowdown():
    """Their means run from 1.58 (m beside r18) to 2.22 (m beside r50), hardly further apart
    than six windows of that noise put them: pooled, they lie within a third of that range
    around the host's slowdown, near the 2 of one core fairly shared (m beside r18 taken as
    1.62 left the simulated p99 of m in a shared Gamma replay 21% short, at 1.8 14.5%)."""
    rows = [row for (victim, partner), ratios in ONE_CORE.items() for row in _pair_rows(victim, partner, ratios)]
    matrix = interference_matrix(pd.DataFrame(rows, columns=COLUMNS))
    pooled = np.array([matrix[victim][partner] for victim, partner in ONE_CORE])
    own = np.array([np.exp(np.mean(np.log(ratios))) for ratios in ONE_CORE.values()])
    host = np.exp(np.mean(np.log([r for ratios in ONE_CORE.values() for r in ratios])))
    assert np.ptp(pooled) < np.ptp(own) / 3 and np.all(np.abs(pooled - host) <= np.abs(own - host) + 1e-4)
    assert matrix["m"]["r18"] > 1.8 and 1.85 < host < 2.0
