"""Batch times and overheads drawn from a profile."""

from __future__ import annotations

import numpy as np
import pytest

from perseus.config.profile import ColdStart, LinearFit, ModelProfile, OverheadStats, Quantiles, SpeedPath
from perseus.config.scenario import ModelConfig
from perseus.sim.service import HEAT_MEMORY_S, WARM_MEMORY_S, ServiceTime
from sim_helpers import one_host, profile


def service(entry: dict, max_batch: int = 16, seed: int = 0) -> ServiceTime:
    return ServiceTime(ModelProfile.model_validate(entry), np.random.default_rng(seed), max_batch)


def test_means_interpolate_between_and_extrapolate_beyond_measured_sizes():
    s = service({"batch_latency_ms": {1: {"mean": 10}, 4: {"mean": 22}, 8: {"mean": 38}}, "service_time": "deterministic"})
    assert s.draw(1) == pytest.approx(0.010) and s.draw(2) == pytest.approx(0.014)
    assert s.draw(16) == pytest.approx(0.070)   # slope of the last two points


def test_empirical_spread_keeps_the_mean_and_the_quantiles_shape():
    stats = {"mean": 10.0, "p50": 9.5, "p95": 13.0, "p99": 16.0}
    s = service({"batch_latency_ms": {1: stats}}, seed=3)
    draws = np.array([s.draw(1) for _ in range(40_000)]) * 1e3
    assert draws.mean() == pytest.approx(10.0, rel=0.01)
    assert np.percentile(draws, 95) / np.percentile(draws, 50) == pytest.approx(13.0 / 9.5, rel=0.03)


def test_the_hosts_open_loop_spread_replaces_each_sizes_at_every_size():
    """With ``batch_spread`` every batch size draws the same ratios around its own mean, the
    closed-loop quantiles of the size ignored."""
    spread = Quantiles(mean=1.03, p5=0.8, p25=0.93, p50=1.0, p75=1.07, p95=1.4, p99=2.0)
    curve = {1: {"mean": 10.0, "p50": 10.0, "p95": 10.5}, 4: {"mean": 30.0, "p50": 30.0, "p95": 31.0}}
    s = ServiceTime(ModelProfile.model_validate({"batch_latency_ms": curve}), np.random.default_rng(4), 8,
                    spread=spread)
    for size, mean_ms in ((1, 10.0), (2, 50.0 / 3), (4, 30.0)):
        draws = np.array([s.draw(size) for _ in range(40_000)]) * 1e3
        assert draws.mean() == pytest.approx(mean_ms, rel=0.01)
        quantiles = np.percentile(draws, [5, 95, 99]) / np.percentile(draws, 50)
        assert quantiles == pytest.approx([0.8, 1.4, 2.0], rel=0.03)


def test_exponential_and_lognormal_have_their_spread():
    exp = service({"batch_latency_ms": {1: {"mean": 10}}, "service_time": "exponential"}, seed=1)
    draws = np.array([exp.draw(1) for _ in range(40_000)])
    assert draws.std() / draws.mean() == pytest.approx(1.0, rel=0.03)
    log = service({"batch_latency_ms": {1: {"mean": 10, "std": 3}}, "service_time": "lognormal"}, seed=2)
    draws = np.array([log.draw(1) for _ in range(40_000)])
    assert draws.mean() == pytest.approx(0.010, rel=0.01) and draws.std() / draws.mean() == pytest.approx(0.3, rel=0.05)


