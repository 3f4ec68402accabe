"""The profiler's rules without a server: stability, the plan, the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perseus.config.profile import ColdStart, OverheadStats, WakeLaw
from perseus.config.scenario import ModelConfig
from perseus.profile.frontend import (MIN_REQUESTS, front_end_by_core, poisson_schedule, quietest_part, replay_rates,
                                     replay_schedule)
from perseus.profile.loadgen import request_front_end_ms
from perseus.profile.openloop import open_loop_factors, with_open_loop_factors
from perseus.profile.plan import FULL, QUICK, points
from perseus.profile.rawtable import COLUMNS
from perseus.profile.stability import is_stable
from perseus.profile.summary import (curve_item_ms, interference_matrix, model_profiles, switch_matrix, unsteady_points,
                                     wake_slice_ms)
from perseus.profile.wakeup import MIN_JOINS, fit_wake_law, replay_joins
from perseus.triton.client import ComputeStats
from sim_helpers import one_host, poisson, profile


def test_stability_needs_three_windows_within_ten_percent():
    assert not is_stable([100, 100], [10, 10])
    assert is_stable([80, 100, 101, 99], [20, 10, 10.5, 9.8])
    assert not is_stable([100, 100, 125], [10, 10, 10])
    assert not is_stable([100, 100, 100], [10, 10, 12.5])


@pytest.mark.parametrize("settings", [FULL, QUICK])
def test_plan_covers_every_ordered_pair_and_part(settings):
    models = ["a", "b", "c", "d"]
    plan = points(models, settings)
    pairs = {(p.model, p.partner) for p in plan if p.phase == "interference"}
    assert pairs == {(x, y) for x in models for y in models}  # 16 ordered pairs, self-pairs included
    assert {(p.model, p.batch_size) for p in plan if p.phase == "curve"} == {
        (m, b) for m in models for b in settings.batch_sizes}
    assert {(p.model, p.instances) for p in plan if p.phase == "scaling"} == {(m, n) for m in models for n in (1, 2)}
    cold = [p for p in plan if p.phase == "coldstart" and p.batch_size == 1]
    assert {(p.model, p.think_ms) for p in cold} == {(m, t) for m in models for t in settings.think_ms}
    batched = [p for p in plan if p.phase == "coldstart" and p.batch_size > 1]   # back to back, after 8x the longest
    size = settings.cold_batch_size
    assert {(p.model, p.batch_size, p.think_ms) for p in batched} == (
        {(m, size, t) for m in models for t in (0.0, size * max(settings.think_ms))} if size > 1 else set())
    assert all(not p.per_request and settings.window_requests(p) == settings.cold_batch_requests for p in batched)
    assert 0.0 in settings.think_ms and max(settings.think_ms) >= 100   # back to back, and a cold core
    assert {(p.model, p.partner) for p in plan if p.phase == "switch"} == {
        (x, y) for x in models for y in models if x != y}
    assert all(p.instances == 2 for p in plan if p.phase == "interference" and p.model == p.partner)
    busy = [p for p in plan if p.phase == "busy"]     # each model beside another one's load
    assert {p.model for p in busy} == set(models) and all(p.partner != p.model and p.per_request for p in busy)
    assert [p.think_ms for p in cold if p.per_request] == [t for m in models for t in settings.think_ms if t >= 10]
    timers = [i for i, p in enumerate(plan) if p.phase == "timer"]
    assert {plan[i].model for i in timers} == set(models)
    # a model stays loaded with the batcher after its timer point: nothing needs it later
    assert all(p.model != plan[i].model and p.partner != plan[i].model for i in timers for p in plan[i + 1:])
    assert len({p.key for p in plan}) == len(plan)
    assert set(settings.interference_batch_sizes) <= set(settings.batch_sizes)
    curve = [i for i, p in enumerate(plan) if p.phase == "curve"]
    assert len(curve) == settings.curve_passes * len(models) * len(settings.batch_sizes)
    assert sorted({plan[i].repeat for i in curve}) == list(range(settings.curve_passes))
    first_reload = next(i for i, p in enumerate(plan) if p.instances > 1 or p.phase == "timer")
    assert all(i < first_reload for i in curve)   # every pass with the models as the curve loads them


def test_curve_passes_are_spread_over_the_profile():
    plan = points(["a", "b"], FULL)
    starts = [i for i, p in enumerate(plan) if p.phase == "curve" and (i == 0 or plan[i - 1].phase != "curve")]
    assert FULL.curve_passes == 3 and len(starts) == 3 and starts[0] == 0
    assert plan[starts[1] - 1].phase != plan[starts[2] - 1].phase   # after different blocks of points
    last = max(i for i, p in enumerate(plan) if p.phase == "curve")
    pairs = [p for p in plan if p.phase == "interference" and p.partner != p.model]
    assert len(pairs) == 3 * 2 * len(FULL.interference_batch_sizes)   # each pair of two models, in each pass
    assert {p.repeat for p in pairs} == {0, 1, 2} and plan[starts[1] + 2 * len(FULL.batch_sizes)].phase == "interference"
    assert plan[last + 1 + len(pairs) // 3].instances == 2   # the last passes end the one-instance points


def test_the_curves_larger_sizes_interleave_their_reference_and_cold_starts_take_it_before():
    """A batch of one in a cold-start point's think time would end the rest it measures."""
    plan = points(["a"], FULL)
    interleaved = {(p.phase, p.batch_size, p.think_ms > 0) for p in plan if p.interleaved}
    before = {(p.phase, p.batch_size, p.think_ms > 0) for p in plan if p.referenced and not p.interleaved}
    assert interleaved == {("curve", size, False) for size in FULL.batch_sizes if size > 1}
    assert before == {("coldstart", 1, True)}


