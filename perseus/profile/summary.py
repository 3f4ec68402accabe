"""From the raw table of windows to the profile's numbers.

Each point is summarised over its last three windows (the ones the stability rule
judged). Conventions, stated once:

* ``batch_latency_ms.mean`` is the server's own compute time per batch
  (compute_input + compute_infer + compute_output of the batch, from ``batch_stats``);
* at concurrency 1 a request is a batch, so ``overhead_ms`` = client latency - batch
  compute: client, network, the server's front end and queue;
* the batch-time percentiles are the client's percentiles less the mean overhead (the
  statistics API gives only sums, so the spread is seen from the client);
* percentiles of several windows are their request-weighted mean;
* ``cold_start``: per think time, the batch-1 compute and the client latency less it;
  the model sat idle for the think time plus that overhead before each batch;
* ``instance_scaling[n]`` = throughput with n busy instances / throughput with one;
* ``switch_ms[a][b]`` = a's batch-1 compute alternating with b's less a's compute alone in
  a window right before each;
* ``interference[a][b]`` = a's batch compute beside busy b / a's alone, averaged over the
  measured batch sizes;
* ``front_end_ms`` pools the per-request front ends of the cold-start points measured per
  request (the model alone after a think time), ``busy_front_end_ms`` those of the
  ``busy`` point (another model holding the core).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from perseus.config.profile import LatencyStats, LinearFit, ColdStart, ModelProfile, OverheadStats

JUDGED_WINDOWS = 3


def point_rows(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each finished point's judged windows, by key."""
    return {key: group.sort_values("window").tail(JUDGED_WINDOWS) for key, group in frame.groupby("key")}


def _weighted(rows: pd.DataFrame, column: str) -> float:
    return float(np.average(rows[column], weights=rows["requests"]))


def _server_batch_ms(rows: pd.DataFrame) -> float:
    batches = rows["server_batches"].to_numpy(dtype=float)
    return float((rows["server_batch_ms"] * batches).sum() / batches.sum())


def curve_point(rows: pd.DataFrame) -> tuple[LatencyStats, OverheadStats]:
    compute = _server_batch_ms(rows)
    client_mean = _weighted(rows, "client_mean_ms")
    overhead = max(client_mean - compute, 0.0)
    latency = LatencyStats(
        mean=round(compute, 4),
        p50=round(max(_weighted(rows, "client_p50_ms") - overhead, 0.0), 4),
        p95=round(max(_weighted(rows, "client_p95_ms") - overhead, 0.0), 4),
        p99=round(max(_weighted(rows, "client_p99_ms") - overhead, 0.0), 4),
        std=round(_weighted(rows, "client_std_ms"), 4),
        n=int(rows["server_batches"].sum()),
        stable=bool(rows["stable"].iloc[-1]),
    )
    over = OverheadStats(
        mean=round(overhead, 4),
        p50=round(max(_weighted(rows, "client_p50_ms") - compute, 0.0), 4),
        p99=round(max(_weighted(rows, "client_p99_ms") - compute, 0.0), 4),
    )
    return latency, over


def linear_fit(curve: dict[int, LatencyStats]) -> LinearFit | None:
    if len(curve) < 2:
        return None
    sizes = np.array(sorted(curve), dtype=float)
    means = np.array([curve[int(s)].mean for s in sizes])
    result = stats.linregress(sizes, means)
    return LinearFit(intercept_ms=round(float(result.intercept), 4), per_item_ms=round(float(result.slope), 4),
                     r2=round(float(result.rvalue**2), 5))


def model_profiles(frame: pd.DataFrame, input_bytes: dict[str, int]) -> dict[str, ModelProfile]:
    """The per-model part of a profile from every finished point."""
    by_key = point_rows(frame)
    profiles = {}
    for model in dict.fromkeys(frame["model"]):
        curve, overhead = {}, {}
        scaling_throughput = {}
        cold: dict[float, tuple[float, float]] = {}
        front: dict[str, list[pd.DataFrame]] = {"coldstart": [], "busy": []}
        for rows in by_key.values():
            first = rows.iloc[0]
            if first["model"] != model:
                continue
            if first["phase"] in front and rows["front_mean_ms"].notna().all():
                front[first["phase"]].append(rows)
            if first["phase"] == "curve":
                curve[int(first["batch_size"])], overhead[int(first["batch_size"])] = curve_point(rows)
            elif first["phase"] == "scaling":
                scaling_throughput[int(first["instances"])] = _weighted(rows, "throughput")
            elif first["phase"] == "coldstart":
                compute = _server_batch_ms(rows)
                outside = max(_weighted(rows, "client_mean_ms") - compute, 0.0)
                cold[float(first["think_ms"]) + outside] = (compute, outside)
        if not curve:
            continue
        base = scaling_throughput.get(1)
        scaling = {n: round(t / base, 4) for n, t in sorted(scaling_throughput.items())} if base else {}
        profiles[model] = ModelProfile(
            input_bytes=input_bytes.get(model),
            batch_latency_ms=dict(sorted(curve.items())),
            overhead_ms=dict(sorted(overhead.items())),
            fit=linear_fit(curve),
            instance_scaling=scaling,
            service_time="empirical",
            cold_start=cold_start(cold) if cold else None,
            front_end_ms=front_end(front["coldstart"]),
            busy_front_end_ms=front_end(front["busy"]),
        )
    return profiles


def front_end(points: list[pd.DataFrame]) -> OverheadStats | None:
    """Per-request front end pooled over the judged windows of ``points`` (None: none)."""
    if not points:
        return None
    rows = pd.concat(points)
    return OverheadStats(**{key: round(_weighted(rows, f"front_{key}_ms"), 4) for key in ("mean", "p50", "p95", "p99")})


def cold_start(points: dict[float, tuple[float, float]]) -> ColdStart:
    """The cold-start table from ``{idle_ms: (compute_ms, overhead_ms)}``."""
    idle = sorted(points)
    return ColdStart(idle_ms=[round(i, 4) for i in idle], compute_ms=[round(points[i][0], 4) for i in idle],
                     overhead_ms=[round(points[i][1], 4) for i in idle])


def interference_matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``matrix[a][b]``: slowdown of a's batch time while b is busy beside it."""
    by_key = point_rows(frame)
    alone = {
        (rows.iloc[0]["model"], int(rows.iloc[0]["batch_size"])): _server_batch_ms(rows)
        for rows in by_key.values() if rows.iloc[0]["phase"] == "curve"
    }
    ratios: dict[tuple[str, str], list[float]] = {}
    for rows in by_key.values():
        first = rows.iloc[0]
        base = alone.get((first["model"], int(first["batch_size"])))
        if first["phase"] != "interference" or not base:
            continue
        ratios.setdefault((first["model"], first["partner"]), []).append(_server_batch_ms(rows) / base)
    matrix: dict[str, dict[str, float]] = {}
    for (victim, partner), values in ratios.items():
        matrix.setdefault(victim, {})[partner] = round(float(np.mean(values)), 4)
    return matrix


def switch_matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``matrix[a][b]``: extra ms of a's batch right after a batch of b ran (a switch):
    a's compute alternating with b less a's compute alone in the window just before, so
    that a drifting machine speed cancels out."""
    matrix: dict[str, dict[str, float]] = {}
    for rows in point_rows(frame).values():
        first = rows.iloc[0]
        if first["phase"] == "switch":
            extra = _weighted(rows, "server_batch_ms") - _weighted(rows, "alone_batch_ms")
            matrix.setdefault(first["model"], {})[first["partner"]] = round(extra, 4)
    return matrix