def test_cold_start_scales_compute_and_adds_overhead_after_idle_time():
    prof = profile({"m": {1: 9.0, 4: 22.0}})
    prof.models["m"].cold_start = ColdStart(idle_ms=[1.0, 11.0, 101.0], compute_ms=[9.0, 10.0, 12.0],
                                            overhead_ms=[0.5, 0.7, 1.5])
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=0)
    # t=0: first batch ever (a cold model: 12/9 of 9 ms); t=0.005 queues behind it and
    # starts back to back, still cold (its overhead the back-to-back one); t=0.049 after a
    # 25 ms rest, the model having computed 24 ms in its life (cold; overhead by the rest,
    # 0.7 ms + 0.8 ms * 14/90); at t=1.0 four at once: a batch of 4, cold, 22 ms plus batch
    # 1's extra 3 ms (no share measured)
    arrivals = np.array([0.0, 0.005, 0.049, 1.0, 1.0, 1.0, 1.0])
    trace = one_host(prof, {"m": config}, {"m": arrivals})
    req, batches = trace.requests, trace.batches
    assert list(batches.size) == [1, 1, 1, 4]
    assert np.allclose(batches.end_s, [0.012, 0.024, 0.049 + 0.012, 1.0 + 0.022 + 0.003])
    assert np.allclose(req.finish_s - np.repeat(batches.end_s, batches.size),
                       [0.0015, 0.0005, 0.0007 + 0.0008 * 14 / 90, 0.0015, 0.0015, 0.0015, 0.0015])


def test_a_larger_batch_pays_its_measured_share_of_the_cold_start():
    """Batch 1 computes 12/9 of its time cold (3 ms more); a batch of 8 pays half of that
    slowdown (its extra time: 0.5 * 3/9 * 60 = 10 ms); a batch of 4, between them, the
    extra time linear in the size (3 + 7 * 3/7 = 6 ms: 6/30 of its time, 0.6 of the
    slowdown); a batch of 16 the extra time held (10 ms: 0.25 of the slowdown)."""
    prof = profile({"m": {1: 9.0, 4: 30.0, 8: 60.0, 16: 120.0}})
    prof.models["m"].cold_start = ColdStart(idle_ms=[1.0, 101.0], compute_ms=[9.0, 12.0], overhead_ms=[0.0, 0.0])
    prof.models["m"].cold_start_share = {8: 0.5}
    config = ModelConfig(max_batch_size=16, max_queue_delay_ms=0)
    for size, share in ((1, 1.0), (4, 0.6), (8, 0.5), (16, 0.25)):
        batches = one_host(prof, {"m": config}, {"m": np.zeros(size)}).batches   # a cold device
        warm_ms = prof.models["m"].batch_latency_ms[size].mean
        assert batches.end_s[0] * 1e3 == pytest.approx(warm_ms * (1 + (12 / 9 - 1) * share))


@pytest.mark.parametrize("period_ms, compute_ms", [(21.0, 10.0), (113.0, 12.0), (16.0, 9.694)])
def test_cold_start_settles_where_the_table_puts_the_models_duty_cycle(period_ms, compute_ms):
    """Measured after think times, the table's rows are duty cycles (9/10, 10/21, 12/113):
    a model that keeps that rhythm settles at that row's compute, whatever each rest (at
    16 ms, where ``c = 9 + (0.9 - c / 16) / (0.9 - 10 / 21)``, between rows)."""
    prof = profile({"m": {1: 9.0}})
    prof.models["m"].cold_start = ColdStart(idle_ms=[1.0, 11.0, 101.0], compute_ms=[9.0, 10.0, 12.0],
                                            overhead_ms=[0.0, 0.0, 0.0])
    arrivals = np.arange(0.0, 8 * HEAT_MEMORY_S, period_ms / 1e3)
    batches = one_host(prof, {"m": ModelConfig()}, {"m": arrivals}).batches
    settled = (batches.end_s - batches.start_s)[batches.start_s > 6 * HEAT_MEMORY_S] * 1e3
    assert settled.mean() == pytest.approx(compute_ms, rel=0.01)
    assert settled.std() < 0.05


