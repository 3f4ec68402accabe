"""The shared device: interference as progress rates, processor sharing as its special case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.profile import Profile, WakeLaw
from perseus.config.scenario import HostPlacement, ModelConfig
from perseus.sim import simulate_placement
from sim_helpers import one_host, poisson, profile

ONE_CORE = {"a": {"a": 2.0, "b": 2.0}, "b": {"a": 2.0, "b": 2.0}}


def two_models(a_ms: float, b_ms: float, arrivals_a, arrivals_b, interference=ONE_CORE):
    prof = profile({"a": {1: a_ms}, "b": {1: b_ms}}, interference=interference)
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    return one_host(prof, configs, {"a": np.asarray(arrivals_a, float), "b": np.asarray(arrivals_b, float)})


def latencies(trace):
    req = trace.requests
    return {m: req.latency_s[req.model == i] for i, m in enumerate(req.models)}


def test_two_batches_share_one_core_by_hand():
    lat = latencies(two_models(10, 10, [0.0], [0.0]))
    assert lat["a"][0] == pytest.approx(0.020) and lat["b"][0] == pytest.approx(0.020)
    lat = latencies(two_models(10, 30, [0.0], [0.0]))
    assert lat["a"][0] == pytest.approx(0.020)   # half speed while both run
    assert lat["b"][0] == pytest.approx(0.040)   # 10 ms of work at half speed, then 20 ms alone
    lat = latencies(two_models(10, 10, [0.0], [0.005]))
    assert lat["a"][0] == pytest.approx(0.015) and lat["b"][0] == pytest.approx(0.015)


def test_a_batch_that_joins_a_running_one_has_the_core_for_its_wake_slice():
    prof = profile({"a": {1: 10.0}, "b": {1: 30.0}}, interference=ONE_CORE)
    backlog = profile({"a": {1: 30.0}, "b": {1: 3.0}}, interference=ONE_CORE)
    backlog.wake_slice_ms = 1.0
    prof.wake_slice_ms = 1.0
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    # b runs alone 0-5 ms; a joins at 5 ms: a alone for 1 ms (b paused), then both at half
    # speed until a's 9 ms left are done (18 ms later), then b's last 16 ms alone
    lat = latencies(one_host(prof, configs, {"a": np.array([0.005]), "b": np.array([0.0])}))
    assert lat["a"][0] == pytest.approx(0.001 + 0.018) and lat["b"][0] == pytest.approx(0.005 + 0.001 + 0.018 + 0.016)
    # beside a partner that is always busy, a batch takes q + (alone - q) * S, the profiler's fit
    lat = latencies(one_host(prof, configs, {"a": np.array([0.005, 0.105]), "b": np.arange(0.0, 0.3, 0.030)}))
    assert lat["a"] == pytest.approx([0.001 + 0.009 * 2] * 2)
    # a batch that its instance starts as its previous one ends (a backlog) claims none:
    # b's first joins a at 1 ms (1 ms alone, 2 ms at half speed), its second follows at
    # 6 ms at half speed; a does 1 + 5 ms of work by 12 ms and its last 24 ms alone
    lat = latencies(one_host(backlog, configs, {"a": np.array([0.0]), "b": np.array([0.001, 0.002])}))
    assert lat["b"] == pytest.approx([0.005, 0.010]) and lat["a"][0] == pytest.approx(0.036)
    # a batch that starts on an empty device has no slice to claim
    lat = latencies(one_host(prof, configs, {"a": np.array([0.0]), "b": np.array([0.5])}))
    assert lat["a"][0] == pytest.approx(0.010) and lat["b"][0] == pytest.approx(0.030)


def test_wake_slices_are_exponential_with_the_measured_mean():
    """With a measured spread, a woken batch's slice is a draw: exponential around the
    profile's ``wake_slice_ms``, the same draws for the same seed."""
    prof = profile({"a": {1: 10.0}, "b": {1: 30.0}}, kind="empirical", interference=ONE_CORE)
    prof.wake_slice_ms = 1.0
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    arrivals = {"a": 0.005 + 0.1 * np.arange(400), "b": np.arange(0.0, 40.0, 0.030)}
    trace = one_host(prof, configs, arrivals, seed=3)
    # b is always busy: a's batch takes s + (10 ms - s) * 2 for a slice s under 10 ms
    slices = 0.020 - latencies(trace)["a"]
    assert slices.mean() == pytest.approx(0.001, rel=0.15)
    assert slices.std() == pytest.approx(slices.mean(), rel=0.25)
    assert slices.min() < 1e-4 and slices.max() > 0.003
    assert np.array_equal(latencies(one_host(prof, configs, arrivals, seed=3))["a"], latencies(trace)["a"])


