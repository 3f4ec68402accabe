"""From the raw table of windows to the profile's numbers.

Each point is summarised over its last three windows (the ones the stability rule
judged). Conventions, stated once:

* ``batch_latency_ms.mean`` is the server's own compute time per batch
  (compute_input + compute_infer + compute_output of the batch, from ``batch_stats``),
  brought to the model's mean batch-1 speed over its profiling (:func:`drift_scales`): a
  shared machine's speed drifts by several percent within minutes (ResNet-18's curve
  batch 1 and its cold start's back-to-back row, measured minutes apart in one profile
  on 2026-11-29, differed by 6%), and the curve's sizes and the cold-start rows are
  measured at different moments, so their ratios, which the simulator uses, would carry
  that drift; a curve point measured in several passes (``Settings.curve_passes``) is the
  mean of its passes, each brought to that speed by its own reference, and lists them
  (``passes``);
* at concurrency 1 a request is a batch, so ``overhead_ms`` = client latency - batch
  compute: client, network, the server's front end and queue;
* the batch-time percentiles are the client's percentiles less the mean overhead (the
  statistics API gives only sums, so the spread is seen from the client);
* percentiles of several windows are their request-weighted mean;
* ``cold_start``: per think time, the batch-1 compute and the client latency less it;
  the model sat idle for the think time plus that overhead before each batch; left out
  for a model that the ``frontend`` replay measured (:func:`model_profiles`);
  ``cold_start_share[k]``: a batch of k's compute after its think time over back to back,
  less one, over batch 1's slowdown at that duty cycle (``compute / (compute + idle)``);
* ``instance_scaling[n]`` = throughput with n busy instances / throughput with one;
* ``switch_ms[a][b]`` = a's batch-1 compute alternating with b's less a's compute alone in
  a window right before each, as a ratio pooled towards the host's over all pairs and at
  least 0;
* ``wake_slice_ms`` = how long a batch that starts beside a running one has the core to
  itself (a woken thread's slice): fitted to the interference points, ``beside = q +
  (alone - q) * S`` across batch sizes, the median over pairs weighted towards short
  batches (long ones scatter with the machine's drift);
* ``interference[a][b]`` = that ``S``: a's batch compute beside busy b less the slice / a's
  alone less the slice, the geometric mean over the measured batch sizes at least 1.5
  slices long (without a fitted slice or such sizes, beside / alone) and over the pair's
  passes, pooled towards the host's mean over all pairs as far as the pairs differ by
  their windows' noise (:mod:`perseus.profile.pooling`); alone is measured in a window
  right before each point (the curve's point where a raw table has none);
* ``queue_delay_lag_ms`` = the server's mean queue time of the ``timer`` point less the
  max queue delay it was loaded with, less the queue time at batch 1 without a batcher;
* ``front_end_ms`` pools the per-request front ends of the cold-start points measured per
  request (the model alone after a think time), ``busy_front_end_ms`` those of the
  ``busy`` point (another model holding the core); ``front_end_by_core_ms`` comes from the
  ``frontend`` replay (:mod:`perseus.profile.frontend`), and so do ``wake_law`` (how
  batches whose thread slept long share the core: :mod:`perseus.profile.wakeup`), the
  ``speed_drift`` (how the host's speed wanders over seconds: :mod:`perseus.profile.drift`)
  and the ``open_loop_factor`` (:mod:`perseus.profile.openloop`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from perseus.config.profile import LatencyStats, LinearFit, ColdStart, ModelProfile, OverheadStats
from perseus.profile.plan import interleaves_reference
from perseus.profile.pooling import shrunk_means
from perseus.sim.service import cold_factor_by_duty

JUDGED_WINDOWS = 3
MIN_COLD_SLOWDOWN = 0.03   # batch 1 slower than this at the larger batch's duty cycle for a share
STALL = 0.25              # a batch-1 reference this far from its model's median is a stall (drift_scales)
PASS_SPREAD_WARN = 0.15   # a curve point whose passes spread further than this is named (unsteady_points)


def point_rows(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each finished point's judged windows, by key."""
    return {key: group.sort_values("window").tail(JUDGED_WINDOWS) for key, group in frame.groupby("key")}


