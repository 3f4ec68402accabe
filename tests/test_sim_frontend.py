"""The core's state when a request arrives (idle, busy, waking, asleep) and the front end drawn for it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from perseus.config.profile import OverheadStats
from perseus.config.scenario import ModelConfig
from perseus.sim.frontend import ASLEEP, ASLEEP_AFTER_S, BUSY, IDLE, WAKING, core_states
from sim_helpers import one_host, profile


def test_states_by_hand():
    starts, ends = np.array([0.010, 0.0, 0.030]), np.array([0.014, 0.020, 0.0305])
    times = np.array([0.0, 0.0005, 0.005, 0.0105, 0.0115, 0.025, 0.030, 0.0302, 0.031, 0.1])
    assert core_states(starts, ends, times, 0.001, times).tolist() == [
        ASLEEP,   # nothing before it; the batch starting at that very time is its own
        WAKING,   # 0.5 ms into a batch
        BUSY,
        WAKING,   # a second batch joined 0.5 ms ago
        BUSY,
        IDLE,     # 5 ms after the last batch ended
        IDLE,
        WAKING,
        IDLE,     # the young batch has ended
        ASLEEP,   # 69 ms after anything happened
    ]
    assert core_states(starts, ends, times, 0.0, times).tolist() == [
        ASLEEP, BUSY, BUSY, BUSY, BUSY, IDLE, IDLE, BUSY, IDLE, ASLEEP]
    assert core_states(np.empty(0), np.empty(0), times, 0.001, times).tolist() == [ASLEEP] + [IDLE] * 8 + [ASLEEP]
    another = np.sort(np.append(times, 0.09))        # another model's request keeps the core awake
    assert core_states(starts, ends, times, 0.001, another)[-1] == IDLE


batches = st.lists(st.tuples(st.floats(0, 1), st.floats(1e-4, 0.2)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(batches, st.lists(st.floats(0, 1.3), max_size=30), st.lists(st.floats(0, 1.3), max_size=30),
       st.floats(0, 0.05))
def test_states_match_their_definition(spans, times, others, slice_s):
    starts = np.array([s for s, _ in spans])
    ends = starts + np.array([d for _, d in spans])
    times = np.array(times)
    arrivals = np.sort(np.concatenate([times, others]))
    expected = []
    for t in times:
        executing = [s for s, e in zip(starts, ends) if s < t < e]
        events = [e for s, e in zip(starts, ends) if s < t] + [a for a in arrivals if a < t]
        asleep = t - max(events, default=-np.inf) >= ASLEEP_AFTER_S
        expected.append(WAKING if any(s > t - slice_s for s in executing) else BUSY if executing
                        else ASLEEP if asleep else IDLE)
    assert core_states(starts, ends, times, slice_s, arrivals).tolist() == expected


def _fixed(ms: float) -> OverheadStats:
    return OverheadStats(mean=ms, p5=ms, p25=ms, p50=ms, p75=ms, p95=ms, p99=ms, n=500)


def test_each_request_draws_from_its_state():
    """A 10 ms batch, a request 0.5 ms into it (waking) and one 5 ms into it (busy); the
    next arrives on a core asleep for 80 ms, the last on one idle for 5 ms."""
    prof = profile({"m": {1: 10.0}})
    prof.wake_slice_ms = 1.0
    prof.models["m"].front_end_by_core_ms = {"idle": _fixed(1.0), "busy": _fixed(2.0), "waking": _fixed(4.0),
                                             "asleep": _fixed(3.0)}
    trace = one_host(prof, {"m": ModelConfig()}, {"m": np.array([0.0, 0.0005, 0.005, 0.1, 0.115])})
    req = trace.requests
    assert np.allclose((req.finish_s - req.end_s) * 1e3, [3.0, 4.0, 2.0, 3.0, 1.0])


def test_spread_keeps_the_measured_quantiles():
    prof = profile({"m": {1: 1.0}})
    spread = OverheadStats(mean=1.2, p5=0.5, p25=0.7, p50=0.9, p75=1.2, p95=3.0, p99=4.5, n=900)
    prof.models["m"].front_end_by_core_ms = {"idle": spread}   # the others take the idle spread
    arrivals = np.arange(20_000) * 0.01                         # always an idle core
    req = one_host(prof, {"m": ModelConfig()}, {"m": arrivals}, seed=2).requests
    front_ms = (req.finish_s - req.end_s) * 1e3
    assert np.percentile(front_ms, [5, 25, 50, 75, 95, 99]) == pytest.approx(
        [0.5, 0.7, 0.9, 1.2, 3.0, 4.5], rel=0.03)