def _row(phase, model, batch, server_ms, client_ms, instances=1, partner="", throughput=100.0, think=0.0):
    return dict(zip(COLUMNS, [
        f"{phase}/{model}/{batch}/{instances}/{partner}/{think}", phase, model, batch, instances, partner, think, 0,
        True, True,
        10, 1.0, throughput, client_ms, client_ms, client_ms + 1, client_ms + 2, 0.5, server_ms, 10, 0.1]))


def _front(mean, p50, p95, p99):
    return {"front_mean_ms": mean, "front_p50_ms": p50, "front_p95_ms": p95, "front_p99_ms": p99}


def test_summary_from_raw_windows():
    frame = pd.DataFrame([
        _row("curve", "a", 1, 10.0, 12.0), _row("curve", "a", 4, 30.0, 33.0),
        _row("scaling", "a", 4, 0, 0, 1, throughput=100), _row("scaling", "a", 4, 0, 0, 2, throughput=150),
        _row("interference", "a", 1, 20.0, 0, 2, "a"), _row("interference", "a", 4, 54.0, 0, 2, "a"),
        _row("interference", "a", 1, 15.0, 0, 1, "b"), {**_row("switch", "a", 1, 10.5, 13.0, 1, "b"), "alone_batch_ms": 9.75},
        {**_row("coldstart", "a", 1, 12.0, 14.0, think=100.0), **_front(2.0, 1.5, 4.0, 6.0)},
        _row("coldstart", "a", 1, 9.0, 9.5, think=0.0),
        {**_row("busy", "a", 1, 14.0, 18.0, 1, "b", think=10.0), **_front(4.0, 2.0, 9.0, 12.0)},
        {**_row("timer", "a", 1, 10.0, 13.0, think=10.0), "server_queue_ms": 2.25, "queue_delay_ms": 2.0},
    ], columns=COLUMNS)
    model = model_profiles(frame, {"a": 12})["a"]
    assert model.batch_latency_ms[1].mean == 10.0 and model.overhead_ms[1].mean == 2.0
    assert model.batch_latency_ms[4].p99 == pytest.approx(35.0 - 3.0)
    assert model.fit.per_item_ms == pytest.approx(20 / 3, rel=1e-3) and model.fit.r2 == pytest.approx(1.0)
    assert model.instance_scaling == {1: 1.0, 2: 1.5}
    assert model.cold_start.idle_ms == [0.5, 102.0]    # think time plus the overhead
    assert model.cold_start.compute_ms == [9.0, 12.0] and model.cold_start.overhead_ms == [0.5, 2.0]
    assert model.cold_start_share == {}                 # no larger batch measured cold
    assert (model.front_end_ms.mean, model.front_end_ms.p95) == (2.0, 4.0)   # the point measured per request
    assert (model.busy_front_end_ms.mean, model.busy_front_end_ms.p99) == (4.0, 12.0)
    assert model.queue_delay_lag_ms == pytest.approx(2.25 - 2.0 - 0.1)   # less the queue time without a batcher
    matrix = interference_matrix(frame)   # a beside a: 2.0 and 1.8; a beside b: 1.5; pooled towards all three
    host = np.exp(np.mean(np.log([2.0, 1.8, 1.5])))
    assert host < matrix["a"]["a"] <= np.sqrt(2.0 * 1.8) and 1.5 <= matrix["a"]["b"] < host
    assert switch_matrix(frame) == {"a": {"b": 0.75}}