def _weighted(rows: pd.DataFrame, column: str) -> float:
    return float(np.average(rows[column], weights=rows["requests"]))


def _server_batch_ms(rows: pd.DataFrame) -> float:
    batches = rows["server_batches"].to_numpy(dtype=float)
    return float((rows["server_batch_ms"] * batches).sum() / batches.sum())


def drift_scales(points: list[pd.DataFrame]) -> dict[str, float]:
    """Per point key of one model's curve and cold-start points: the factor that brings it
    to the machine's speed averaged over the model's profiling (``level / reference``).

    A referenced point (:attr:`perseus.profile.plan.Point.referenced`) carries batch 1
    back to back measured with it (interleaved with its requests, window by window, or in
    a window right before it); the batch-1 back-to-back points (the curve's
    first, the cold start's think 0) are their own reference; ``level`` is the mean of
    all of them. Without any measured reference (a raw table from before they were
    measured) every factor is 1.

    A reference measured in a window apart from its point (a cold start's) and further
    than ``STALL`` from the median of the model's references is a stall of its one
    window, not the machine's drift: its point keeps the speed it was measured at, and
    it does not enter ``level``. A reference interleaved with its point, or a point that
    is its own, was measured under the point's own drift, however far that took it: in
    the profile of 2026-12-06 08:52 (an embedded host reporting the Intel CPU name),
    MobileNetV2's batch 2 over its interleaved reference read 1.71, 1.69 and 1.71 in its
    three passes while the references read 2.76, 2.99 and 4.62 ms, and taking the last
    for a stall put batch 2 at 2.17 times batch 1 (raw tables measured before the curve
    interleaved its references, 2026-12-06, are read the same way). On the AMD EPYC
    embedded host (2026-11-29 22:00), ResNet-50's reference before its cold-start point
    after 3 ms of rest took 57.8 ms, 86% above the median of its eleven (31.0 ms; the
    rest within -10 / +11%), where the point itself took 37.7 ms: scaled by it, the
    cold-start table read 20.6 ms after 3 ms of rest against 33.0 ms back to back. The
    drift of every other reference stayed within -15 / +11% of its model's median there,
    and within 6% on the Intel host's profile of 14:57."""
    if not any(rows["reference_ms"].notna().all() for rows in points):
        return {}
    references, apart = {}, set()
    for rows in points:
        first = rows.iloc[0]
        if rows["reference_ms"].notna().all():
            references[first["key"]] = _weighted(rows, "reference_ms")
            if not interleaves_reference(first["phase"], int(first["batch_size"])):
                apart.add(first["key"])
        elif int(first["batch_size"]) == 1 and float(first["think_ms"]) == 0.0:
            references[first["key"]] = _server_batch_ms(rows)
    stalls = _stalls(references) & apart
    level = float(np.mean([r for key, r in references.items() if key not in stalls]))
    return {key: 1.0 if key in stalls else level / reference for key, reference in references.items()}


def _stalls(references: dict[str, float]) -> set[str]:
    """The keys whose reference lies further than ``STALL`` from the median reference."""
    median = float(np.median(list(references.values())))
    return {key for key, r in references.items() if abs(r / median - 1.0) > STALL}


def curve_point(passes: list[pd.DataFrame], scales: dict[str, float]) -> tuple[LatencyStats, OverheadStats]:
    """A curve point from its passes (:attr:`perseus.profile.plan.Point.repeat`): each
    pass's batch time at its :func:`drift_scales` factor, and the overhead around it, then
    their mean over the passes (``passes`` lists each pass's mean where there are several)."""
    measured = [_pass_point(rows, scales.get(rows.iloc[0]["key"], 1.0)) for rows in passes]
    if len(measured) == 1:
        return measured[0]
    latencies, overheads = zip(*measured)

    def mean(stats: tuple[LatencyStats | OverheadStats, ...], key: str) -> float:
        return round(float(np.mean([getattr(s, key) for s in stats])), 4)

    latency = LatencyStats(**{key: mean(latencies, key) for key in ("mean", "p50", "p95", "p99", "std")},
                           n=sum(s.n or 0 for s in latencies), stable=all(s.stable for s in latencies),
                           passes=[s.mean for s in latencies])
    return latency, OverheadStats(**{key: mean(overheads, key) for key in ("mean", "p50", "p99")})


