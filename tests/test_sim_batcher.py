"""The simulated dynamic batcher follows Triton's rules (GUIDE.md, dynamic_batch_scheduler.cc,
rate_limiter.cc, instance_queue.cc): batch formation, delay, preferred sizes, prefetched
payloads, merging, max_queue_size."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.scenario import ModelConfig
from perseus.sim.batcher import BatchPolicy, batch_size_now
from sim_helpers import one_host, profile

CURVE = {1: 10.0, 2: 14.0, 4: 22.0, 8: 38.0, 16: 70.0}


@st.composite
def batcher_case(draw):
    max_batch = draw(st.integers(1, 16))
    preferred = draw(st.none() | st.lists(st.integers(1, max_batch), min_size=1, max_size=3, unique=True))
    delay = draw(st.none() | st.sampled_from([0.0, 1.0, 5.0, 20.0]))
    if max_batch > 1 and delay is None and preferred is None:
        delay = 2.0
    config = ModelConfig(instances=draw(st.integers(1, 3)), max_batch_size=max_batch, max_queue_delay_ms=delay,
                         preferred_batch_sizes=preferred)
    gaps = draw(st.lists(st.floats(0.0, 0.03), min_size=1, max_size=120))
    return config, np.cumsum(gaps)


def run(config, arrivals):
    return one_host(profile({"m": CURVE}), {"m": config}, {"m": arrivals}).requests


@settings(max_examples=60, deadline=None)
@given(batcher_case())
def test_no_batch_exceeds_max_and_all_finish(case):
    config, arrivals = case
    req = run(config, arrivals)
    assert req.ok.all()
    assert req.batch_size.max() <= max(config.batch_limit, 1)


@settings(max_examples=60, deadline=None)
@given(batcher_case())
def test_requests_leave_the_queue_in_arrival_order(case):
    config, arrivals = case
    req = run(config, arrivals)
    order = np.argsort(req.arrival_s, kind="stable")
    assert np.all(np.diff(req.start_s[order]) >= -1e-12)


@settings(max_examples=60, deadline=None)
@given(batcher_case())
def test_no_request_waits_past_the_delay_while_an_instance_is_idle(case):
    config, arrivals = case
    trace = one_host(profile({"m": CURVE}), {"m": config}, {"m": arrivals})
    req, batches = trace.requests, trace.batches
    delay = config.queue_delay_s if config.dynamic_batching else 0.0
    for arrival, start in zip(req.arrival_s, req.start_s):
        deadline = arrival + delay
        if start <= deadline + 1e-9:
            continue
        # it waited longer: then every instance was busy at some moment in (deadline, start)
        busy = np.sum((batches.start_s <= deadline + 1e-9) & (batches.end_s > deadline + 1e-9))
        later = np.sum((batches.start_s > deadline) & (batches.start_s < start - 1e-12))
        assert busy >= config.instances or later > 0, (arrival, start)


@settings(max_examples=60, deadline=None)
@given(batcher_case())
def test_preferred_size_is_used_whenever_it_can_be_formed(case):
    """A batch formed for an idle instance (not taken at another batch's end, where a
    prefetched payload may be waiting) has the largest preferred size the queue can form."""
    config, arrivals = case
    trace = one_host(profile({"m": CURVE}), {"m": config}, {"m": arrivals})
    req, batches = trace.requests, trace.batches
    if not config.dynamic_batching:
        return
    for start in np.unique(batches.start_s):
        if np.any(batches.end_s == start):
            continue
        # the batches that left together at ``start`` were formed one after another,
        # each from what the ones before it left in the queue
        remaining = int(np.sum((req.arrival_s <= start) & (req.start_s >= start)))
        for size in sorted(batches.size[batches.start_s == start], reverse=True):
            formable = [p for p in config.preferred_sizes if p <= remaining]
            if formable and size < config.max_batch_size:
                assert size == max(formable)
            remaining -= size


def test_batch_size_now_follows_tritons_rules():
    policy = BatchPolicy.of(ModelConfig(max_batch_size=8, max_queue_delay_ms=5, preferred_batch_sizes=[2, 4]))
    assert batch_size_now(policy, 3, 0.0, 0.0) == 2        # largest preferred size that can be formed
    assert batch_size_now(policy, 7, 0.0, 0.0) == 4
    assert batch_size_now(policy, 9, 0.0, 0.0) == 8        # never above max
    assert batch_size_now(policy, 1, 0.0, 0.001) == 0      # wait for the delay from the oldest
    assert batch_size_now(policy, 1, 0.0, 0.005) == 1      # then send everything pending
    default = BatchPolicy.of(ModelConfig(max_batch_size=8, max_queue_delay_ms=0))
    assert default.preferred == (8,) and batch_size_now(default, 3, 0.0, 0.0) == 3   # D = 0: at once
    off = BatchPolicy.of(ModelConfig(max_batch_size=8))
    assert batch_size_now(off, 5, 0.0, 0.0) == 1           # no dynamic batching: one by one


def test_single_instance_takes_everything_queued_when_it_frees():
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=0)
    arrivals = np.array([0.0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006])
    req = run(config, arrivals)
    # first request alone (D = 0), then the six that queued behind it: 4 (max), then 2
    assert list(req.batch_size) == [1, 4, 4, 4, 4, 2, 2]
    assert req.start_s[1] == req.start_s[0] + 0.010
    assert req.start_s[5] == req.start_s[1] + 0.022


def test_preferred_sizes_with_delay_by_hand():
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=5, preferred_batch_sizes=[2, 4])
    arrivals = np.array([0.0, 0.0, 0.0, 0.1])
    req = run(config, arrivals)
    assert list(req.batch_size[:2]) == [2, 2]             # preferred 2 at once, not all 3
    assert req.start_s[2] == req.start_s[0] + 0.014       # the third waits for the instance,
    assert req.batch_size[2] == 1                          # past its delay: sent alone
    assert req.start_s[3] == 0.1 + 0.005 and req.batch_size[3] == 1


def test_three_at_once_with_preferred_two_and_four():
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=5, preferred_batch_sizes=[2, 4])
    req = run(config, np.zeros(3))
    assert list(req.batch_size) == [2, 2, 1] and list(req.start_s) == [0.0, 0.0, 0.014]


def test_zero_delay_sends_what_is_pending_at_once():
    config = ModelConfig(max_batch_size=8, max_queue_delay_ms=0)
    req = run(config, np.array([0.0, 0.0, 0.0, 0.02]))
    assert list(req.batch_size) == [3, 3, 3, 1]             # all three at t = 0, not waiting for 8
    assert list(req.start_s) == [0.0, 0.0, 0.0, 0.02]


def test_delay_counts_from_the_oldest_request():
    config = ModelConfig(max_batch_size=8, max_queue_delay_ms=5)
    req = run(config, np.array([0.0, 0.003, 0.004]))
    assert list(req.batch_size) == [3, 3, 3] and np.allclose(req.start_s, 0.005)


def test_measured_timer_lag_delays_the_expiry_but_not_the_merge_rule():
    prof = profile({"m": CURVE})
    prof.models["m"].queue_delay_lag_ms = 0.2
    config = ModelConfig(max_batch_size=8, max_queue_delay_ms=5)
    req = one_host(prof, {"m": config}, {"m": np.array([0.0, 0.003, 0.0051, 0.1])}).requests
    assert list(req.batch_size) == [3, 3, 3, 1]            # 5.1 ms still makes the 5.2 ms expiry
    assert np.allclose(req.start_s, [0.0052, 0.0052, 0.0052, 0.1052])
    policy = BatchPolicy.of(config, 0.0002)
    assert (policy.delay_s, policy.timer_s) == (0.005, 0.0052) and policy.merges
    assert BatchPolicy.of(ModelConfig(max_batch_size=8, max_queue_delay_ms=0), 0.0002).timer_s == 0.0   # no timer


WAITING = np.array([0.0, 0.0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006])


def test_freed_instance_merges_payloads_older_than_the_delay():
    """Preferred [2]: payloads saturate at 2 while the instance is busy, two of them wait
    (2 x 1 instance); at 14 ms the instance takes the first and merges the second, whose
    oldest request has waited longer than 5 ms (InstanceQueue::Dequeue)."""
    config = ModelConfig(max_batch_size=8, max_queue_delay_ms=5, preferred_batch_sizes=[2])
    req = run(config, WAITING)
    assert list(req.batch_size) == [2, 2, 4, 4, 4, 4, 2, 2]
    assert np.allclose(req.start_s, [0, 0, 0.014, 0.014, 0.014, 0.014, 0.036, 0.036])


def test_no_merging_without_a_delay():
    config = ModelConfig(max_batch_size=8, max_queue_delay_ms=0, preferred_batch_sizes=[2])
    req = run(config, WAITING)
    assert list(req.batch_size) == [2] * 8
    assert np.allclose(req.start_s, [0, 0, 0.014, 0.014, 0.028, 0.028, 0.042, 0.042])


def test_waiting_payload_absorbs_arrivals_until_full():
    """Two instances, both busy: the prefetched payload takes what arrives until it holds
    max_batch_size (the default preferred size), the rest forms the next payload."""
    config = ModelConfig(instances=2, max_batch_size=4, max_queue_delay_ms=1)
    arrivals = np.array([0.0, 0.003, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010])
    req = run(config, arrivals)
    assert list(req.batch_size) == [1, 1, 4, 4, 4, 4, 2, 2]   # the first two alone, after the delay
    assert np.allclose(req.start_s, [0.001, 0.004, 0.011, 0.011, 0.011, 0.011, 0.014, 0.014])


def test_full_queue_rejects_at_once():
    config = ModelConfig(max_queue_size=2)
    trace = one_host(profile({"m": CURVE}), {"m": config}, {"m": np.zeros(5)})
    req = trace.requests
    assert list(req.ok) == [True, True, True, False, False]
    assert list(req.finish_s[3:]) == [0.0, 0.0]              # answered UNAVAILABLE on arrival
    assert np.allclose(req.finish_s[:3], [0.010, 0.020, 0.030])