def _switch_windows(model, partner, server_ms, alone_ms):
    return [{**_row("switch", model, 1, server, 0, 1, partner), "window": window, "alone_batch_ms": alone}
            for window, (server, alone) in enumerate(zip(server_ms, alone_ms))]


def test_a_switch_cost_is_pooled_over_the_pairs_and_never_negative():
    """One window whose alone reference ran slow made the mean of the pair's differences
    negative (as on the EPYC host of 2026-12-07: ResNet-18 2.8 ms faster after MobileNetV2)."""
    noisy = pd.DataFrame(_switch_windows("a", "b", [10.5, 10.4, 10.6], [10.0, 10.0, 10.0])
                         + _switch_windows("b", "a", [20.8, 21.2, 21.0], [20.0, 20.0, 20.0])
                         + _switch_windows("a", "c", [10.4, 10.5, 10.3], [10.0, 10.0, 14.0]), columns=COLUMNS)
    matrix = switch_matrix(noisy)
    assert matrix["a"]["c"] >= 0.0 and matrix["a"]["b"] > 0.0 and matrix["b"]["a"] > 0.0
    faster = pd.DataFrame(_switch_windows("a", "b", [9.5, 9.6, 9.4], [10.0, 10.0, 10.0])
                          + _switch_windows("b", "a", [19.0, 19.4, 19.2], [20.0, 20.0, 20.0]), columns=COLUMNS)
    assert switch_matrix(faster) == {"a": {"b": 0.0}, "b": {"a": 0.0}}
    apart = pd.DataFrame(_switch_windows("a", "b", [12.0, 12.02, 11.98], [10.0, 10.0, 10.0])
                         + _switch_windows("b", "a", [20.0, 20.04, 19.96], [20.0, 20.0, 20.0]), columns=COLUMNS)
    assert switch_matrix(apart)["a"]["b"] == pytest.approx(2.0, abs=0.02)   # pairs far apart keep their own
    assert switch_matrix(apart)["b"]["a"] == pytest.approx(0.0, abs=0.02)


def test_cold_start_share_of_a_larger_batch_at_batch_1s_duty_cycle():
    """Batch 1: 9 ms back to back, 12 ms after 100 ms (overhead 2 ms: duty 12/114). A batch
    of 8: 60 ms back to back, 66 ms after 800 ms (overhead 4 ms: duty 66/870, colder than
    batch 1's coldest row, so batch 1's slowdown there is the table's end, 12/9 - 1)."""
    rows = [_row("curve", "a", 1, 9.0, 9.5), _row("coldstart", "a", 1, 9.0, 9.5, think=0.0),
            _row("coldstart", "a", 1, 12.0, 14.0, think=100.0),
            _row("coldstart", "a", 8, 60.0, 62.0, think=0.0), _row("coldstart", "a", 8, 66.0, 70.0, think=800.0)]
    model = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"]
    assert model.cold_start.compute_ms == [9.0, 12.0]          # batch 1 only
    assert model.cold_start_share == {8: pytest.approx((66 / 60 - 1) / (12 / 9 - 1), abs=1e-4)}
    warm = [_row("curve", "a", 1, 9.0, 9.5), _row("coldstart", "a", 1, 9.0, 9.5, think=0.0),
            _row("coldstart", "a", 1, 9.1, 10.0, think=100.0),   # batch 1 barely slowed: no share
            _row("coldstart", "a", 8, 60.0, 62.0, think=0.0), _row("coldstart", "a", 8, 66.0, 70.0, think=800.0)]
    assert model_profiles(pd.DataFrame(warm, columns=COLUMNS), {"a": 12})["a"].cold_start_share == {}


