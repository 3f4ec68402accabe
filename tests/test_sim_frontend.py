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


def _split_front_end(prof, receive_ms: dict[str, float], respond_ms: dict[str, float]) -> None:
    model = prof.models["m"]
    model.receive_by_core_ms = {state: _fixed(ms) for state, ms in receive_ms.items()}
    model.respond_by_core_ms = {state: _fixed(ms) for state, ms in respond_ms.items()}
    model.front_end_by_core_ms = {state: _fixed(receive_ms[state] + respond_ms[state]) for state in receive_ms}


def test_a_request_joins_its_queue_once_received():
    """10 ms batches of one. Sent at 0 on a core asleep, the first is received 3 ms later
    and computes 3-13 ms. The second, sent at 5 ms into that batch (busy), is received at 7
    ms and waits for the instance until 13: its receive hides in that wait. The third, sent
    0.5 ms into the second's batch (waking), is received 4 ms later and waits until 23.
    Then a core asleep for 67 ms, and one idle for 2 ms after the fourth's batch. Each
    answer leaves after the part of the front end its core's state gave it."""
    prof = profile({"m": {1: 10.0}})
    prof.wake_slice_ms = 1.0
    _split_front_end(prof, {"idle": 1.0, "busy": 2.0, "waking": 4.0, "asleep": 3.0},
                     {"idle": 0.1, "busy": 0.2, "waking": 0.3, "asleep": 0.4})
    trace = one_host(prof, {"m": ModelConfig()}, {"m": np.array([0.0, 0.005, 0.0135, 0.1, 0.115])})
    req = trace.requests
    assert np.allclose(req.received_s * 1e3, [3.0, 7.0, 17.5, 103.0, 116.0])
    assert np.allclose(req.start_s * 1e3, [3.0, 13.0, 23.0, 103.0, 116.0])
    assert np.allclose((req.finish_s - req.end_s) * 1e3, [0.4, 0.2, 0.3, 0.4, 0.1])
    assert np.allclose(req.latency_s * 1e3, [13.4, 18.2, 19.8, 13.4, 11.1])


def test_the_batchers_delay_counts_from_the_receive():
    """With a 5 ms max_queue_delay, a request on an idle core received 1 ms after its send
    starts its batch 6 ms after it; one sent 0.5 ms later, received 1 ms after that, joins it."""
    prof = profile({"m": {1: 10.0, 2: 12.0, 4: 16.0}})
    _split_front_end(prof, {"idle": 1.0}, {"idle": 0.1})
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=5.0)
    req = one_host(prof, {"m": config}, {"m": np.array([0.0, 0.0005])}).requests
    assert np.allclose(req.start_s * 1e3, [6.0, 6.0]) and req.batch_size.tolist() == [2, 2]


def test_receives_keep_runs_reproducible_and_requests_conserved():
    """Poisson arrivals at half the core, receive and response spreads by core state: every
    request is answered once, after it was received, and the same seed gives the same run."""
    prof = profile({"m": {1: 5.0, 4: 12.0}})
    prof.wake_slice_ms = 1.0
    spread = OverheadStats(mean=1.2, p5=0.5, p25=0.7, p50=0.9, p75=1.2, p95=3.0, p99=4.5, n=900)
    prof.models["m"].receive_by_core_ms = {"idle": spread, "busy": spread.scaled(2.0)}
    prof.models["m"].respond_by_core_ms = {"idle": spread.scaled(0.3)}
    arrivals = np.cumsum(np.random.default_rng(1).exponential(0.01, 5_000))
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=2.0)
    runs = [one_host(prof, {"m": config}, {"m": arrivals}, seed=3).requests for _ in range(2)]
    req = runs[0]
    assert req.ok.all() and np.all(req.received_s >= req.arrival_s) and np.all(req.start_s >= req.received_s)
    assert np.array_equal(runs[0].finish_s, runs[1].finish_s)
    assert np.array_equal(runs[0].received_s, runs[1].received_s)


def test_a_model_receives_its_requests_in_the_order_they_were_sent():
    """Sent at 0 on a core asleep, the first request of ``m`` is received 3 ms later; the
    second, sent 0.5 ms after it on an idle core (1 ms), is not received before it (at 3
    ms, not 1.5) and runs after it. A request of ``n`` sent then is not held behind ``m``'s."""
    prof = profile({"m": {1: 10.0}, "n": {1: 10.0}})
    for name in ("m", "n"):
        prof.models[name].receive_by_core_ms = {"idle": _fixed(1.0), "asleep": _fixed(3.0)}
        prof.models[name].respond_by_core_ms = {"idle": _fixed(0.1), "asleep": _fixed(0.1)}
    trace = one_host(prof, {"m": ModelConfig(), "n": ModelConfig()},
                     {"m": np.array([0.0, 0.0005]), "n": np.array([0.0005])})
    req = trace.requests
    m, n = req.model == req.models.index("m"), req.model == req.models.index("n")
    assert np.allclose(req.received_s[m] * 1e3, [3.0, 3.0])
    assert req.start_s[m][1] >= req.end_s[m][0]
    assert np.allclose(req.received_s[n] * 1e3, [1.5])
