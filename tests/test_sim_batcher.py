"""The simulated dynamic batcher follows Triton's rules (GUIDE.md, dynamic_batch_scheduler.cc)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.scenario import ModelConfig
from perseus.sim.batcher import BatchPolicy, decide
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
    config, arrivals = case
    req = run(config, arrivals)
    if not config.dynamic_batching:
        return
    starts, index = np.unique(req.start_s, return_inverse=True)
    for b, start in enumerate(starts):
        size = int(np.sum(index == b))
        queued = int(np.sum((req.arrival_s <= start) & (req.start_s >= start)))
        formable = [p for p in config.preferred_sizes if p <= queued]
        if formable and size < config.max_batch_size:
            assert size >= max(formable)


def test_decide_follows_trions_rules():
    policy = BatchPolicy.of(ModelConfig(max_batch_size=8, max_queue_delay_ms=5, preferred_batch_sizes=[2, 4]))
    assert decide(policy, 3, 0.0, 0.0) == (2, 0.0)        # largest preferred size that can be formed
    assert decide(policy, 7, 0.0, 0.0) == (4, 0.0)
    assert decide(policy, 9, 0.0, 0.0) == (8, 0.0)        # never above max
    assert decide(policy, 1, 0.0, 0.001) == (0, 0.005)    # wait for the delay from the oldest
    assert decide(policy, 1, 0.0, 0.005) == (1, 0.0)      # then send everything pending
    default = BatchPolicy.of(ModelConfig(max_batch_size=8, max_queue_delay_ms=0))
    assert default.preferred == (8,) and decide(default, 3, 0.0, 0.0) == (3, 0.0)   # D = 0: at once
    off = BatchPolicy.of(ModelConfig(max_batch_size=8))
    assert decide(off, 5, 0.0, 0.0) == (1, 0.0)           # no dynamic batching: one by one


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