def test_a_model_the_open_loop_replay_measured_has_no_cold_start_table():
    """The think-time probes' slowdown is left out where the replay measured the model
    (its open-loop factor carries the level); the probes' front end stays."""
    rows = [_row("curve", "a", 1, 9.0, 9.5), _row("coldstart", "a", 1, 9.0, 9.5, think=0.0),
            {**_row("coldstart", "a", 1, 12.0, 14.0, think=100.0), **_front(2.0, 1.5, 4.0, 6.0)},
            _row("coldstart", "a", 8, 60.0, 62.0, think=0.0), _row("coldstart", "a", 8, 66.0, 70.0, think=800.0)]
    replayed = {"a": {"front_end_by_core_ms": {"idle": OverheadStats(mean=1.0, n=200)},
                      "receive_by_core_ms": {"idle": OverheadStats(mean=0.7, n=200)}}}
    model = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12}, replayed)["a"]
    assert model.cold_start is None and model.cold_start_share == {}
    assert model.front_end_by_core_ms == replayed["a"]["front_end_by_core_ms"] and model.front_end_ms.mean == 2.0
    assert model.receive_by_core_ms == replayed["a"]["receive_by_core_ms"]
    assert model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"].cold_start.compute_ms == [9.0, 12.0]


def test_drift_between_points_is_taken_out_by_their_batch_1_references():
    """Batch 1 takes 10 ms, 4 takes 30, and 13 after 100 ms of rest; each point ran while
    the machine was 0.9-1.2 times as slow, and so did the batch 1 measured right before it:
    the curve and the cold-start table keep the true ratios, at the mean speed (1.05)."""
    def drifted(row, speed, referenced=True):
        extra = row["server_batch_ms"] * (speed - 1.0)   # the client waits that much longer too
        row = {**row, "server_batch_ms": row["server_batch_ms"] + extra,
               **{c: row[c] + extra for c in ("client_mean_ms", "client_p50_ms", "client_p95_ms", "client_p99_ms")}}
        return {**row, "reference_ms": 10.0 * speed} if referenced else row
    rows = [drifted(_row("curve", "a", 1, 10.0, 11.0), 1.0, referenced=False),
            drifted(_row("curve", "a", 4, 30.0, 31.0), 1.1),
            drifted(_row("coldstart", "a", 1, 10.0, 11.0, think=0.0), 0.9, referenced=False),
            drifted(_row("coldstart", "a", 1, 13.0, 15.0, think=100.0), 1.2)]
    model = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"]
    curve = model.batch_latency_ms
    assert (curve[1].mean, curve[4].mean) == (pytest.approx(10.5), pytest.approx(31.5))
    assert curve[4].p99 == pytest.approx((33.0 + 2.0) * 10.5 / 11.0)   # client p99 less the overhead, scaled
    assert model.cold_start.compute_ms == [pytest.approx(10.5), pytest.approx(13.65)]
    assert model.overhead_ms[4].mean == pytest.approx(1.0)   # the front end is not scaled
    unreferenced = [{**row, "reference_ms": float("nan")} for row in rows]   # a raw table from before
    as_measured = model_profiles(pd.DataFrame(unreferenced, columns=COLUMNS), {"a": 12})["a"]
    assert as_measured.batch_latency_ms[4].mean == pytest.approx(33.0)
    assert as_measured.cold_start.compute_ms == [pytest.approx(9.0), pytest.approx(15.6)]


def test_a_curve_point_is_the_mean_of_its_passes_each_at_the_level():
    """Batch 4 measured in two passes, while the machine was 1.2 and 0.9 times as slow (its
    batch-1 references say so); the point is the mean of the two brought to the level,
    and lists them."""
    def point(repeat, speed):
        row = _row("curve", "a", 4, 30.0 * speed, 31.0 * speed)
        return {**row, "key": f"{row['key']}/r{repeat}", "reference_ms": 10.0 * speed}
    rows = [_row("curve", "a", 1, 10.0, 11.0), {**_row("curve", "a", 1, 11.0, 12.0), "key": "c1/r1"},
            point(1, 1.2), point(2, 0.9)]
    model = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"]
    level = np.mean([10.0, 11.0, 12.0, 9.0])
    curve = model.batch_latency_ms
    assert curve[1].passes == [10.5, 10.5]   # each its own reference: both at the level
    assert curve[4].passes == [pytest.approx(30.0 * level / 10.0), pytest.approx(30.0 * level / 10.0)]
    assert curve[4].mean == pytest.approx(30.0 * level / 10.0) and curve[4].n == 20
    assert model.overhead_ms[4].mean == pytest.approx((1.2 + 0.9) / 2)   # each pass's own, averaged
    assert model.fit.per_item_ms == pytest.approx((30.0 * level / 10.0 - 10.5) / 3, rel=1e-3)
    assert unsteady_points({"a": model}) == []
    rows[-1] = {**rows[-1], "server_batch_ms": 22.0}   # its reference does not explain it: named
    moved = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})
    assert unsteady_points(moved) == [f"a batch 4: its 2 passes took 31.5, {22.0 * level / 9.0:.1f} ms "
                                      f"(profiled: the mean, {(31.5 + 22.0 * level / 9.0) / 2:.1f})"]


