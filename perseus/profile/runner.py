"""Profile one Triton host: the same code path for the embedded host and a remote server.

Models are (re)loaded with config overrides (``max_batch_size``, ``instance_group``,
no dynamic batcher, so that the client's batches reach the backend as sent) and restored
afterwards. A server that does not allow model control is profiled as loaded, and the
points that need a reload (two instances) are left out with a warning.
"""

from __future__ import annotations

import platform
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perseus.config.hosts import Host
from perseus.config.loading import write_atomic
from perseus.config.profile import Hardware, Profile, save_profile
from perseus.config.scenario import ModelConfig
from perseus.errors import InputError
from perseus.profile.loadgen import BackgroundLoad, LoadGenerator, Window, random_batch
from perseus.profile.plan import NEIGHBOUR_BATCH, Point, Settings, points
from perseus.profile.frontend import front_end_by_core, measure_front_end, quietest_part, replay_parts, replay_schedule
from perseus.profile.openloop import open_loop_factors, with_open_loop_factors
from perseus.profile.drift import fit_speed_drift
from perseus.profile.ingress import fit_arrival_work
from perseus.profile.spread import fit_batch_spread
from perseus.profile.wakeup import fit_wake_law, replay_joins
from perseus.profile.rawtable import RawTable, marker_row, window_row
from perseus.profile.stability import is_stable
from perseus.profile.summary import (PASS_SPREAD_WARN, curve_item_ms, interference_matrix, model_profiles,
                                     switch_matrix, unsteady_points, wake_slice_ms)
from perseus.replay import Endpoint
from perseus.triton.client import TritonClient
from perseus.triton.cores import pinned_away_from
from perseus.triton.control import ModelControl

Progress = Callable[[Point, int, int], None]  # point, index, total
Warn = Callable[[str], None]


@dataclass
class Target:
    """A reachable Triton server to profile and how to make clients of it."""

    name: str
    host: Host
    url: str
    hardware: Hardware
    cores: list[int] | None = None   # where the server runs; the load generator avoids them
    trace_file: Path | None = None   # where the server writes request traces (embedded hosts)

    def client(self) -> TritonClient:
        return TritonClient.for_host(self.name, self.host, None if self.url == self.host.url else self.url)


def profiling_settings(settings: Settings, instances: int, delay_ms: float | None = None) -> ModelConfig:
    """Client-side batches up to the largest measured size, no dynamic batcher (or one with
    a max queue delay of ``delay_ms``)."""
    return ModelConfig(instances=instances, max_batch_size=settings.max_batch_size, max_queue_delay_ms=delay_ms)


def point_settings(point: Point, model: str, settings: Settings) -> ModelConfig:
    """How ``model`` is loaded while ``point`` is measured."""
    if model != point.model:
        return profiling_settings(settings, 1)
    return profiling_settings(settings, point.instances, settings.queue_delay_ms(point))


def input_shape(config: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in config["input"][0]["dims"])


def hardware_of_this_machine(cores: int) -> Hardware:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Hardware(kind="cpu", name=name, cores=cores)


def measure_point(gen: LoadGenerator, target: Target, point: Point, shape: tuple[int, ...],
                  settings: Settings, lead: tuple[str, np.ndarray] | None = None,
                  warm: bool = False) -> tuple[list[dict[str, object]], bool]:
    """Windows of one point until perf_analyzer's stability rule holds (or the window limit),
    after warm-up requests unless the model is ``warm`` (it has just run this batch).

    With ``lead`` (a request to another model sent before each measured one) each window
    follows one of the model alone, so that the two compare under the same conditions. An
    :attr:`~perseus.profile.plan.Point.interleaved` point sends a batch of one of its model
    before each measured request instead, and each window's ``reference_ms`` is their
    compute."""
    batch = random_batch(shape, point.batch_size)
    if not warm:
        gen.warm_up(point.model, batch)
    reference = (point.model, random_batch(shape, 1, seed=1)) if point.interleaved else None
    rows, throughputs, latencies = [], [], []
    stable = False
    for index in range(settings.max_windows):
        alone = gen.window(point.model, batch, min_time_s=settings.min_window_s,
                           min_requests=settings.min_requests) if lead else None
        window: Window = gen.window(point.model, batch, concurrency=point.concurrency,
                                    min_time_s=settings.min_window_s, min_requests=settings.window_requests(point),
                                    think_s=point.think_ms / 1e3, lead=lead or reference, per_request=point.per_request)
        rows.append(window_row(point, index, window, settings.queue_delay_ms(point) or 0.0))
        if alone is not None:
            rows[-1]["alone_batch_ms"] = alone.server.batch_compute_ms(point.batch_size)
        if reference is not None:
            rows[-1]["reference_ms"] = window.server.batch_compute_ms(1)
        throughputs.append(window.throughput)
        latencies.append(float(window.latencies_ms.mean()))
        if is_stable(throughputs, latencies):
            stable = True
            break
    return rows, stable


