"""The front end's work per arrival: the device pauses, and the profiler's fit recovers it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.scenario import ModelConfig
from perseus.profile.ingress import fit_arrival_work, lone_batches
from perseus.sim.ingress import ArrivalPauses
from sim_helpers import one_host, poisson, profile, traced


def paused_profile(batch_ms: float, work_ms: float):
    prof = profile({"a": {1: batch_ms}})
    prof.arrival_work_ms = work_ms
    return prof


def test_pauses_merge_and_the_clock_skips_them():
    pauses = ArrivalPauses(1.0, np.array([10.0, 3.0, 3.5]))   # [2, 3.5) merged, [9, 10)
    assert [pauses.paused(t) for t in (2.0, 3.0, 3.5, 9.5, 12.0)] == [0.0, 1.0, 1.5, 2.0, 2.5]
    assert pauses.wall(0.0, 5.0) == 6.5 and pauses.wall(0.0, 2.0) == 2.0   # ends as a pause begins
    assert pauses.wall(6.5, 3.0) == 10.5 and pauses.progress(0.0, 10.5) == 8.0
    assert pauses.wall(2.5, 0.0) == 2.5   # never before now


def test_an_arrival_pauses_the_running_batch_but_not_its_own():
    lat = one_host(paused_profile(10.0, 1.0), {"a": ModelConfig()}, {"a": np.array([0.0, 0.004])}).requests.latency_s
    # the second request's front end [3, 4) ms pauses the first batch; its own batch then runs 10 ms
    assert lat[0] == pytest.approx(0.011) and lat[1] == pytest.approx(0.017)
    alone = one_host(paused_profile(10.0, 1.0), {"a": ModelConfig()}, {"a": np.array([0.0])}).requests.latency_s
    assert alone[0] == pytest.approx(0.010)


def test_a_request_routed_on_arrival_pauses_like_one_known_before():
    arrivals = {"a": np.array([0.0, 0.004, 0.006, 0.050])}
    known = one_host(paused_profile(10.0, 1.0), {"a": ModelConfig()}, arrivals).requests
    routed = one_host(paused_profile(10.0, 1.0), {"a": ModelConfig(max_queue_size=100)}, arrivals).requests
    np.testing.assert_allclose(routed.finish_s, known.finish_s, atol=1e-12)
    np.testing.assert_allclose(known.latency_s, [0.012, 0.018, 0.026, 0.010], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(work_ms=st.floats(0.0, 3.0), gaps=st.lists(st.floats(0.0, 0.02), min_size=1, max_size=60))
def test_pauses_only_delay_and_keep_every_request(work_ms, gaps):
    """One FIFO instance: each request leaves no earlier than without pauses, and the busy
    time grows by at most the pauses."""
    arrivals = {"a": np.cumsum(gaps)}
    plain = one_host(profile({"a": {1: 4.0}}), {"a": ModelConfig()}, arrivals)
    paused = one_host(paused_profile(4.0, work_ms), {"a": ModelConfig()}, arrivals)
    assert paused.requests.ok.all() and len(paused.batches.size) == len(gaps)
    assert (paused.requests.finish_s >= plain.requests.finish_s - 1e-12).all()
    assert plain.host_busy_s[0] - 1e-9 <= paused.host_busy_s[0] <= plain.host_busy_s[0] + len(gaps) * work_ms / 1e3 + 1e-9


def paused_replay(batch_ms: float, work_ms: float, arrivals: np.ndarray) -> pd.DataFrame:
    """A simulated replay's requests in the columns of Triton's traces."""
    return traced(paused_profile(batch_ms, work_ms), arrivals)


def test_the_profilers_fit_recovers_the_simulated_work():
    """The fit reads what the device does: lone batches, longer by the work per arrival."""
    arrivals = poisson(60, 6000, 3)
    assert fit_arrival_work(paused_replay(5.0, 0.4, arrivals)) == pytest.approx(0.4, abs=0.02)
    assert fit_arrival_work(paused_replay(5.0, 0.0, arrivals)) == 0.0
    assert fit_arrival_work(paused_replay(5.0, 0.4, arrivals).iloc[:50]) is None   # too few batches with arrivals


def test_the_fit_compares_a_batch_with_its_neighbours_as_the_core_drifts():
    """A replay's busy half computes faster than its quiet half (the profile's replay at
    two utilisations): against one median over the whole replay, batches with arrivals
    would look short."""
    busy, quiet = paused_replay(5.0, 0.4, poisson(120, 4000, 5)), paused_replay(6.0, 0.4, 40.0 + poisson(20, 1000, 6))
    assert fit_arrival_work(pd.concat([busy, quiet], ignore_index=True)) == pytest.approx(0.4, abs=0.05)


def test_batches_of_other_hosts_at_the_same_time_are_still_lone():
    """A placement's hosts each have their own core: a batch is lone when no other batch
    of its own host overlaps it, whatever the other hosts run meanwhile."""
    one = paused_replay(5.0, 0.4, poisson(60, 3000, 3))
    both = pd.concat([one, one.assign(host="g")], ignore_index=True)   # the same batches on a second host
    alone, together = lone_batches(one), lone_batches(both)
    assert len(together) == 2 * len(alone) > 0
    assert fit_arrival_work(both) == pytest.approx(fit_arrival_work(one))