def test_interference_is_averaged_over_a_pairs_passes():
    """Two passes of a beside b at batch 1 and 8, the partner's load slowing a by 1.8 and
    2.2 (each against a window of a alone right before it): the matrix holds their
    geometric mean (one pair: nothing to pool with)."""
    rows = [_row("curve", "a", 1, 10.0, 11.0), _row("curve", "a", 8, 60.0, 61.0)]
    for repeat, slowdown in ((0, 1.8), (1, 2.2)):
        for size, alone in ((1, 10.0), (8, 60.0)):
            row = _row("interference", "a", size, alone * slowdown, 0, 1, "b")
            rows.append({**row, "key": f"{row['key']}/r{repeat}", "alone_batch_ms": alone})
    matrix = interference_matrix(pd.DataFrame(rows, columns=COLUMNS))
    assert matrix == {"a": {"b": pytest.approx(np.sqrt(1.8 * 2.2), abs=1e-4)}}


def test_a_reference_that_stalled_does_not_rescale_its_point():
    """Five points measured at the same speed; the batch 1 before the one after 3 ms of
    rest stalled at twice its time. That point keeps its measured time, and the stall does
    not move the level the others are brought to."""
    speeds = {0.0: 1.0, 1.0: 1.02, 3.0: 2.0, 10.0: 0.98, 30.0: 1.01, 100.0: 0.99}
    rows = [{**_row("coldstart", "a", 1, 10.0 + think / 100, 11.0, think=think),
             "reference_ms": float("nan") if think == 0.0 else 10.0 * speed} for think, speed in speeds.items()]
    rows.append({**_row("curve", "a", 1, 10.0, 11.0), "reference_ms": float("nan")})
    model = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"]
    level = np.mean([10.0, 10.0, 10.2, 9.8, 10.1, 9.9])
    expected = [(10.0 + think / 100) * (1.0 if think == 3.0 else level / (10.0 * speed if think else 10.0))
                for think, speed in speeds.items()]
    assert model.cold_start.compute_ms == pytest.approx(expected, abs=1e-4)   # profiles keep 4 decimals
    assert model.cold_start.compute_ms[2] == pytest.approx(10.03)


def test_an_interleaved_reference_rescales_its_point_however_far_the_machine_drifted():
    """The machine computed twice as slow while batch 2 was measured, its interleaved
    batches of one too: that is drift the point shares, not a stall of a window apart."""
    rows = [{**_row("curve", "a", 1, 10.0, 11.0), "reference_ms": float("nan")},
            {**_row("curve", "a", 2, 36.0, 37.0), "reference_ms": 20.0}]
    rows += [{**_row("coldstart", "a", 1, 10.0, 11.0, think=think), "reference_ms": ref}
             for think, ref in ((0.0, float("nan")), (10.0, 10.2), (30.0, 9.8))]
    curve = model_profiles(pd.DataFrame(rows, columns=COLUMNS), {"a": 12})["a"].batch_latency_ms
    assert curve[2].mean / curve[1].mean == pytest.approx(1.8, rel=1e-3)


