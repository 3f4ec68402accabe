"""Arrival processes: rates, burstiness, shapes, determinism, independence, traces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perseus.config.scenario import (
    ConstantWorkload, DiurnalWorkload, GammaWorkload, PoissonWorkload, SpikyWorkload,
)
from perseus.errors import InputError
from perseus.workload.arrivals import generate, model_rng, read_trace

LONG_S = 4000.0


def gaps_cv(times: np.ndarray) -> float:
    gaps = np.diff(times)
    return float(gaps.std() / gaps.mean())


@settings(max_examples=25, deadline=None)
@given(rps=st.floats(0.5, 200), seed=st.integers(0, 2**32 - 1))
def test_poisson_rate_and_range(rps, seed):
    times = generate(PoissonWorkload(kind="poisson", rps=rps), 200.0, np.random.default_rng(seed))
    expected = rps * 200
    assert abs(len(times) - expected) < 6 * np.sqrt(expected) + 1
    assert np.all(np.diff(times) >= 0) and (len(times) == 0 or (times[0] >= 0 and times[-1] < 200))


def test_gamma_has_its_coefficient_of_variation():
    times = generate(GammaWorkload(kind="gamma", rps=20, cv=4), LONG_S, np.random.default_rng(1))
    assert len(times) / LONG_S == pytest.approx(20, rel=0.1)
    assert gaps_cv(times) == pytest.approx(4, rel=0.1)


def test_constant_is_evenly_spaced():
    times = generate(ConstantWorkload(kind="constant", rps=10), 10.0, np.random.default_rng(0))
    assert len(times) == 100 and np.allclose(np.diff(times), 0.1)


def test_spiky_rate_inside_and_outside_spikes():
    w = SpikyWorkload(kind="spiky", base_rps=5, spike_rps=50, period_s=60, spike_s=10)
    times = generate(w, LONG_S, np.random.default_rng(2))
    in_spike = np.mod(times, 60) < 10
    spike_time = LONG_S / 60 * 10
    assert in_spike.sum() / spike_time == pytest.approx(50, rel=0.05)
    assert (~in_spike).sum() / (LONG_S - spike_time) == pytest.approx(5, rel=0.05)


def test_diurnal_follows_the_sine():
    w = DiurnalWorkload(kind="diurnal", mean_rps=20, amplitude=0.8, period_s=100)
    times = generate(w, LONG_S, np.random.default_rng(3))
    phase = np.mod(times, 100)
    peak = np.sum((phase > 20) & (phase < 30)) / (LONG_S / 100 * 10)
    trough = np.sum((phase > 70) & (phase < 80)) / (LONG_S / 100 * 10)
    expected_peak = 20 * (1 + 0.8 * np.mean(np.sin(2 * np.pi * np.linspace(0.2, 0.3, 1000))))
    assert peak == pytest.approx(expected_peak, rel=0.06)
    assert trough < peak / 4
    assert len(times) / LONG_S == pytest.approx(20, rel=0.03)


def test_streams_are_deterministic_and_independent_of_other_models():
    a1 = model_rng(7, "resnet18").random(5)
    a2 = model_rng(7, "resnet18").random(5)
    b = model_rng(7, "mobilenet_v2").random(5)
    assert np.array_equal(a1, a2) and not np.array_equal(a1, b)
    assert not np.array_equal(a1, model_rng(8, "resnet18").random(5))


def test_trace_reading_and_errors(tmp_path):
    good = tmp_path / "trace.csv"
    good.write_text("time_s,model\n0.5,a\n0.1,b\n1.0,a\n")
    frame = read_trace(good, "models.a.workload.file")
    assert list(frame["model"]) == ["a", "b", "a"]
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,model\n0.5,a\nsoon,b\n")
    with pytest.raises(InputError, match="line 3"):
        read_trace(bad, "f")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("t,m\n1,a\n")
    with pytest.raises(InputError, match="time_s"):
        read_trace(wrong, "f")