def alone_batch_ms(gen: LoadGenerator, model: str, batch_size: int, shape: tuple[int, ...],
                   settings: Settings) -> float:
    """The model's batch compute alone, back to back, measured right before a point that
    is compared with it (its partner's load, a think time, another size): the machine's
    speed drifts between phases, and the ratio of the two would carry that drift."""
    batch = random_batch(shape, batch_size)
    gen.warm_up(model, batch)
    window = gen.window(model, batch, min_time_s=settings.min_window_s, min_requests=settings.min_requests)
    return window.server.batch_compute_ms(batch_size)


def run_profile(target: Target, models: list[str], settings: Settings, out: Path, *, resume: bool,
                progress: Progress, warn: Warn, command: str | None = None) -> Profile:
    """Measure every point not yet in the checkpoint, then write the profile."""
    raw_path, front_path = out.with_suffix(".csv"), out.with_suffix(".frontend.csv")
    table = RawTable.resume(raw_path) if resume else RawTable(raw_path)
    gen = LoadGenerator(target.client, max_concurrency=2 * max(settings.instance_counts))
    control = ModelControl(gen.control, warn)
    try:
        available = gen.control.model_names()
        missing = [m for m in models if m not in available]
        if missing:
            raise InputError(f"host {target.name!r} ({target.url}) does not serve model(s) {', '.join(missing)} "
                             f"(it serves: {', '.join(available) or 'none'})", field="--models")
        for model in models:
            control.configure(model, profiling_settings(settings, 1))
        shapes = {m: input_shape(gen.control.model_config(m)) for m in models}
        plan = points(models, settings, traced=target.trace_file is not None)
        with pinned_away_from(target.cores):
            _measure_all(gen, target, control, plan, shapes, settings, table, front_path, progress)
        control.restore()
    finally:
        gen.close()
    frame = table.frame()
    slice_ms = wake_slice_ms(frame)
    replayed = (frame["phase"] == "frontend").any() and front_path.exists()
    requests = pd.read_csv(front_path) if replayed else None
    front_ends = front_end_by_core(requests, slice_ms) if requests is not None else {}
    profile = Profile(
        host=target.name,
        hardware=target.hardware,
        triton_version=_version(target),
        measured_at=datetime.now(timezone.utc).replace(microsecond=0),
        command=command,
        models=model_profiles(frame, {m: int(np.prod(s)) * 4 for m, s in shapes.items()}, front_ends),
        interference=interference_matrix(frame, slice_ms),
        wake_slice_ms=slice_ms,
        switch_ms=switch_matrix(frame),
    )
    unsteady = unsteady_points(profile.models)
    if unsteady:
        warn(f"the machine's speed moved these points between passes by over {PASS_SPREAD_WARN:.0%}: "
             + "; ".join(unsteady))
    if requests is not None:
        work_ms = fit_arrival_work(requests)
        parts = replay_parts(settings.replay_utilization, settings.replay_s)
        profile = profile.model_copy(update={"wake_law": fit_wake_law(replay_joins(requests, profile.interference)),
                                             "arrival_work_ms": work_ms,
                                             "batch_spread": fit_batch_spread(requests, work_ms or 0.0),
                                             "speed_drift": fit_speed_drift(requests, work_ms or 0.0, parts)})
        quiet = quietest_part(settings.replay_utilization, settings.replay_s)
        profile = with_open_loop_factors(profile, open_loop_factors(profile, requests, settings.max_batch_size, quiet))
    save_profile(profile, out)
    return profile


def _version(target: Target) -> str | None:
    client = target.client()
    try:
        return client.server_version()
    finally:
        client.close()