def test_wake_slice_and_slowdown_fitted_across_batch_sizes():
    """Beside a busy partner a batch takes ``q + (alone - q) * S``: two sizes pin both down."""
    def beside(alone, q, slowdown):
        return q + (alone - q) * slowdown
    frame = pd.DataFrame([
        _row("curve", "a", 1, 2.0, 3.0), _row("curve", "a", 8, 16.0, 17.0),
        _row("curve", "b", 1, 10.0, 11.0), _row("curve", "b", 8, 64.0, 65.0),
        _row("interference", "a", 1, beside(2.0, 1.2, 2.0), 0, 1, "b"),
        _row("interference", "a", 8, beside(16.0, 1.2, 2.0), 0, 1, "b"),
        _row("interference", "b", 1, beside(10.0, 1.0, 1.9), 0, 1, "a"),
        _row("interference", "b", 8, beside(64.0, 1.0, 1.9), 0, 1, "a"),
        _row("interference", "b", 1, beside(10.0, 1.4, 2.0), 0, 2, "b"),
        _row("interference", "b", 8, beside(64.0, 1.4, 2.0), 0, 2, "b"),
    ], columns=COLUMNS)
    q = wake_slice_ms(frame)
    assert q == pytest.approx(1.2)       # the median of the pairs' 1.2, 1.0 and 1.4
    matrix = interference_matrix(frame, q)   # pooled: the pairs' means differ by more than their noise
    assert matrix["a"]["b"] == pytest.approx(2.0, abs=1e-3)
    assert 1.85 < matrix["b"]["a"] < 1.95 and 1.95 < matrix["b"]["b"] < 2.05   # S seen with the host's q
    one_size = frame[frame["batch_size"] == 1]
    assert wake_slice_ms(one_size) is None
    a_only = frame[(frame["phase"] == "curve") | (frame["model"] == "a")]   # one pair: its own ratios
    assert interference_matrix(a_only)["a"]["b"] == pytest.approx(np.sqrt(2.8 / 2 * 30.8 / 16), abs=1e-4)  # no slice
    # alone measured right before a point, when the machine ran 10% slower than for the curve
    drifted = a_only.copy()
    beside_a = drifted["phase"] == "interference"
    drifted.loc[beside_a, "server_batch_ms"] *= 1.1
    drifted.loc[beside_a, "alone_batch_ms"] = drifted.loc[beside_a, "batch_size"].map({1: 2.2, 8: 17.6})
    assert interference_matrix(drifted, q)["a"]["b"] == pytest.approx(
        np.sqrt((2.8 * 1.1 - 1.2) / (2.2 - 1.2) * (30.8 * 1.1 - 1.2) / (17.6 - 1.2)), abs=1e-4)
    # a batch barely longer than the slice says nothing about S: left out of the fit
    short = a_only.copy()
    short.loc[(short["phase"] == "interference") & (short["batch_size"] == 1), "server_batch_ms"] = 1.3
    assert interference_matrix(short, 1.5)["a"]["b"] == pytest.approx((30.8 - 1.5) / (16.0 - 1.5), abs=1e-4)


def test_a_requests_front_end_needs_a_statistics_difference_of_that_one_request():
    """Triton counts a request after sending its response: a snapshot can miss it, and the
    next difference then holds two requests' server time (a negative front end)."""
    def delta(requests: int, success_ms: float) -> ComputeStats:
        return ComputeStats(requests, requests, int(success_ms * 1e6), 0, 0, {})

    assert request_front_end_ms(3.0, delta(1, 2.0)) == pytest.approx(1.0)
    assert request_front_end_ms(3.0, delta(0, 0.0)) is None
    assert request_front_end_ms(3.0, delta(2, 4.0)) is None


def test_a_traced_host_replays_for_the_front_end_instead_of_busy_points():
    models = ["a", "b"]
    plan = points(models, FULL, traced=True)
    assert [p for p in plan if p.phase == "busy"] == []
    replays = [i for i, p in enumerate(plan) if p.phase == "frontend"]
    assert len(replays) == 1
    first_reload = min(i for i, p in enumerate(plan) if p.instances > 1)
    assert replays[0] < first_reload            # every model loaded as the curve measured it
    assert {p.phase for p in points(models, FULL)} >= {"busy"} and "frontend" not in {p.phase for p in points(models, FULL)}


def _replayed(model: str, sent_s: float, front_ms: float, start_s: float, compute_ms: float) -> dict:
    received = sent_s + front_ms / 2e3
    end = start_s + compute_ms / 1e3
    return {"model": model, "scheduled_s": sent_s, "sent_s": sent_s, "received_s": received,
            "compute_start_s": start_s, "compute_end_s": end, "latency_ms": (end - sent_s) * 1e3 + front_ms / 2}