def test_a_wake_law_preempts_for_its_slice_or_shares_from_the_start():
    """With a profile's ``wake_law`` a woken batch holds the core for ``slice_ms`` with
    probability ``preempt``, else none, and sharing is ``sharing_factor`` times slower."""
    prof = profile({"a": {1: 10.0}, "b": {1: 30.0}}, kind="empirical", interference=ONE_CORE)
    prof.wake_slice_ms = 1.0   # replaced by the law
    prof.wake_law = WakeLaw(preempt=0.3, slice_ms=4.0, sharing_factor=1.25)
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    arrivals = {"a": 0.005 + 0.1 * np.arange(400), "b": np.arange(0.0, 40.0, 0.030)}
    # b is always busy: a's batch takes 4 ms + 6 ms * 2.5 or 10 ms * 2.5 (its solo time varies)
    a = latencies(one_host(prof, configs, arrivals, seed=5))["a"] / 0.001
    preempted = a < 22.0
    assert preempted.mean() == pytest.approx(0.3, abs=0.07)
    assert np.median(a[preempted]) == pytest.approx(4.0 + 6.0 * 2.5, rel=0.05)
    assert np.median(a[~preempted]) == pytest.approx(25.0, rel=0.05)
    assert np.array_equal(latencies(one_host(prof, configs, arrivals, seed=5))["a"] / 0.001, a)
    # a pair without a measured slowdown stays free of one
    free = profile({"a": {1: 10.0}, "b": {1: 30.0}}, interference={"a": {"b": 2.0}})
    free.wake_law = WakeLaw(preempt=0.0, slice_ms=4.0, sharing_factor=1.25)
    lat = latencies(one_host(free, configs, {"a": np.array([0.0]), "b": np.array([0.0])}))
    assert lat["a"][0] == pytest.approx(0.025) and lat["b"][0] == pytest.approx(0.030)


def test_under_a_wake_law_a_backlog_batch_beside_another_model_claims_its_slice():
    """Under a ``wake_law`` a batch that its instance starts as its previous one ends draws
    the law too where another model's batch runs (the law is fit on every join), but not
    beside its own model's other instances."""
    law = WakeLaw(preempt=1.0, slice_ms=4.0, sharing_factor=1.0)
    prof = profile({"a": {1: 10.0}, "b": {1: 30.0}}, interference=ONE_CORE)
    prof.wake_law = law
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    # b runs from 0; a's first batch wakes at 5 ms: 4 ms alone, its last 6 ms at half speed
    # (ends at 21 ms); its second, queued since 6 ms, starts at 21 ms as a backlog: 4 ms
    # alone, 6 ms at half speed (ends at 37 ms); b's last 13 ms alone end at 50 ms
    lat = latencies(one_host(prof, configs, {"a": np.array([0.005, 0.006]), "b": np.array([0.0])}))
    assert lat["a"] == pytest.approx([0.016, 0.031]) and lat["b"][0] == pytest.approx(0.050)
    # one model on two instances: the second batch wakes at 1 ms beside the first (4 ms
    # alone, ends at 17 ms); the third, queued since 2 ms, starts there as a backlog beside
    # the first's last 3 ms: shared from the start (the first ends at 23 ms), then alone
    one_model = profile({"a": {1: 10.0}}, interference={"a": {"a": 2.0}})
    one_model.wake_law = law
    lat = latencies(one_host(one_model, {"a": ModelConfig(instances=2)}, {"a": np.array([0.0, 0.001, 0.002])}))
    assert lat["a"] == pytest.approx([0.023, 0.016, 0.028])


@settings(max_examples=40, deadline=None)
@given(slice_ms=st.floats(0.0, 5.0), gaps_a=st.lists(st.floats(0.0, 0.03), min_size=1, max_size=40),
       gaps_b=st.lists(st.floats(0.0, 0.03), min_size=1, max_size=40))