def test_overhead_is_interpolated_by_batch_size_and_added_outside_compute():
    prof = profile({"m": {1: 10.0, 4: 22.0}})
    prof = type(prof).model_validate({**prof.model_dump(), "models": {"m": {
        **prof.models["m"].model_dump(exclude_none=True), "overhead_ms": {1: {"mean": 1.0}, 4: {"mean": 4.0}}}}})
    config = ModelConfig(max_batch_size=4, max_queue_delay_ms=0)
    trace = one_host(prof, {"m": config}, {"m": np.array([0.0, 0.001, 0.001, 0.1])})
    req = trace.requests
    assert list(req.batch_size) == [1, 2, 2, 1]
    assert np.allclose(req.finish_s, [0.010 + 0.001, 0.010 + 0.014 + 0.002, 0.024 + 0.002, 0.110 + 0.001])
    assert np.allclose(trace.batches.end_s, [0.010, 0.024, 0.110])   # the device is not held for it


def test_a_neighbour_keeps_the_device_warm():
    """Cold start is read by the device's heat: a model that rested three heat memories
    while its neighbour kept the core 80% busy computes nearly warm, where its own rest
    would say cold (13 ms)."""
    prof = profile({"a": {1: 10.0}, "b": {1: 4.0}})
    prof.models["a"].cold_start = ColdStart(idle_ms=[0.0, 100.0], compute_ms=[10.0, 13.0], overhead_ms=[0.0, 0.0])
    trace = one_host(prof, {"a": ModelConfig(), "b": ModelConfig()},
                     {"a": np.array([0.0, 3 * HEAT_MEMORY_S + 0.0025]), "b": np.arange(0.0, 3 * HEAT_MEMORY_S, 0.005)})
    a = trace.requests.latency_s[trace.requests.model == 0] * 1e3
    heat = 0.8 * (1 - np.exp(-3.0))                    # about: 80% busy for three memories
    assert a[0] == pytest.approx(13.0)                 # the first batch ever: a cold device
    assert a[1] == pytest.approx(10.0 + 3.0 * (1 - heat) / (1 - 13 / 113), abs=0.3)


def test_the_open_loop_factor_fades_as_the_core_warms():
    """Without a cold-start table, a batch computes its open-loop factor times the curve on
    a cold core, and ``factor ** (1 - warmth)`` times it on a core that the device kept busy
    over the last ``WARM_MEMORY_S`` or so: a backlog's batches, back to back, close in on
    the curve. A host that follows a measured speed path keeps the factor whole."""
    prof = profile({"a": {1: 10.0}})
    prof.models["a"].open_loop_factor = 1.5
    backlog = {"a": np.zeros(200)}   # batches of one, back to back for 2 s or so

    def computes(p):
        requests = one_host(p, {"a": ModelConfig()}, backlog).requests
        return requests.start_s, (requests.end_s - requests.start_s) * 1e3

    start, compute = computes(prof)
    assert compute[0] == pytest.approx(15.0)   # the first batch ever: a cold core
    assert np.allclose(compute, 10.0 * 1.5 ** np.exp(-start / WARM_MEMORY_S))   # busy since 0
    assert compute[-1] == pytest.approx(10.0, rel=0.01)
    prof.speed_path = SpeedPath(bin_s=10.0, factors=[1.0])
    assert np.allclose(computes(prof)[1], 15.0)


def test_cold_start_is_paid_beside_a_running_batch_and_the_switch_is_not():
    prof = profile({"a": {1: 10.0}, "b": {1: 4.0}})
    prof.models["a"].cold_start = ColdStart(idle_ms=[0.0, 100.0], compute_ms=[10.0, 13.0], overhead_ms=[0.0, 0.0])
    prof.switch_ms = {"a": {"b": 1.0}}
    # no interference measured: b runs 0.499-0.503 beside a, which rested 490 ms (+3 ms)
    # and starts on a busy device (no switch); at 1.0 a rested ~0.49 s again and starts
    # alone after b ran last (0.9-0.904): cold start and switch
    trace = one_host(prof, {"a": ModelConfig(), "b": ModelConfig()},
                     {"a": np.array([0.0, 0.5, 1.0]), "b": np.array([0.499, 0.9])})
    a = trace.requests.latency_s[trace.requests.model == 0]
    assert np.allclose(a, [0.013, 0.013, 0.014])


