"""The host's speed drift: the simulated process has the law it is given, and the
profiler's fit reads it back from a simulated open-loop replay; a measured speed path is
followed as given, and read back from a replay that ran at it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perseus.config.profile import Quantiles, SpeedDrift, SpeedPath
from perseus.config.scenario import ModelConfig
from perseus.profile.drift import fit_speed_drift, measured_speed_path
from perseus.sim.speed import HostSpeed
from sim_helpers import one_host, poisson, profile, traced

DRIFT = SpeedDrift(sigma=0.1, tau_s=2.0)


def test_the_process_has_its_laws_spread_correlation_and_mean_one():
    speed = HostSpeed(DRIFT, np.random.default_rng(0))
    times = np.arange(0.0, 20000.0, 0.5)
    factors = np.array([speed.factor(t) for t in times])
    logs = np.log(factors)
    assert logs.std() == pytest.approx(0.1, rel=0.05)
    assert np.corrcoef(logs[:-2], logs[2:])[0, 1] == pytest.approx(np.exp(-1.0 / 2.0), abs=0.03)   # 1 s apart
    assert factors.mean() == pytest.approx(1.0, abs=0.01)
    assert speed.factor(times[-1]) == factors[-1]   # the same instant, the same factor


def drifting(batch_ms: float, drift: SpeedDrift | None):
    prof = profile({"a": {1: batch_ms}})
    prof.speed_drift = drift
    return prof


def test_a_drifting_host_keeps_its_mean_speed_and_queues_longer():
    arrivals = {"a": poisson(100, 20000, 1)}   # 5 ms batches: half the core
    steady = one_host(drifting(5.0, None), {"a": ModelConfig()}, arrivals).requests
    drift = one_host(drifting(5.0, SpeedDrift(sigma=0.2, tau_s=2.0)), {"a": ModelConfig()}, arrivals).requests
    again = one_host(drifting(5.0, SpeedDrift(sigma=0.2, tau_s=2.0)), {"a": ModelConfig()}, arrivals).requests
    assert np.array_equal(drift.end_s, again.end_s)   # the same seed, the same numbers
    compute = (drift.end_s - drift.start_s) * 1e3
    assert compute.mean() == pytest.approx(5.0, rel=0.03) and compute.std() > 0.5
    assert np.percentile(drift.end_s - drift.arrival_s, 99) > 1.1 * np.percentile(steady.end_s - steady.arrival_s, 99)


def test_the_fit_reads_the_simulated_drift_back():
    replay = traced(drifting(5.0, DRIFT), poisson(40, 24000, 2))   # 10 minutes
    fitted = fit_speed_drift(replay)
    assert fitted is not None
    assert fitted.sigma == pytest.approx(0.1, rel=0.25) and fitted.tau_s == pytest.approx(2.0, rel=0.5)


def test_independent_spread_is_not_drift_and_a_short_replay_has_none_to_read():
    """Batches drawn each on its own from a wide spread (p99 twice the median) do not
    move together from one second to the next."""
    steady = profile({"a": {1: 5.0}}, kind="empirical")
    steady.batch_spread = Quantiles(mean=1.03, p5=0.8, p25=0.93, p50=1.0, p75=1.07, p95=1.4, p99=2.0)
    for seed in range(3):
        fitted = fit_speed_drift(traced(steady, poisson(40, 24000, 3 + seed)))
        assert fitted is None or fitted.sigma < 0.02
    assert fit_speed_drift(traced(drifting(5.0, DRIFT), poisson(40, 600, 4))) is None    # 15 s


def test_a_step_between_the_replays_parts_is_not_drift():
    """The profile's replay runs its parts at different loads, and the core's speed steps
    between them (module docstring of :mod:`perseus.profile.drift`): a steady host whose
    second part computes 1.2 times as long reads as a drift over the whole replay, and as
    none within each part."""
    prof = drifting(5.0, None)
    prof.speed_path = SpeedPath(bin_s=300.0, factors=[1.0, 1.2])
    replay = traced(prof, poisson(40, 24000, 5))   # 10 minutes, the step at 5
    assert fit_speed_drift(replay).sigma > 0.05
    within = fit_speed_drift(replay, parts=[(0.0, 300.0), (300.0, 600.0)])
    assert within is None or within.sigma < 0.02


def test_a_host_follows_a_measured_path_bin_by_bin_and_one_beyond_it():
    prof = drifting(5.0, DRIFT)   # the path takes the drift's place
    prof.speed_path = SpeedPath(bin_s=2.0, factors=[1.0] * 5 + [2.0] * 5)
    trace = one_host(prof, {"a": ModelConfig()}, {"a": np.arange(0.05, 30.0, 0.05)}).requests
    compute = (trace.end_s - trace.start_s) * 1e3
    assert np.allclose(compute[trace.start_s < 10.0], 5.0) and np.allclose(compute[(trace.start_s >= 10.0)
                                                                                  & (trace.start_s < 20.0)], 10.0)
    assert np.allclose(compute[trace.start_s >= 20.0], 5.0)


def test_the_path_read_from_a_replay_is_the_one_it_ran_at():
    """A replay on a host that slowed by half for 20 s of every minute: the path read from
    its traces has those bins 1.5 times the others, centred on the window."""
    truth = [1.5 if (k // 20) % 3 == 1 else 1.0 for k in range(600)]   # 1 s bins
    prof = drifting(5.0, None)
    prof.speed_path = SpeedPath(bin_s=1.0, factors=truth)
    replay = traced(prof, poisson(40, 24000, 5))   # 10 minutes
    path = measured_speed_path(replay, 0.0, 1.0, (0.0, 600.0))
    assert path is not None and path.bin_s == 1.0
    read = np.array(path.factors[:-1])   # the last bin: the replay's end
    slow = np.array(truth[:len(read)]) > 1.0
    assert np.median(read[slow]) / np.median(read[~slow]) == pytest.approx(1.5, rel=0.02)
    assert np.mean(np.log(read)) == pytest.approx(0.0, abs=1e-3)
    assert measured_speed_path(replay.iloc[:0], 0.0, 1.0, (0.0, 600.0)) is None


def _batches_of_one(starts: list[float], ms: float, model: str = "a") -> list[dict]:
    return [{"model": model, "received_s": t - 0.001, "compute_start_s": t, "compute_end_s": t + ms / 1e3}
            for t in starts]


def test_a_bin_with_too_few_batches_reads_its_neighbours_unless_the_models_overlapped_in_it():
    """Batches of one every 50 ms, 10 ms each, in bins of 0.5 s; bins 6-8 and 12-14 run at
    half speed. Bin 7 kept two of its batches: too few, none overlapped, so it reads its
    neighbours' speed. In bin 13 every batch of ``a`` overlapped one of ``b``: it reads 1."""
    def slow(t: float) -> bool:
        return int(t // 0.5) in (6, 7, 8, 12, 13, 14)
    starts = [round(0.05 * i, 3) for i in range(200)]
    rows = _batches_of_one([t for t in starts if not slow(t)], 10.0)
    rows += _batches_of_one([t for t in starts if slow(t) and int(t // 0.5) not in (7, 13)], 20.0)
    rows += _batches_of_one([3.5, 3.6], 20.0)
    crowded = [t for t in starts if int(t // 0.5) == 13]
    rows += _batches_of_one(crowded, 20.0) + _batches_of_one([t + 0.005 for t in crowded], 20.0, "b")
    path = measured_speed_path(pd.DataFrame(rows), 0.0, 0.5, (0.0, 10.0))
    assert path is not None
    read = np.array(path.factors) / path.factors[0]
    assert read[[6, 8, 12, 14]] == pytest.approx(2.0, rel=1e-3)
    assert read[7] == pytest.approx(2.0, rel=1e-3)          # too few: between its neighbours
    assert path.factors[13] == 1.0                           # crowded: as the replay's mean