def test_wake_slices_keep_one_core_work_conserving(slice_ms, gaps_a, gaps_b):
    """On one fairly shared core the slices only reorder the work: busy time and the last
    departure are those of processor sharing, and every request is served once."""
    arrivals = {"a": np.cumsum(gaps_a), "b": np.cumsum(gaps_b)}
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    plain = profile({"a": {1: 7.0}, "b": {1: 3.0}}, interference=ONE_CORE)
    sliced = profile({"a": {1: 7.0}, "b": {1: 3.0}}, interference=ONE_CORE)
    sliced.wake_slice_ms = slice_ms
    base, trace = one_host(plain, configs, arrivals), one_host(sliced, configs, arrivals)
    assert trace.requests.ok.all() and len(trace.batches.size) == len(gaps_a) + len(gaps_b)
    assert trace.requests.finish_s.max() == pytest.approx(base.requests.finish_s.max(), abs=1e-9)
    assert trace.host_busy_s[0] == pytest.approx(base.host_busy_s[0], abs=1e-9)


def test_no_interference_without_a_matrix():
    lat = latencies(two_models(10, 30, [0.0], [0.0], interference={}))
    assert lat["a"][0] == pytest.approx(0.010) and lat["b"][0] == pytest.approx(0.030)


def processor_sharing(jobs: list[tuple[float, float, int]], queues: int) -> list[float]:
    """Finish times under egalitarian processor sharing of one server among the head
    jobs of ``queues`` FIFO queues (one instance per model): an independent computation."""
    pending = sorted(range(len(jobs)), key=lambda j: jobs[j][0])
    waiting: list[list[int]] = [[] for _ in range(queues)]
    running: dict[int, float] = {}
    finish = [0.0] * len(jobs)
    now, nxt = 0.0, 0
    while nxt < len(pending) or running or any(waiting):
        for q in range(queues):
            if waiting[q] and not any(jobs[j][2] == q for j in running):
                j = waiting[q].pop(0)
                running[j] = jobs[j][1]
        arrival = jobs[pending[nxt]][0] if nxt < len(pending) else np.inf
        share = len(running)
        done_in = min(running.values()) * share if running else np.inf
        step = min(arrival - now, done_in)
        for j in running:
            running[j] -= step / share
        now += step
        for j in [j for j, left in running.items() if left <= 1e-12]:
            finish[j] = now
            del running[j]
        if nxt < len(pending) and jobs[pending[nxt]][0] <= now + 1e-15:
            j = pending[nxt]
            waiting[jobs[j][2]].append(j)
            nxt += 1
    return finish


def test_matches_processor_sharing_on_random_arrivals():
    a, b = poisson(30, 300, 1), poisson(20, 200, 2)
    trace = two_models(12, 20, a, b)
    jobs = [(t, 0.012, 0) for t in a] + [(t, 0.020, 1) for t in b]
    expected = processor_sharing(jobs, 2)
    req = trace.requests
    np.testing.assert_allclose(req.finish_s, expected, atol=1e-9)


def test_instance_scaling_sets_same_model_slowdown():
    prof = profile({"a": {1: 10.0}}, scaling={"a": {2: 1.0}})   # two instances: no gain at all
    trace = one_host(prof, {"a": ModelConfig(instances=2)}, {"a": np.array([0.0, 0.0])})
    assert np.allclose(trace.requests.latency_s, 0.020)
    linear = one_host(profile({"a": {1: 10.0}}), {"a": ModelConfig(instances=2)}, {"a": np.array([0.0, 0.0])})
    assert np.allclose(linear.requests.latency_s, 0.010)


@pytest.mark.parametrize("router", ["least_outstanding", "round_robin", "random"])
def test_router_spreads_over_replicas(router):
    prof = Profile.model_validate({"models": {"a": {"batch_latency_ms": {1: {"mean": 20.0}}}}})
    hosts = [HostPlacement(host_type="t", models={"a": ModelConfig()}) for _ in range(3)]
    arrivals = {"a": poisson(60, 3000, 4)}
    trace = simulate_placement(hosts, {"t": prof}, arrivals, {"a": router}, 0, (0.0, 100.0))
    counts = np.bincount(trace.requests.host, minlength=3)
    assert counts.sum() == 3000 and counts.min() > (800 if router != "least_outstanding" else 100)
    if router == "round_robin":
        assert list(trace.requests.host[:6]) == [0, 1, 2, 0, 1, 2]
    if router == "least_outstanding":
        assert trace.requests.host[0] == 0   # ties go to the lowest index