def _measure_all(gen: LoadGenerator, target: Target, control: ModelControl, plan: list[Point],
                 shapes: dict[str, tuple[int, ...]], settings: Settings, table: RawTable, front_path: Path,
                 progress: Progress) -> None:
    done = table.done()
    loaded = {m: profiling_settings(settings, 1) for m in shapes}
    for index, point in enumerate(plan):
        progress(point, index, len(plan))
        if point.key in done:
            continue
        if point.phase == "frontend":   # every model, as the curve measured it
            _replay_front_end(target, point, shapes, settings, table, front_path)
            continue
        for model in dict.fromkeys(m for m in (point.model, point.partner) if m):   # others stay as they are
            wanted = point_settings(point, model, settings)
            if loaded[model] != wanted and control.allowed:
                control.configure(model, wanted)
                loaded[model] = wanted
        if loaded[point.model] != point_settings(point, point.model, settings):
            continue  # the server does not allow model control: only what is loaded is measured
        shape = shapes[point.model]
        if point.busy_partner:
            alone = (alone_batch_ms(gen, point.model, point.batch_size, shape, settings)
                     if point.phase == "interference" else None)
            neighbour, concurrency = partner_load(point, shapes[point.partner])
            with BackgroundLoad(target.client, point.partner, neighbour, concurrency):
                rows, stable = measure_point(gen, target, point, shape, settings, warm=alone is not None)
            _stamp(rows, "alone_batch_ms", alone)
        elif point.phase == "switch":
            lead = (point.partner, random_batch(shapes[point.partner], 1, seed=1))
            rows, stable = measure_point(gen, target, point, shape, settings, lead)
        else:
            before = point.referenced and not point.interleaved   # else measure_point interleaves it
            reference = alone_batch_ms(gen, point.model, 1, shape, settings) if before else None
            rows, stable = measure_point(gen, target, point, shape, settings)
            _stamp(rows, "reference_ms", reference)
        table.add_point(rows, stable)
    progress(plan[-1], len(plan), len(plan))


def _stamp(rows: list[dict[str, object]], column: str, value: float | None) -> None:
    """Write a measurement taken once for the point into each of its windows' rows."""
    for row in rows if value is not None else ():
        row[column] = value


def _replay_front_end(target: Target, point: Point, shapes: dict[str, tuple[int, ...]], settings: Settings,
                      table: RawTable, path: Path) -> None:
    """The ``frontend`` point: its requests go to ``path``, a row marking it done to the table.
    The plan puts it where every model is loaded as the curve measured it."""
    schedule = replay_schedule(curve_item_ms(table.frame()), settings.replay_utilization, settings.replay_s)
    endpoint = Endpoint(target.name, target.url, target.host, shapes, target.trace_file)
    requests = measure_front_end(endpoint, target.client, schedule)
    write_atomic(path, requests.to_csv(index=False, float_format="%.6f"))
    table.add_point([marker_row(point, len(requests), settings.replay_s)], True)


def partner_load(point: Point, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """The partner's closed-loop load while ``point`` is measured: its batch and clients.

    For interference, batches of ``NEIGHBOUR_BATCH`` with a request always queued (two
    clients; one on a self-pair, whose second instance is the measured one), so that the
    partner never leaves the core. For the front end on a busy core, one client of
    one-item requests, so that the partner's backend wakes for every batch as under
    open-loop traffic: a thread that wakes early in such a batch waits for the core (a
    partner that never sleeps let the front end in at once here, 0.70 ms against 0.88 ms
    alone, where one that wakes per batch gave p95 2.5 ms against 0.9 ms alone).
    """
    if point.phase == "busy":
        return random_batch(shape, 1, seed=1), 1
    return random_batch(shape, NEIGHBOUR_BATCH, seed=1), 1 if point.partner == point.model else 2


def command_line() -> str:
    """The command that is running, for the profile's record (no environment, no tokens)."""
    return shlex.join(["perseus", *sys.argv[1:]])


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"expected comma-separated positive integers, got {text!r}", field="--batch-sizes") from None
    if not sizes or min(sizes) < 1:
        raise InputError(f"expected comma-separated positive integers, got {text!r}", field="--batch-sizes")
    return tuple(sorted(set(sizes)))
