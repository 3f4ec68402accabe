"""How a batch that wakes beside a running one shares the core: the profile's ``wake_law``,
fit on the batches of its open-loop ``frontend`` replay (:mod:`perseus.profile.frontend`).

A *join* is a batch of one request that started while exactly one batch of another model
ran, which outlasted it, and beside which nothing else started. Had the two shared the
core from the start, the join would take ``w * S`` (``w``: its model's median batch of
one that overlapped nothing in the same replay; ``S``: the interference matrix's
slowdown of its model beside the other). The replay's joins take two distinct times
instead. In the profile of 2026-12-05 23:40 (an embedded host reporting the Intel CPU
name), 314 MobileNetV2 joins took 0.625-1.25 ``w`` (ran as if alone, about 37%) or
1.75-2.5 ``w`` (shared from the start), and only about 10% fell between; the 11
ResNet-18 joins (``w`` 12.5 ms) took 1.3-2.1 ``w``: they ran alone for a few ms, then
shared. The live ``validate`` replays on that host showed the same shape (MobileNetV2 in
the shared Poisson case: a mode at 3-5 ms, a peak at 8-9 ms, alone 4.6 ms). The thread
of a batch that wakes after a long sleep either wins the core from the running one
(its scheduler credit) and keeps it for a while, or waits its turn and shares.

:func:`fit_wake_law` fits that as a two-point law: with probability ``preempt`` the
joining batch holds the core alone for ``slice_ms`` (the other batch paused) and shares
after; otherwise it shares from the start. Sharing here is slower than the interference
matrix says by ``sharing_factor``: the matrix's slowdown is a mean over closed-loop
batches, some of which ran ahead of their neighbour too. The three values minimise the
squared distance (relative to ``w``) of every join to the nearer of the law's two
times, over a grid; ``preempt`` is the share of joins nearer the preempting time.

Assumptions: the law is the host's, the same for every model and batch size; where no
join outlasted the fitted slice (every joining batch was short), ``slice_ms`` is only
known to be at least the longest of them, and the fit takes that least value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perseus.config.profile import WakeLaw

MIN_JOINS = 30
MIN_ALONE = 10
SLICES_MS = np.arange(0.25, 50.01, 0.25)
SHARING = np.arange(0.80, 1.501, 0.01)


def replay_batches(requests: pd.DataFrame) -> pd.DataFrame:
    """The batches of traced requests (the columns of ``validate``'s requests CSV, and
    ``host`` where there is one): model, size, start and end (s), by start."""
    traced = requests.dropna(subset=["compute_start_s", "compute_end_s"])
    keys = [key for key in ("host", "model") if key in traced.columns]
    batches = traced.groupby([*keys, "compute_start_s", "compute_end_s"]).size().reset_index(name="size")
    batches = batches.rename(columns={"compute_start_s": "start", "compute_end_s": "end"})
    return batches.sort_values("start", kind="stable").reset_index(drop=True)


def device_joins(batches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batches of one device (model, size, start, end in s; by start) that hold one
    request and overlapped nothing (``alone``: model, ms) and those that joined a running
    batch of another model (``joins``: model, partner, ms; module docstring)."""
    start, end = batches["start"].to_numpy(), batches["end"].to_numpy()
    model, size = batches["model"].to_numpy(), batches["size"].to_numpy()
    alone, joins = [], []
    running: list[int] = []    # the batches started before ``i`` that still ran when it started
    for i in range(len(batches)):
        running = [j for j in running if end[j] > start[i]]
        joined_by = i + 1 < len(batches) and start[i + 1] < end[i]
        if size[i] == 1 and not joined_by:
            ms = (end[i] - start[i]) * 1e3
            if not running:
                alone.append((model[i], ms))
            elif len(running) == 1 and end[running[0]] > end[i] and model[running[0]] != model[i]:
                joins.append((model[i], model[running[0]], ms))
        running.append(i)
    return (pd.DataFrame(alone, columns=["model", "ms"]),
            pd.DataFrame(joins, columns=["model", "partner", "ms"]))


def host_joins(batches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`device_joins` of batches (model, size, start, end; ``host`` where there are
    several), each host its own device, their ``alone`` and their ``joins`` put together."""
    hosts = [device for _, device in batches.groupby("host", sort=False)] if "host" in batches else []
    split = [device_joins(device.sort_values("start", kind="stable").reset_index(drop=True))
             for device in hosts or [batches]]
    return (pd.concat([alone for alone, _ in split], ignore_index=True),
            pd.concat([joins for _, joins in split], ignore_index=True))


def replay_joins(requests: pd.DataFrame, interference: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The joins of the replay (module docstring): model, partner, ``ms`` (its batch
    time), ``alone_ms`` (``w``) and ``slowdown`` (``S``); models with fewer than
    ``MIN_ALONE`` batches that overlapped nothing are left out. Where the requests name
    their ``host`` (``validate``'s runs), each host is its own device."""
    alone, frame = host_joins(replay_batches(requests))
    counts = alone.groupby("model")["ms"].agg(["median", "size"])
    medians = counts.loc[counts["size"] >= MIN_ALONE, "median"]
    frame = frame[frame["model"].isin(medians.index)].copy()
    frame["alone_ms"] = frame["model"].map(medians).astype(float)
    frame["slowdown"] = [interference.get(m, {}).get(p, 1.0) for m, p in zip(frame["model"], frame["partner"])]
    return frame.reset_index(drop=True)


def fit_wake_law(joins: pd.DataFrame) -> WakeLaw | None:
    """The two-point law nearest the joins (module docstring); None with fewer than
    ``MIN_JOINS`` joins beside a partner that slows them."""
    joins = joins[joins["slowdown"] > 1.0]
    if len(joins) < MIN_JOINS:
        return None
    t = (joins["ms"] / joins["alone_ms"]).to_numpy()
    w = joins["alone_ms"].to_numpy()
    slowdown = joins["slowdown"].to_numpy()
    ahead = np.minimum(SLICES_MS[:, None], w[None, :]) / w[None, :]   # share of the batch run alone
    best = (np.inf, 0.0, 0.0, 0.0)
    for factor in SHARING:
        shared = slowdown * factor
        preempting = ahead + (1.0 - ahead) * shared[None, :]
        d_pre = (t[None, :] - preempting) ** 2
        d_shared = (t - shared) ** 2
        loss = np.minimum(d_pre, d_shared[None, :]).sum(axis=1)
        k = int(np.argmin(loss))      # the least slice among equal fits
        if loss[k] < best[0] - 1e-12:
            best = (loss[k], SLICES_MS[k], factor, float((d_pre[k] < d_shared).mean()))
    _, slice_ms, factor, preempt = best
    return WakeLaw(preempt=round(preempt, 4), slice_ms=round(float(slice_ms), 2), sharing_factor=round(float(factor), 2))
