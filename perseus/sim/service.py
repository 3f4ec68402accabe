"""How long a batch computes, and what each request costs outside compute.

Batch time (one batch alone on the device, one busy instance) comes from the profile's
curve: the mean for a size is interpolated linearly between measured sizes and
extrapolated from the fit (or the last two points) beyond them. Its spread follows the
profile's ``service_time``:

* ``deterministic`` - always the mean;
* ``exponential`` - exponential with that mean (for M/M/c checks);
* ``lognormal`` - lognormal with that mean and the measured coefficient of variation;
* ``empirical`` - the measured spread: a piecewise-linear quantile function through the
  measured p50, p95 and p99 (tails extended linearly), scaled so that its mean is the
  measured mean. Sizes between measured ones use the nearest measured size's shape.

Where the profile measured the model served open loop (``open_loop``), batch means are
scaled by its ``compute_factor``: a server that idles between requests computes slower
than the closed-loop curve shows. Assumption: the factor measured at one moderate load
holds at the loads simulated.

The per-request overhead (client, network, server front end) is the open-loop
``overhead_ms`` where measured, else the curve's ``overhead_ms`` for a one-item request;
it delays the response but does not occupy the device. Assumption: overhead is a
constant per request.
"""

from __future__ import annotations

import bisect

import numpy as np

from perseus.config.profile import LatencyStats, ModelProfile

_CHUNK = 4096
_KNOTS = np.array([0.0, 0.5, 0.95, 0.99, 1.0])
_KNOTS_LIST = _KNOTS.tolist()


class ServiceTime:
    """Draws solo batch times (seconds) for one model on one host type."""

    def __init__(self, profile: ModelProfile, rng: np.random.Generator, max_batch: int) -> None:
        self.kind = profile.service_time_kind()
        self.rng = rng
        sizes = sorted(profile.batch_latency_ms)
        factor = profile.open_loop.compute_factor if profile.open_loop else 1.0
        self.means = np.array([factor * _mean_ms(profile, sizes, k) / 1e3 for k in range(max_batch + 1)])
        self.shapes = [_shape(self.kind, profile.batch_latency_ms[_nearest(sizes, k)]) for k in range(max_batch + 1)]
        self.overhead_s = _overhead_ms(profile) / 1e3
        self._uniform = np.empty(0)
        self._used = 0

    def mean(self, size: int) -> float:
        return float(self.means[size])

    def draw(self, size: int) -> float:
        """A solo batch time for a batch of ``size``."""
        mean = self.means[size]
        if self.kind == "deterministic":
            return float(mean)
        u = self._next_uniform()
        if self.kind == "exponential":
            return float(-mean * np.log1p(-u))
        shape = self.shapes[size]
        if self.kind == "lognormal":
            sigma, mu = shape
            from scipy.special import ndtri

            return float(mean * np.exp(mu + sigma * ndtri(min(max(u, 1e-12), 1 - 1e-12))))
        return float(mean * _interp_knots(u, shape))

    def _next_uniform(self) -> float:
        if self._used == len(self._uniform):
            self._uniform = self.rng.random(_CHUNK)
            self._used = 0
        value = self._uniform[self._used]
        self._used += 1
        return float(value)


def _interp_knots(u: float, values: np.ndarray) -> float:
    """``np.interp(u, _KNOTS, values)`` for one point, without numpy's per-call cost."""
    i = bisect.bisect_right(_KNOTS_LIST, u) - 1
    if i >= len(_KNOTS_LIST) - 1:
        return float(values[-1])
    lo, hi = _KNOTS_LIST[i], _KNOTS_LIST[i + 1]
    return float(values[i] + (values[i + 1] - values[i]) * (u - lo) / (hi - lo))


def _nearest(sizes: list[int], k: int) -> int:
    return min(sizes, key=lambda s: (abs(s - k), s))


def _mean_ms(profile: ModelProfile, sizes: list[int], k: int) -> float:
    curve = profile.batch_latency_ms
    if k <= 0:
        return 0.0
    if k in curve:
        return curve[k].mean
    if sizes[0] < k < sizes[-1]:
        return float(np.interp(k, sizes, [curve[s].mean for s in sizes]))
    if profile.fit is not None:
        return max(profile.fit.intercept_ms + profile.fit.per_item_ms * k, 1e-6)
    if len(sizes) == 1:
        return curve[sizes[0]].mean * k / sizes[0]
    lo, hi = (sizes[0], sizes[1]) if k < sizes[0] else (sizes[-2], sizes[-1])
    slope = (curve[hi].mean - curve[lo].mean) / (hi - lo)
    return max(curve[hi].mean + slope * (k - hi), 1e-6)


def _shape(kind: str, stats: LatencyStats) -> np.ndarray | tuple[float, float]:
    """Per-kind spread around a mean of 1 (relative units)."""
    if kind == "lognormal":
        cv = (stats.std / stats.mean) if stats.std else _cv_from_p95(stats)
        sigma = float(np.sqrt(np.log1p(cv * cv)))
        return sigma, -sigma * sigma / 2
    if kind != "empirical" or stats.p50 is None or stats.p95 is None:
        return np.ones(len(_KNOTS))
    p50, p95 = stats.p50, max(stats.p95, stats.p50)
    p99 = max(stats.p99 if stats.p99 is not None else p95, p95)
    low = max(p50 - (p95 - p50), 0.0)
    values = np.array([low, p50, p95, p99, p99 + (p99 - p95)])
    mean = _piecewise_mean(values)
    return values / mean if mean > 0 else np.ones(len(_KNOTS))


def _piecewise_mean(values: np.ndarray) -> float:
    """Mean of a piecewise-linear quantile function through ``_KNOTS``."""
    return float(np.sum(np.diff(_KNOTS) * (values[:-1] + values[1:]) / 2))


def _cv_from_p95(stats: LatencyStats) -> float:
    if stats.p95 is None or stats.p95 <= stats.mean:
        return 0.0
    return (np.log(stats.p95 / stats.mean)) / 1.645


def _overhead_ms(profile: ModelProfile) -> float:
    if profile.open_loop is not None:
        return profile.open_loop.overhead_ms
    if not profile.overhead_ms:
        return 0.0
    sizes = sorted(profile.overhead_ms)
    return float(np.interp(1, sizes, [profile.overhead_ms[s].mean for s in sizes]))