def test_replay_front_end_by_core_state_with_pooling():
    """Model a, every 100 ms: a request on a core quiet for 60 ms (asleep), one 0.5 ms into
    its batch (waking), one 5 ms into it (busy) and one 15 ms after the last (idle). Model b:
    few requests, on a quiet core; it takes the pooled spreads of the states it has too few
    requests in."""
    rows = []
    for k in range(MIN_REQUESTS):
        t = k * 0.1
        rows.append(_replayed("a", t, 1.0, t + 0.0005, 10.0))                  # asleep, its batch starts 0.5 ms later
        rows.append(_replayed("a", t + 0.001, 4.0, t + 0.0105, 2.0))           # waking (batch 0.5 ms old)
        rows.append(_replayed("a", t + 0.0055, 2.0 + k / MIN_REQUESTS, t + 0.0125, 2.0))   # busy
        rows.append(_replayed("a", t + 0.0295, 1.5, t + 0.030, 10.0))          # idle: 15 ms after the busy batch
    rows.append(_replayed("b", 50.0, 3.0, 50.0005, 1.0))
    frame = pd.DataFrame(rows)
    spreads = front_end_by_core(frame, slice_ms=1.0)
    a, b = spreads["a"]["front_end_by_core_ms"], spreads["b"]["front_end_by_core_ms"]
    assert (a["asleep"].n, a["idle"].n, a["waking"].n, a["busy"].n) == (MIN_REQUESTS,) * 4
    assert a["asleep"].p50 == pytest.approx(1.0) and a["idle"].p50 == pytest.approx(1.5)
    assert a["waking"].p99 == pytest.approx(4.0)
    assert a["busy"].p5 == pytest.approx(2.05, abs=0.01) and a["busy"].p95 == pytest.approx(2.95, abs=0.01)
    assert b["asleep"].n == MIN_REQUESTS + 1
    assert b["asleep"].mean == pytest.approx((MIN_REQUESTS + 3.0) / (MIN_REQUESTS + 1), abs=1e-4)
    assert b["busy"] == a["busy"] and b["idle"] == a["idle"]   # b had none: a's, the only ones in those states
    assert front_end_by_core(frame, slice_ms=0.0)["a"]["front_end_by_core_ms"].get("waking") is None   # no slice
    receive, respond = spreads["a"]["receive_by_core_ms"], spreads["a"]["respond_by_core_ms"]   # half each way
    assert receive["waking"].p50 == pytest.approx(2.0) and respond["waking"].p50 == pytest.approx(2.0)
    assert receive["busy"].mean + respond["busy"].mean == pytest.approx(a["busy"].mean, abs=1e-3)


def test_replay_rates_share_the_core_equally():
    rates = replay_rates({"fast": 2.0, "slow": 20.0}, 0.5)
    assert rates == {"fast": pytest.approx(125.0), "slow": pytest.approx(12.5)}
    schedule = poisson_schedule(rates, 40.0)
    assert len(schedule["fast"]) == pytest.approx(5000, rel=0.05) and len(schedule["slow"]) == pytest.approx(500, rel=0.15)
    assert all(0 <= t.min() and t.max() < 40.0 and (np.diff(t) > 0).all() for t in schedule.values())
    halves = replay_schedule({"fast": 2.0, "slow": 20.0}, (0.5, 0.1), 80.0)   # 40 s at 0.5, then 40 s at 0.1
    fast = halves["fast"]
    assert (fast < 40.0).sum() == pytest.approx(5000, rel=0.05) and (fast >= 40.0).sum() == pytest.approx(1000, rel=0.1)
    assert all(t.max() < 80.0 and (np.diff(t) > 0).all() for t in halves.values())
    assert quietest_part((0.5, 0.1), 80.0) == (40.0, 80.0) and quietest_part((0.1, 0.5, 0.3), 90.0) == (0.0, 30.0)
    assert curve_item_ms(pd.DataFrame([_row("curve", "a", 4, 30.0, 33.0), _row("curve", "a", 8, 50.0, 55.0)],
                                      columns=COLUMNS)) == {"a": pytest.approx(7.5)}


def test_open_loop_factor_is_solved_on_the_replay_and_read_by_the_simulator():
    """A "frontend replay" simulated with open-loop factors of 1.2 (ResNet-like) and 0.9
    (MobileNet-like), which fade as the core warms (no cold-start table): the profiler's
    solve gives back both factors, and the profile carrying them simulates the replay's
    measured compute."""
    prof = profile({"a": {1: 10.0, 2: 18.0}, "b": {1: 3.0, 2: 5.0}}, kind="empirical")
    arrivals = {"a": poisson(20.0, 1200, seed=1), "b": poisson(50.0, 3000, seed=2)}
    configs = {m: ModelConfig(instances=1, max_batch_size=16) for m in arrivals}
    truth = {"a": 1.2, "b": 0.9}
    replayed = one_host(with_open_loop_factors(prof, truth), configs, arrivals, seed=7).requests
    requests = pd.DataFrame({"model": np.asarray(replayed.models)[replayed.model], "scheduled_s": replayed.arrival_s,
                             "compute_start_s": replayed.start_s, "compute_end_s": replayed.end_s})
    factors = open_loop_factors(prof, requests, max_batch_size=16)
    assert factors == pytest.approx(truth, rel=0.01)
    calibrated = one_host(with_open_loop_factors(prof, factors), configs, arrivals, seed=7).requests
    for index, model in enumerate(calibrated.models):
        mine = calibrated.model == index
        measured = (requests["compute_end_s"] - requests["compute_start_s"])[requests["model"] == model].mean()
        assert (calibrated.end_s - calibrated.start_s)[mine].mean() == pytest.approx(measured, rel=0.02)