def _pass_point(rows: pd.DataFrame, scale: float) -> tuple[LatencyStats, OverheadStats]:
    """One pass of a curve point: its batch time, its compute times ``scale``, and the
    overhead around it (not scaled: the front end is not the model's compute)."""
    compute = _server_batch_ms(rows)
    client_mean = _weighted(rows, "client_mean_ms")
    overhead = max(client_mean - compute, 0.0)
    latency = LatencyStats(
        mean=round(compute * scale, 4),
        p50=round(max(_weighted(rows, "client_p50_ms") - overhead, 0.0) * scale, 4),
        p95=round(max(_weighted(rows, "client_p95_ms") - overhead, 0.0) * scale, 4),
        p99=round(max(_weighted(rows, "client_p99_ms") - overhead, 0.0) * scale, 4),
        std=round(_weighted(rows, "client_std_ms") * scale, 4),
        n=int(rows["server_batches"].sum()),
        stable=bool(rows["stable"].iloc[-1]),
    )
    over = OverheadStats(
        mean=round(overhead, 4),
        p50=round(max(_weighted(rows, "client_p50_ms") - compute, 0.0), 4),
        p99=round(max(_weighted(rows, "client_p99_ms") - compute, 0.0), 4),
    )
    return latency, over


def unsteady_points(models: dict[str, ModelProfile]) -> list[str]:
    """The curve points whose passes spread (max - min over their mean) further than
    ``PASS_SPREAD_WARN`` after their drift correction: the machine's speed moved them, and
    no simulation of it will be steadier than that."""
    notes = []
    for name, model in models.items():
        for size, point in model.batch_latency_ms.items():
            if point.passes and (max(point.passes) - min(point.passes)) / point.mean > PASS_SPREAD_WARN:
                notes.append(f"{name} batch {size}: its {len(point.passes)} passes took "
                             f"{', '.join(f'{p:.1f}' for p in point.passes)} ms (profiled: the mean, {point.mean:.1f})")
    return notes


def linear_fit(curve: dict[int, LatencyStats]) -> LinearFit | None:
    if len(curve) < 2:
        return None
    sizes = np.array(sorted(curve), dtype=float)
    means = np.array([curve[int(s)].mean for s in sizes])
    result = stats.linregress(sizes, means)
    return LinearFit(intercept_ms=round(float(result.intercept), 4), per_item_ms=round(float(result.slope), 4),
                     r2=round(float(result.rvalue**2), 5))


def curve_item_ms(frame: pd.DataFrame) -> dict[str, float]:
    """Each model's compute per item at the curve's smallest batch size (ms), over its passes."""
    alone = curve_batch_ms(frame)
    smallest = {model: min(size for m, size in alone if m == model) for model, _ in alone}
    return {model: alone[(model, size)] / size for model, size in smallest.items()}


def curve_batch_ms(frame: pd.DataFrame) -> dict[tuple[str, int], float]:
    """Per (model, batch size) of the curve: the batch compute, pooled over its passes, as
    measured (ms)."""
    return {(model, size): _server_batch_ms(pd.concat(passes))
            for model, phases in _by_model_and_phase(point_rows(frame)).items()
            for size, passes in _by_size(phases.get("curve", [])).items()}