def test_least_outstanding_avoids_a_slow_replica():
    slow = Profile.model_validate({"models": {"a": {"batch_latency_ms": {1: {"mean": 40.0}}}}})
    fast = Profile.model_validate({"models": {"a": {"batch_latency_ms": {1: {"mean": 5.0}}}}})
    hosts = [HostPlacement(host_type="fast", models={"a": ModelConfig()}),
             HostPlacement(host_type="slow", models={"a": ModelConfig()})]
    arrivals = {"a": poisson(40, 2000, 5)}
    trace = simulate_placement(hosts, {"slow": slow, "fast": fast}, arrivals, {"a": "least_outstanding"}, 0,
                               (0.0, 60.0))
    counts = np.bincount(trace.requests.host, minlength=2)
    assert counts[0] > 3 * counts[1] > 0   # the slow one only while the fast one is busy


def test_same_seed_same_numbers_bit_for_bit():
    prof = profile({"a": {1: 8.0, 8: 40.0}, "b": {1: 3.0, 8: 15.0}}, kind="exponential", interference=ONE_CORE)
    configs = {"a": ModelConfig(max_batch_size=8, max_queue_delay_ms=5), "b": ModelConfig(instances=2)}
    arrivals = {"a": poisson(50, 2000, 1), "b": poisson(80, 3000, 2)}
    first = one_host(prof, configs, arrivals, seed=9).requests
    second = one_host(prof, configs, arrivals, seed=9).requests
    assert first.finish_s.tobytes() == second.finish_s.tobytes()
    other = one_host(prof, configs, arrivals, seed=10).requests
    assert first.finish_s.tobytes() != other.finish_s.tobytes()


def test_hosts_linked_only_by_least_outstanding_routers():
    from perseus.sim.engine import linked_groups
    a, b, c = ({"a": ModelConfig()}, {"b": ModelConfig()}, {"a": ModelConfig(), "b": ModelConfig()})
    hosts = [HostPlacement(host_type="t", models=m) for m in (a, b, c, b)]
    assert linked_groups(hosts, {}) == [0, 0, 0, 0]                      # a links 0-2, b links 1-2-3
    assert linked_groups(hosts, {"a": "round_robin"}) == [0, 1, 1, 1]
    assert linked_groups(hosts, {"a": "random", "b": "round_robin"}) == [0, 1, 2, 3]


def test_independent_hosts_give_what_each_gives_alone():
    """Hosts that no router links run on separate event loops; a host's numbers must not
    depend on the others being there."""
    prof = profile({"a": {1: 8.0, 8: 40.0}, "b": {1: 3.0, 8: 15.0}}, kind="exponential", interference=ONE_CORE)
    configs = {"a": ModelConfig(max_batch_size=8, max_queue_delay_ms=5), "b": ModelConfig(instances=2)}
    arrivals = {"a": poisson(50, 2000, 1), "b": poisson(80, 3000, 2)}
    hosts = [HostPlacement(host_type="t", models=configs), HostPlacement(host_type="t", models={"c": ModelConfig()})]
    both = simulate_placement(hosts, {"t": profile({"a": {1: 8.0, 8: 40.0}, "b": {1: 3.0, 8: 15.0}, "c": {1: 9.0}},
                                                   kind="exponential", interference=ONE_CORE)},
                              {**arrivals, "c": poisson(30, 1000, 3)}, {}, 0, (0.0, 70.0)).requests
    alone = simulate_placement(hosts[:1], {"t": prof}, arrivals, {}, 0, (0.0, 70.0)).requests
    first = both.model < 2
    assert both.finish_s[first].tobytes() == alone.finish_s.tobytes()
    assert np.isfinite(both.finish_s[~first]).all()


def test_model_switch_costs_extra_only_when_the_device_ran_another_model_last():
    prof = profile({"a": {1: 10.0}, "b": {1: 4.0}}, interference=ONE_CORE)
    prof.switch_ms = {"b": {"a": 1.5}, "a": {"b": 0.5}}
    configs = {"a": ModelConfig(), "b": ModelConfig()}
    arrivals = {"a": np.array([0.0, 0.050]), "b": np.array([0.020, 0.030, 0.052])}
    trace = one_host(prof, configs, arrivals)
    lat = latencies(trace)
    # b at 0.020: a ran last -> 4 + 1.5 ms; b at 0.030: b ran last -> 4 ms;
    # a at 0.050: b ran last -> 10.5 ms of work, shared with b from 0.052 (no switch: beside it)
    assert lat["b"][0] == pytest.approx(0.0055) and lat["b"][1] == pytest.approx(0.004)
    assert lat["b"][2] == pytest.approx(0.008)                 # 4 ms of work at half speed
    assert lat["a"][0] == pytest.approx(0.010)                 # nothing ran before it
    assert lat["a"][1] == pytest.approx(0.0105 + 0.004)        # 2 ms alone, 8 ms at half, 0.5 alone