def test_open_loop_factor_is_solved_as_the_simulator_reads_it_on_the_quiet_part():
    """A cold core (a cold-start table, whose duty cycles a slower host would move and an
    open-loop factor does not) and a replay whose busy first half measured twice the
    compute: solved on the quiet second half, the factors that made the replay come back."""
    prof = profile({"a": {1: 10.0, 2: 18.0}, "b": {1: 3.0, 2: 5.0}}, kind="empirical")
    cold = {"a": ColdStart(idle_ms=[1.0, 20.0, 200.0], compute_ms=[10.0, 13.0, 15.0], overhead_ms=[0.5] * 3),
            "b": ColdStart(idle_ms=[1.0, 20.0, 200.0], compute_ms=[3.0, 4.5, 5.0], overhead_ms=[0.5] * 3)}
    prof = prof.model_copy(update={"models": {m: mp.model_copy(update={"cold_start": cold[m]})
                                              for m, mp in prof.models.items()}})
    busy = {"a": poisson(40.0, 1200, seed=1), "b": poisson(100.0, 3000, seed=2)}
    quiet = {"a": poisson(5.0, 150, seed=3), "b": poisson(12.0, 360, seed=4)}
    arrivals = {m: np.concatenate([busy[m][busy[m] < 30.0], 30.0 + quiet[m][quiet[m] < 30.0]]) for m in busy}
    configs = {m: ModelConfig(instances=1, max_batch_size=1) for m in arrivals}
    truth = {"a": 1.2, "b": 0.9}
    replayed = one_host(with_open_loop_factors(prof, truth), configs, arrivals, seed=7).requests
    requests = pd.DataFrame({"model": np.asarray(replayed.models)[replayed.model], "scheduled_s": replayed.arrival_s,
                             "compute_start_s": replayed.start_s, "compute_end_s": replayed.end_s})
    first = requests["compute_start_s"] < 30.0
    requests.loc[first, "compute_end_s"] += (requests["compute_end_s"] - requests["compute_start_s"])[first]
    assert open_loop_factors(prof, requests, max_batch_size=1, part=(30.0, 60.0)) == pytest.approx(truth, rel=0.01)
    assert open_loop_factors(prof, requests, max_batch_size=1)["a"] > 1.3   # the busy half read as slowness


def test_wake_law_is_fit_on_the_replays_joins():
    """Batches of one that join a running batch of another model take one of two times
    (preempting for the slice, or sharing from the start); the fit finds the law's values,
    and the batch time alone from the replay's batches that overlapped nothing."""
    law, rows, t = WakeLaw(preempt=0.5, slice_ms=7.0, sharing_factor=1.2), [], 0.0
    interference = {"a": {"b": 2.0}, "c": {"b": 2.0}}

    def joined(alone_ms: float, preempts: bool) -> float:
        ahead = min(law.slice_ms, alone_ms) if preempts else 0.0
        return ahead + (alone_ms - ahead) * 2.0 * law.sharing_factor

    for i in range(100):
        model, alone_ms = ("c", 12.0) if i % 5 == 4 else ("a", 4.0)
        batches = [("b", t, t + 0.060), (model, t + 0.005, t + 0.005 + joined(alone_ms, i % 10 < 5) / 1e3),
                   ("a", t + 0.065, t + 0.069), ("c", t + 0.075, t + 0.087)]
        rows += [{"model": m, "compute_start_s": s, "compute_end_s": e} for m, s, e in batches]
        t += 0.1
    joins = replay_joins(pd.DataFrame(rows), interference)
    assert len(joins) == 100 and set(joins["partner"]) == {"b"}
    assert joins.groupby("model")["alone_ms"].first().to_dict() == pytest.approx({"a": 4.0, "c": 12.0})
    assert fit_wake_law(joins) == law
    assert fit_wake_law(joins.head(MIN_JOINS - 1)) is None
    # validate's runs: two hosts (or replays) on overlapping clocks are two devices
    two_hosts = pd.concat([pd.DataFrame(rows).assign(host=host) for host in ("0/a", "1/a")], ignore_index=True)
    assert len(replay_joins(two_hosts, interference)) == 200
    assert fit_wake_law(replay_joins(two_hosts, interference)) == law