def model_profiles(frame: pd.DataFrame, input_bytes: dict[str, int],
                   front_ends: dict[str, dict[str, dict[str, OverheadStats]]] | None = None) -> dict[str, ModelProfile]:
    """The per-model part of a profile from every finished point, and the ``frontend``
    replay's spreads where it was measured (:func:`perseus.profile.frontend.front_end_by_core`).
    A model the replay measured has no cold-start table: open-loop traffic does not see
    the slowdown after a rest that the closed-loop think-time probes measure, and the
    open-loop factor, solved on the replay's quiet part, carries the open-loop level
    alone (:mod:`perseus.profile.openloop`). In the profile of 2026-12-06 13:17 the probes
    read ResNet-18's batch 1 as 1.17, 1.21 and 1.52 times its back-to-back compute after
    32, 11 and 4 ms of rest, and MobileNetV2's as 1.30-1.39 after 10-100 ms. In the 60
    replays of the five ``bench_validate.py`` runs kept with that profile (13:21-17:29), a
    lone batch of one that started after over 100 ms of idle core computed 1.03 times as
    long as one that started right after another batch (ResNet-18, alone or beside
    MobileNetV2; medians), MobileNetV2 1.08 times. Re-simulated on those runs' arrivals
    (45 model-case rows, three seeds) with the open-loop factors solved again without the
    table, the mean absolute p50 / p95 / p99 error as profiled went from 13.7 / 24.0 /
    24.1% to 9.6 / 21.3 / 23.0%, the mean signed one from +6.5 / +2.3 / -8.1% to +0.9 /
    +1.4 / -3.0%."""
    profiles = {}
    for model, points in _by_model_and_phase(point_rows(frame)).items():
        curve_passes = _by_size(points.get("curve", []))
        if not curve_passes:
            continue
        solo = _of_size(points.get("coldstart", []), 1)
        scales = drift_scales([*points.get("curve", []), *solo])
        summaries = {size: curve_point(passes, scales) for size, passes in sorted(curve_passes.items())}
        curve = {size: latency for size, (latency, _) in summaries.items()}
        cold = None if model in (front_ends or {}) else cold_start(solo, scales)   # see the docstring
        profiles[model] = ModelProfile(
            input_bytes=input_bytes.get(model),
            batch_latency_ms=curve,
            overhead_ms={size: overhead for size, (_, overhead) in summaries.items()},
            fit=linear_fit(curve),
            instance_scaling=instance_scaling(points.get("scaling", [])),
            service_time="empirical",
            cold_start=cold,
            cold_start_share=cold_start_share(points.get("coldstart", []), cold),
            front_end_ms=front_end(_of_size(points.get("coldstart", []), 1)),
            busy_front_end_ms=front_end(points.get("busy", [])),
            **(front_ends or {}).get(model, {}),
            queue_delay_lag_ms=queue_delay_lag(points.get("timer", []), _pooled(curve_passes.get(1))),
        )
    return profiles


def _by_model_and_phase(by_key: dict[str, pd.DataFrame]) -> dict[str, dict[str, list[pd.DataFrame]]]:
    grouped: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for rows in by_key.values():
        first = rows.iloc[0]
        grouped.setdefault(first["model"], {}).setdefault(first["phase"], []).append(rows)
    return grouped


def instance_scaling(points: list[pd.DataFrame]) -> dict[int, float]:
    """Throughput with n busy instances relative to one (empty without the one)."""
    throughput = {int(rows.iloc[0]["instances"]): _weighted(rows, "throughput") for rows in points}
    base = throughput.get(1)
    return {n: round(t / base, 4) for n, t in sorted(throughput.items())} if base else {}


def cold_start(points: list[pd.DataFrame], scales: dict[str, float] | None = None) -> ColdStart | None:
    """The cold-start table: per think time, the idle time before each batch (think time
    plus the request's overhead), the batch-1 compute (times its :func:`drift_scales`
    factor) and the overhead."""
    table = {}
    for rows in points:
        compute = _server_batch_ms(rows)
        outside = max(_weighted(rows, "client_mean_ms") - compute, 0.0)
        scale = (scales or {}).get(rows.iloc[0]["key"], 1.0)
        table[float(rows.iloc[0]["think_ms"]) + outside] = (compute * scale, outside)
    if not table:
        return None
    idle = sorted(table)
    return ColdStart(idle_ms=[round(i, 4) for i in idle], compute_ms=[round(table[i][0], 4) for i in idle],
                     overhead_ms=[round(table[i][1], 4) for i in idle])


