"""The core time the front end takes from running batches per request received: the
profile's ``arrival_work_ms``, fit on the batches of its open-loop ``frontend`` replay
(:mod:`perseus.profile.frontend`); the simulator pauses the device for it at each
arrival (:mod:`perseus.sim.ingress`).

A *lone* batch overlapped no other batch of its host. Its arrivals are the requests the
host received (their traces' ``received_s``) in its first ``EARLY`` share of the 5th
percentile of its group's durations (its model and batch size): a window that nearly
every batch of the group outlasts, so that counting arrivals in it does not pick out
the long batches, as counting those over the whole batch would. Each batch's excess is
its duration less the median of the ``NEIGHBOURS`` batches of its group around it: the
core's speed drifts over a replay, and arrivals come with it (in the profile replay of
2026-12-06 05:14, lone MobileNetV2 batches of one took 3.63 ms in the busier first half
and 4.49 ms in the quieter second, so a median over the whole replay read the work as
-0.19 ms, and the neighbours' median as 0.13 ms). The work per arrival is the median
excess of the batches with ``k`` arrivals less that of the batches with none, over
``k``, averaged over ``k`` weighted by how many batches had ``k``.

Measured in the kept requests of ``bench_validate.py`` runs on a slow, noisy embedded
host (2026-12-06), lone batches with 0 / 1 / 2 / 3 such arrivals took, at the median,
this much longer than their group's median over the whole replay:
-0.05 / +0.39 / +0.83 ms (shared Poisson, 7,333 batches), -0.06 / +0.26 / +0.46 / +0.74
(shared Gamma), -0.16 / +0.34 / +0.52 / +1.35 (ResNet-18 alone, Poisson): over the
batches with none, a steady 0.26-0.50 ms per request (of either model), 1.5-8% of a batch
there. Fit as below on the 54 replays of four such runs: 0.05-0.43 ms, median 0.23.

Assumptions: the work is the host's, the same for every request, model and batch size;
it is zero or more (a negative estimate is noise). Fit so per batch size on the
one-model replays of five such runs (started 2026-12-06 00:01 to 10:38), it did not grow
with the batch: 0.25 / 0.15 / 0.09 / 0.01 / 0.28 / 0.07 / 0.51 ms at sizes 1-6 and 8
(68,200 lone batches of one, 266 of eight). Regressed on the raw durations instead, the
work per arrival read 0.58 ms at size 1 and 2.40 ms at size 8 in the 10:38 run: large
batches form in the spikes' backlog, when the core ran slow, and arrivals come with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from perseus.profile.wakeup import replay_batches

EARLY = 0.8
NEIGHBOURS = 21
MIN_GROUP = 20        # lone batches of one model and size, for its window and its neighbours
MIN_WITH_ARRIVALS = 30


def lone_batches(requests: pd.DataFrame) -> pd.DataFrame:
    """Per lone batch of the traced ``requests`` (``validate``'s requests CSV columns) in a
    group of at least ``MIN_GROUP`` (module docstring): its ``host``, ``start`` (s), its duration
    ``ms``, the median ``local_ms`` of the ``NEIGHBOURS`` batches of its group around it and
    ``group_ms`` of its whole group, its ``arrivals`` in the early window, and the requests
    received while it ran (``during``)."""
    rows = []
    for host, host_requests, batches in host_batches(requests):
        batches = batches[lone(batches["start"].to_numpy(), batches["end"].to_numpy())]
        received = np.sort(host_requests["received_s"].dropna().to_numpy())
        durations = (batches["end"] - batches["start"]) * 1e3
        for _, group in batches.assign(ms=durations).groupby(["model", "size"]):
            if len(group) < MIN_GROUP:
                continue
            start = group["start"].to_numpy()
            early = start + EARLY * np.percentile(group["ms"], 5) / 1e3
            opened = np.searchsorted(received, start, side="right")
            rows.append(pd.DataFrame({
                "host": host,
                "start": start,
                "ms": group["ms"].to_numpy(),
                "local_ms": group["ms"].rolling(NEIGHBOURS, center=True, min_periods=1).median().to_numpy(),
                "group_ms": float(group["ms"].median()),
                "arrivals": np.searchsorted(received, early, side="left") - opened,
                "during": np.searchsorted(received, group["end"].to_numpy(), side="left") - opened,
            }))
    columns = ["host", "start", "ms", "local_ms", "group_ms", "arrivals", "during"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def host_batches(requests: pd.DataFrame) -> Iterator[tuple[Any, pd.DataFrame, pd.DataFrame]]:
    """Per host of the traced ``requests`` (one where there is no ``host`` column): the
    host, its requests and its batches (:func:`perseus.profile.wakeup.replay_batches`)."""
    keyed = requests.groupby("host") if "host" in requests.columns else [("", requests)]
    for host, host_requests in keyed:
        yield host, host_requests, replay_batches(host_requests)


def lone(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Which batches (sorted by start) overlapped no other."""
    ended_before = np.concatenate([[-np.inf], np.maximum.accumulate(end)[:-1]])
    next_start = np.concatenate([start[1:], [np.inf]])
    return (ended_before <= start) & (next_start >= end)


def fit_arrival_work(requests: pd.DataFrame) -> float | None:
    """The work per arrival in ms (module docstring); None with fewer than
    ``MIN_WITH_ARRIVALS`` lone batches that had arrivals."""
    batches = lone_batches(requests)
    batches = batches.assign(excess_ms=batches["ms"] - batches["local_ms"])
    with_arrivals = batches[batches["arrivals"] > 0]
    if len(with_arrivals) < MIN_WITH_ARRIVALS or not (batches["arrivals"] == 0).any():
        return None
    base = float(batches.loc[batches["arrivals"] == 0, "excess_ms"].median())
    per_arrival = with_arrivals.groupby("arrivals")["excess_ms"].agg(["median", "size"])
    slopes = (per_arrival["median"] - base) / per_arrival.index.to_numpy()
    return round(max(float(np.average(slopes, weights=per_arrival["size"])), 0.0), 4)