def test_a_profile_at_another_speed_scales_compute_but_not_overhead():
    prof = profile({"m": {1: 10.0, 4: 22.0}})
    prof = type(prof).model_validate({**prof.model_dump(), "models": {"m": {
        **prof.models["m"].model_dump(exclude_none=True), "overhead_ms": {1: {"mean": 1.0}}}}})
    prof.models["m"].cold_start = ColdStart(idle_ms=[0.0, 100.0], compute_ms=[10.0, 13.0], overhead_ms=[1.0, 1.0])
    slower = prof.at_speeds({"m": 1.5})
    assert slower.models["m"].batch_latency_ms[4].mean == 33.0 and slower.models["m"].cold_start.compute_ms == [15.0, 19.5]
    config = {"m": ModelConfig(max_batch_size=4, max_queue_delay_ms=0)}
    arrivals = {"m": np.array([0.0, 0.2])}
    assert np.allclose(one_host(prof, config, arrivals).requests.latency_s, [0.013 + 0.001, 0.013 + 0.001])
    assert np.allclose(one_host(slower, config, arrivals).requests.latency_s, [0.0195 + 0.001, 0.0195 + 0.001])
    assert prof.models["m"].batch_latency_ms[4].mean == 22.0                    # the original is untouched
    prof.models["m"].fit = LinearFit(intercept_ms=6.0, per_item_ms=4.0, r2=1.0)
    by_size = prof.at_speeds({"m": 1.5}, slopes={"m": 0.5}).models["m"]        # a batch of k: 1.5 * k ** 0.5
    assert by_size.batch_latency_ms[1].mean == 15.0 and by_size.batch_latency_ms[4].mean == pytest.approx(66.0)
    assert by_size.cold_start.compute_ms == [15.0, 19.5]                          # the cold start is batch 1's
    assert (by_size.fit.intercept_ms, by_size.fit.per_item_ms) == pytest.approx((18.0, 12.0))   # as size 4: x3


def test_front_end_spread_alone_and_on_a_busy_core():
    prof = profile({"m": {1: 10.0}})
    prof.models["m"].overhead_ms = {1: OverheadStats(mean=1.0)}
    prof.models["m"].front_end_ms = OverheadStats(mean=1.0, p50=0.8, p95=2.0, p99=3.0)
    prof.models["m"].busy_front_end_ms = OverheadStats(mean=2.0, p50=1.5, p95=4.0, p99=6.0)
    # pairs 1 ms apart, 100 ms between pairs: the first finds the host idle, the second
    # arrives while the first computes (no batching)
    starts = np.arange(20_000) * 0.1
    trace = one_host(prof, {"m": ModelConfig()}, {"m": np.sort(np.concatenate([starts, starts + 0.001]))}, seed=4)
    req = trace.requests
    overhead_ms = (req.finish_s - req.end_s) * 1e3
    alone, busy = overhead_ms[::2], overhead_ms[1::2]
    knots_mean = 0.5 * 0.4 + 0.45 * 1.4 + 0.04 * 2.5 + 0.01 * 3.5    # knots 0, 0.8, 2, 3, 4 (ms)
    assert alone.mean() == pytest.approx(1.0, rel=0.02)                # the measured mean, spread
    assert np.median(alone) == pytest.approx(0.8 / knots_mean, rel=0.03)
    assert np.percentile(alone, 95) == pytest.approx(2.0 / knots_mean, rel=0.03)
    busy_knots_mean = 0.5 * 0.75 + 0.45 * 2.75 + 0.04 * 5.0 + 0.01 * 7.0   # knots 0, 1.5, 4, 6, 8
    assert busy.mean() == pytest.approx(busy_knots_mean / knots_mean, rel=0.02)
    assert np.percentile(busy, 95) == pytest.approx(4.0 / knots_mean, rel=0.03)
    assert np.allclose(trace.batches.end_s - trace.batches.start_s, 0.010)   # compute untouched