def _by_size(points: list[pd.DataFrame]) -> dict[int, list[pd.DataFrame]]:
    """The points by batch size (a curve size's passes)."""
    sizes: dict[int, list[pd.DataFrame]] = {}
    for rows in points:
        sizes.setdefault(int(rows.iloc[0]["batch_size"]), []).append(rows)
    return sizes


def _pooled(points: list[pd.DataFrame] | None) -> pd.DataFrame | None:
    """The judged windows of several points (a curve size's passes) as one."""
    return pd.concat(points) if points else None


def _of_size(points: list[pd.DataFrame], size: int) -> list[pd.DataFrame]:
    return [rows for rows in points if int(rows.iloc[0]["batch_size"]) == size]


def cold_start_share(points: list[pd.DataFrame], table: ColdStart | None) -> dict[int, float]:
    """Per larger batch size measured back to back and after a think time: its slowdown
    after the think (``compute / back to back - 1``) over batch 1's at the same duty cycle,
    read from batch 1's ``table`` as the simulator reads it; left out where batch 1 slowed
    by under ``MIN_COLD_SLOWDOWN`` there (the share would be noise)."""
    by_size: dict[int, dict[float, tuple[float, float]]] = {}
    for rows in points:
        size = int(rows.iloc[0]["batch_size"])
        if size > 1:
            compute = _server_batch_ms(rows)
            idle = float(rows.iloc[0]["think_ms"]) + max(_weighted(rows, "client_mean_ms") - compute, 0.0)
            by_size.setdefault(size, {})[idle] = (compute, compute / (compute + idle))
    shares = {}
    for size, rows in sorted(by_size.items()):
        if table is None or len(rows) < 2:
            continue
        warm, (cold, duty) = rows[min(rows)][0], rows[max(rows)]
        batch1 = float(np.interp(duty, *cold_factor_by_duty(table))) - 1.0
        if batch1 >= MIN_COLD_SLOWDOWN:
            shares[size] = round(max(cold / warm - 1.0, 0.0) / batch1, 4)
    return shares


def front_end(points: list[pd.DataFrame]) -> OverheadStats | None:
    """Per-request front end pooled over the judged windows of the ``points`` that measured
    it request by request (None: none did)."""
    measured = [rows for rows in points if rows["front_mean_ms"].notna().all()]
    if not measured:
        return None
    rows = pd.concat(measured)
    return OverheadStats(**{key: round(_weighted(rows, f"front_{key}_ms"), 4) for key in ("mean", "p50", "p95", "p99")})


def queue_delay_lag(points: list[pd.DataFrame], alone: pd.DataFrame | None) -> float | None:
    """How much later than its max queue delay a lone request's batch started (ms)."""
    if not points:
        return None
    timer = points[-1]
    base = _weighted(alone, "server_queue_ms") if alone is not None else 0.0
    return round(_weighted(timer, "server_queue_ms") - float(timer["queue_delay_ms"].iloc[-1]) - base, 4)


