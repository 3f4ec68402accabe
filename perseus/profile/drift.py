"""How the host's speed wanders over seconds: the profile's ``speed_drift``, fit on the
lone batches of its open-loop ``frontend`` replay (:mod:`perseus.profile.ingress`); the
simulator multiplies every batch's work by it (:mod:`perseus.sim.speed`).

Each lone batch's log time over its group's median over the whole replay (its model and
batch size, with the front end's work for the requests received while it ran taken out)
is averaged per second of the replay (``BIN_S``; seconds with fewer than ``MIN_PER_BIN``
batches are left out), each host on its own (a ``validate`` run of several hosts or
replays gives one series each), and each part of the profile's replay on its own too
(``parts``: :func:`perseus.profile.frontend.replay_parts`). The parts run the core at
different loads, and the load moves its speed as a step, not as a drift: in the replay of
the profile of 2026-12-07 02:43, the lone batches of the busy part (0.5 of the core)
computed 0.92-0.95 times their group's median over the whole replay, and those of the
quiet one (0.1) 1.14-1.19 (5 s means). Fit as one series, that step read as a drift of
sigma 0.116 over 25.9 s; fit per part, 0.038 over 1.5 s, where the 36 ``validate``
replays kept by ``bench_validate.py`` that day (01:59-04:12) read 0.012-0.086 over
0.7-17 s (median 0.041 over 2.5 s). Across those seconds the averages move together over a
few seconds: their autocovariance at lags of 1, 2 and 3 s, pooled over the series, is
fit as ``sigma² exp(-lag / tau)`` (least squares on its log, over the positive lags),
which leaves out the lag-0 variance, where the batches' own spread and the averages'
sampling noise add to the drift. Assumptions: the drift is an Ornstein-Uhlenbeck process
in the log of the speed, the same for every model and batch size; averaging over a
second changes its autocovariance little at a correlation time of a second or more; no
drift is fit (None) when the replay has fewer than ``MIN_BINS`` such seconds, or when
the 1-second autocovariance is not positive or the 2-second one is not (a drift faster
than a second is the batch spread's). A correlation time longer than ``MAX_TAU_S`` is
taken as that: over a replay of two minutes, a longer one is a trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perseus.config.profile import SpeedDrift, SpeedPath
from perseus.profile.ingress import host_batches, lone, lone_batches

BIN_S = 1.0
MIN_PER_BIN = 3
MIN_BINS = 30
LAGS = (1, 2, 3)
MAX_TAU_S = 30.0


def fit_speed_drift(requests: pd.DataFrame, work_ms: float = 0.0,
                    parts: list[tuple[float, float]] | None = None) -> SpeedDrift | None:
    """The host's speed drift (module docstring), each of the replay's ``parts`` (s, by
    the batch's start; the whole replay without them) a series of its own; None where
    none is fit."""
    batches = lone_batches(requests)
    spans = parts or [(-np.inf, np.inf)]
    series = [_per_bin(part, work_ms, BIN_S) for _, of_host in batches.groupby("host")
              for part in (of_host[(of_host["start"] >= a) & (of_host["start"] < b)] for a, b in spans)
              if not part.empty]
    if sum(int(seconds.notna().sum()) for seconds in series) < MIN_BINS:
        return None
    covariance = {lag: _autocovariance(series, lag) for lag in LAGS}
    if not covariance[1] > 0 or not covariance[2] > 0:
        return None
    positive = {lag * BIN_S: value for lag, value in covariance.items() if value > 0}
    slope, intercept = np.polyfit(list(positive), np.log(list(positive.values())), 1)
    tau = MAX_TAU_S if slope >= -BIN_S / MAX_TAU_S else -1.0 / slope
    return SpeedDrift(sigma=round(float(np.sqrt(np.exp(intercept))), 4), tau_s=round(float(tau), 3))


def measured_speed_path(requests: pd.DataFrame, work_ms: float, bin_s: float,
                        centred_on: tuple[float, float]) -> SpeedPath | None:
    """The speed the traced ``requests`` computed at, bin by bin from t = 0: per bin of
    ``bin_s``, the exponential of the lone batches' mean log time over their group's
    median (as for the drift, the front end's ``work_ms`` per request received while a
    batch ran taken out; hosts averaged), its mean log over the bins within
    ``centred_on`` (s) brought to zero. A bin with fewer than ``MIN_PER_BIN`` lone batches
    is unmeasured. Where no batch that started in it overlapped another, its batches were
    too few (as in a slow stretch, where they run long) or none, and it reads its
    neighbours' mean where both were measured. Where the models overlapped in it, its
    neighbours' lone batches often ran just after a switch, which the simulation adds
    itself (:mod:`perseus.sim.device`), so it reads 1, as do the other unmeasured bins.
    None without a measured bin within ``centred_on``."""
    batches = lone_batches(requests)
    if batches.empty:
        return None
    series = pd.concat([_per_bin(of_host, work_ms, bin_s) for _, of_host in batches.groupby("host")],
                       axis=1).mean(axis=1)
    centre = series[(series.index * bin_s >= centred_on[0]) & (series.index * bin_s < centred_on[1])].mean()
    if np.isnan(centre):
        return None
    logs = (series - centre).reindex(range(int(series.index.max()) + 1))
    between = ((logs.shift(1) + logs.shift(-1)) / 2).drop(list(_crowded_bins(requests, bin_s)), errors="ignore")
    logs = logs.fillna(between).fillna(0.0)
    return SpeedPath(bin_s=bin_s, factors=np.exp(logs.to_numpy()).round(4).tolist())


def _crowded_bins(requests: pd.DataFrame, bin_s: float) -> set[int]:
    """The bins in which a batch started that overlapped another on its host."""
    crowded: set[int] = set()
    for _, _, batches in host_batches(requests):
        start = batches["start"].to_numpy()
        crowded.update((start[~lone(start, batches["end"].to_numpy())] // bin_s).astype(int).tolist())
    return crowded


def _per_bin(batches: pd.DataFrame, work_ms: float, bin_s: float) -> pd.Series:
    """Mean log time over the group's median, per bin of one host's replay (NaN: too few)."""
    log_ratio = np.log(np.maximum(batches["ms"] - work_ms * batches["during"], 1e-6) / batches["group_ms"])
    bins = (batches["start"] // bin_s).astype(int)
    means = log_ratio.groupby(bins).agg(["mean", "size"])
    means = means.loc[means["size"] >= MIN_PER_BIN, "mean"]
    return means.reindex(range(bins.min(), bins.max() + 1))


def _autocovariance(series: list[pd.Series], lag: int) -> float:
    """Covariance of each centred series with itself ``lag`` bins later, over the pairs
    of every series where both are present."""
    products = pd.concat([((s - s.mean()) * (s - s.mean()).shift(-lag)).dropna() for s in series])
    return float(products.mean()) if len(products) else float("nan")
