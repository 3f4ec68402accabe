"""The host's open-loop spread of batch times: the profiler's fit recovers the simulator's."""

from __future__ import annotations

import pandas as pd
import pytest

from perseus.config.profile import Profile, Quantiles
from perseus.profile.spread import fit_batch_spread
from sim_helpers import poisson, profile, traced

SPREAD = Quantiles(mean=1.03, p5=0.8, p25=0.93, p50=1.0, p75=1.07, p95=1.4, p99=2.0)


def spread_profile(batch_ms: float, spread: Quantiles | None = SPREAD, work_ms: float | None = None) -> Profile:
    prof = profile({"a": {1: batch_ms}}, kind="empirical" if spread else "deterministic")
    prof.batch_spread, prof.arrival_work_ms = spread, work_ms
    return prof


def ratios(spread: Quantiles) -> list[float]:
    return [spread.p5, spread.p50, spread.p95, spread.p99]


def test_the_fit_recovers_the_simulated_spread():
    fitted = fit_batch_spread(traced(spread_profile(5.0), poisson(40, 6000, 1)))
    assert fitted is not None and fitted.n > 4000
    assert ratios(fitted) == pytest.approx([0.8, 1.0, 1.4, 2.0], rel=0.05)


def test_the_cores_drift_is_not_spread():
    """A replay whose second half computes 30% slower (the machine drifted): against one
    median over the replay, its batches would spread wider than each computes."""
    fast = traced(spread_profile(5.0), poisson(40, 3000, 2))
    slow = traced(spread_profile(6.5), 80.0 + poisson(40, 3000, 3))
    fitted = fit_batch_spread(pd.concat([fast, slow], ignore_index=True))
    assert fitted is not None and ratios(fitted) == pytest.approx([0.8, 1.0, 1.4, 2.0], rel=0.06)


def test_the_front_ends_work_is_taken_out():
    """Batches that always compute 5 ms, paused 0.4 ms for each request received while
    they run, have no spread of their own."""
    replay = traced(spread_profile(5.0, spread=None, work_ms=0.4), poisson(60, 6000, 4))
    assert fit_batch_spread(replay, 0.4).p99 == pytest.approx(1.0, abs=0.01)
    assert fit_batch_spread(replay, 0.0).p99 > 1.07


def test_too_few_lone_batches_give_no_spread():
    assert fit_batch_spread(traced(spread_profile(5.0), poisson(40, 60, 5))) is None