def _interference_points(frame: pd.DataFrame) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Per (victim, partner): ``(alone, beside)`` batch times (ms) at each measured size;
    alone is the window measured right before the point where there is one, else the curve."""
    alone = curve_batch_ms(frame)
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rows in point_rows(frame).values():
        first = rows.iloc[0]
        base = alone.get((first["model"], int(first["batch_size"])))
        if rows["alone_batch_ms"].notna().all():   # measured right before the point
            base = _weighted(rows, "alone_batch_ms")
        if first["phase"] == "interference" and base:
            pairs.setdefault((first["model"], first["partner"]), []).append((base, _server_batch_ms(rows)))
    return pairs


def wake_slice_ms(frame: pd.DataFrame) -> float | None:
    """The host's wake slice ``q``, from the pairs measured at two or more batch sizes:
    each pair's ``q`` in ``beside = q + (alone - q) * S`` (clamped at 0), and their median
    weighted by ``1 / alone²`` at the smallest size. Alone and beside are measured minutes
    apart, so a drift of the machine's speed moves a pair's ``q`` in proportion to its batch
    time: short batches pin ``q`` down, long ones scatter. None when no pair was measured at
    two sizes."""
    fits, weights = [], []
    for points in _interference_points(frame).values():
        if len({alone for alone, _ in points}) < 2:
            continue
        alone, beside = np.array(points).T
        slope, intercept = np.polyfit(alone, beside, 1)
        if slope > 1.05:    # a slope near 1 leaves q undetermined
            fits.append(max(-intercept / (slope - 1.0), 0.0))
            weights.append(1.0 / alone.min() ** 2)
    if not fits:
        return None
    order = np.argsort(fits)
    cumulative = np.cumsum(np.array(weights)[order])
    return round(float(np.array(fits)[order][np.searchsorted(cumulative, cumulative[-1] / 2)]), 4)


def interference_matrix(frame: pd.DataFrame, slice_ms: float | None = None) -> dict[str, dict[str, float]]:
    """``matrix[a][b]``: slowdown of a's batch time while b is busy beside it, after a's
    first ``slice_ms`` (its wake slice). Each point gives ``(beside - q) / (alone - q)``,
    from the sizes whose alone time is at least 1.5 slices (on shorter ones the slice is
    most of the batch, and the ratio is noise), or ``beside / alone`` without a slice or
    without such sizes; a pair's slowdown is the geometric mean of its points, pooled
    towards the host's across all pairs by as much as their scatter is the windows' noise
    (:mod:`perseus.profile.pooling`)."""
    q = slice_ms or 0.0
    logs = {pair: np.log(np.maximum(_slowdowns(points, q), 1e-3))
            for pair, points in _interference_points(frame).items()}
    matrix: dict[str, dict[str, float]] = {}
    for (victim, partner), slowdown in shrunk_means(logs).items():
        matrix.setdefault(victim, {})[partner] = round(float(np.exp(slowdown)), 4)
    return matrix


def _slowdowns(points: list[tuple[float, float]], q: float) -> list[float]:
    """A pair's ratios beside / alone, after the slice where the batch outlasts it enough."""
    return [(beside - q) / (alone - q) for alone, beside in points if q and alone >= 1.5 * q] or [
        beside / alone for alone, beside in points]


def switch_matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``matrix[a][b]``: extra ms of a's batch right after a batch of b ran (a switch).

    Each window gives a's compute alternating with b over a's compute alone in the window
    just before (so that a drifting machine speed cancels out); a pair's log ratios are
    pooled towards the host's over all pairs as far as the pairs differ by their windows'
    noise (:mod:`perseus.profile.pooling`), and the ratio less one, times a's compute
    alone, is the extra. A switch only adds work (b's data displaced a's from the caches),
    so a pair that comes out faster after b, the noise of a few windows, costs 0: on the
    AMD EPYC host of 2026-12-07 one pair's three windows read -0.3, -0.5 and -7.5 ms (its
    alone window 26 ms where its neighbours read 19-20), and the mean of such differences
    had ResNet-18 computing 2.8 ms less after MobileNetV2."""
    logs, alone = {}, {}
    for rows in point_rows(frame).values():
        first = rows.iloc[0]
        if first["phase"] == "switch":
            pair = (first["model"], first["partner"])
            logs[pair] = np.log(rows["server_batch_ms"].to_numpy(float) / rows["alone_batch_ms"].to_numpy(float))
            alone[pair] = _weighted(rows, "alone_batch_ms")
    matrix: dict[str, dict[str, float]] = {}
    for (model, partner), log_ratio in shrunk_means(logs).items():
        extra = max(float(np.expm1(log_ratio)) * alone[model, partner], 0.0)
        matrix.setdefault(model, {})[partner] = round(extra, 4)
    return matrix
