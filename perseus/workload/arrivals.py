"""Arrival times (seconds, sorted numpy arrays) for each workload kind of a scenario.

Each model draws from its own random stream, derived from the scenario seed and the
model's name, so that adding a model does not change another model's arrivals.
``simulate`` and ``validate`` both call :func:`scenario_arrivals`, so that a live replay
sends exactly the requests the simulation saw.

* ``poisson`` - exponential gaps at ``rps``;
* ``constant`` - gaps of exactly ``1 / rps``;
* ``gamma`` - renewal process with Gamma gaps, mean ``1 / rps`` and coefficient of
  variation ``cv`` (shape ``1 / cv^2``), the burstiness knob AlpaServe uses;
* ``spiky`` and ``diurnal`` - non-homogeneous Poisson processes, drawn by inverting the
  integrated rate: unit-rate Poisson points mapped through ``Lambda^-1``;
* ``trace`` - a CSV with columns ``time_s,model``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from perseus.config.scenario import (
    ConstantWorkload, DiurnalWorkload, GammaWorkload, LoadedScenario, PoissonWorkload, SpikyWorkload, TraceWorkload,
)
from perseus.errors import InputError

_GRID_PER_PERIOD = 4096


def model_rng(seed: int, model: str) -> np.random.Generator:
    """The arrival stream of ``model`` under ``seed`` (independent of the other models)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(model.encode()), 0]))


def renewal(gaps: "callable", rate: float, duration_s: float) -> np.ndarray:  # type: ignore[valid-type]
    """Arrival times of a renewal process with gap sampler ``gaps(n)`` up to ``duration_s``."""
    expected = rate * duration_s
    n = int(expected + 6 * np.sqrt(expected) + 16)
    times = np.cumsum(gaps(n))
    while times[-1] < duration_s:
        times = np.concatenate([times, times[-1] + np.cumsum(gaps(n))])
    return times[times < duration_s]


def inhomogeneous(rate: "callable", period_s: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:  # type: ignore[valid-type]
    """Poisson arrivals with time-varying ``rate(t)`` by inverting the integrated rate on a grid."""
    steps = max(int(np.ceil(duration_s / period_s * _GRID_PER_PERIOD)), 2)
    grid = np.linspace(0.0, duration_s, steps + 1)
    mid = (grid[:-1] + grid[1:]) / 2
    cumulative = np.concatenate([[0.0], np.cumsum(rate(mid) * np.diff(grid))])
    unit = renewal(lambda n: rng.exponential(1.0, n), 1.0, cumulative[-1])
    return np.interp(unit, cumulative, grid)


def generate(workload: object, duration_s: float, rng: np.random.Generator, trace: np.ndarray | None = None
             ) -> np.ndarray:
    """Arrival times in ``[0, duration_s)`` for one model's workload."""
    if isinstance(workload, PoissonWorkload):
        return renewal(lambda n: rng.exponential(1.0 / workload.rps, n), workload.rps, duration_s)
    if isinstance(workload, ConstantWorkload):
        return np.arange(0.0, duration_s, 1.0 / workload.rps)
    if isinstance(workload, GammaWorkload):
        shape = 1.0 / workload.cv**2
        return renewal(lambda n: rng.gamma(shape, 1.0 / (workload.rps * shape), n), workload.rps, duration_s)
    if isinstance(workload, SpikyWorkload):
        w = workload

        def spiky(t: np.ndarray) -> np.ndarray:
            return np.where(np.mod(t, w.period_s) < w.spike_s, w.spike_rps, w.base_rps)

        return inhomogeneous(spiky, min(w.period_s, w.spike_s * 4), duration_s, rng)
    if isinstance(workload, DiurnalWorkload):
        d = workload

        def diurnal(t: np.ndarray) -> np.ndarray:
            return d.mean_rps * (1.0 + d.amplitude * np.sin(2 * np.pi * t / d.period_s))

        return inhomogeneous(diurnal, d.period_s, duration_s, rng)
    if isinstance(workload, TraceWorkload):
        assert trace is not None
        return trace[trace < duration_s]
    raise TypeError(f"unknown workload {workload!r}")


def read_trace(path: Path, field: str) -> pd.DataFrame:
    """A trace CSV with columns ``time_s,model``; errors name the file and the line."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"trace file {str(path)!r} not found", field=field) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({exc})", file=path) from None
    missing = [c for c in ("time_s", "model") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; expected columns time_s,model", file=path)
    times = pd.to_numeric(frame["time_s"], errors="coerce")
    bad = np.flatnonzero(times.isna().to_numpy() | (times.to_numpy() < 0))
    if len(bad):
        raise InputError(f"line {bad[0] + 2}: time_s must be a number >= 0, got {frame['time_s'].iloc[bad[0]]!r}",
                         file=path, field="time_s")
    return pd.DataFrame({"time_s": times.astype(float), "model": frame["model"].astype(str)})


def scenario_arrivals(loaded: LoadedScenario, seed: int, duration_s: float) -> dict[str, np.ndarray]:
    """Every model's arrival times for ``seed`` and ``duration_s`` (the one function both
    ``simulate`` and ``validate`` use)."""
    traces: dict[Path, pd.DataFrame] = {}
    arrivals = {}
    for name, spec in loaded.scenario.models.items():
        trace = None
        if isinstance(spec.workload, TraceWorkload):
            path = loaded.resolve(spec.workload.file)
            if path not in traces:
                traces[path] = read_trace(path, f"models.{name}.workload.file")
            rows = traces[path]
            trace = np.sort(rows.loc[rows["model"] == name, "time_s"].to_numpy())
        arrivals[name] = generate(spec.workload, duration_s, model_rng(seed, name), trace)
    return arrivals
