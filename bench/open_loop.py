"""Batch compute under open-loop traffic, traced and untraced, against back-to-back windows.

The profile's ``open_loop_factor`` (:mod:`perseus.profile.openloop`) is solved on a
traced replay; this checks that the tracing is not what slows the batches. Per model,
alone on an embedded host pinned to core 0: a back-to-back window of batch 1, then
Poisson replays of ``--seconds`` at ``--duty`` of the core (from the first window),
alternately untraced and traced (``--pairs`` of each), then another back-to-back window.
Each figure is the mean batch-1 compute from Triton's statistics (ms), so traced and
untraced runs are measured alike.

    python bench/open_loop.py [--models resnet18,mobilenet_v2] [--seconds 30] [--duty 0.28] [--pairs 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from perseus.config.hosts import Host
from perseus.config.scenario import ModelConfig
from perseus.profile.loadgen import LoadGenerator, random_batch
from perseus.replay import Endpoint, LiveRouter, ReplayLog, merge_arrivals, replay
from perseus.triton.client import TritonClient
from perseus.triton.cores import pinned_away_from
from perseus.triton.server import EmbeddedServer


def back_to_back_ms(gen: LoadGenerator, model: str, shape: tuple[int, ...]) -> float:
    batch = random_batch(shape, 1)
    gen.warm_up(model, batch)
    return gen.window(model, batch, min_time_s=3.0, min_requests=50).server.batch_compute_ms(1)


def open_loop_ms(endpoint: Endpoint, client: TritonClient, model: str, rate: float, seconds: float,
                 traced: bool, seed: int) -> float:
    """Mean batch-1 compute of one Poisson replay at ``rate`` requests/s."""
    times = np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, int(rate * seconds)))
    models, index, merged = merge_arrivals({model: times})
    before = client.statistics(model)
    client.set_tracing(traced)
    try:
        replay([endpoint], ReplayLog(models, index, merged), LiveRouter({0: [0]}, {}, 0))
    finally:
        client.set_tracing(False)
    return client.statistics(model).minus(before).batch_compute_ms(1)


def measure(model: str, seconds: float, duty: float, pairs: int, trace_file: Path) -> list[tuple[str, float]]:
    with EmbeddedServer([model], settings={model: ModelConfig(max_batch_size=16)}, cores=[0],
                        trace_file=trace_file) as server:
        host = Host(url=server.grpc_url)
        gen = LoadGenerator(lambda: TritonClient.for_host("local", host), max_concurrency=2)
        client = TritonClient.for_host("local", host)
        shape = tuple(int(d) for d in gen.control.model_config(model)["input"][0]["dims"])
        endpoint = Endpoint("local", server.grpc_url, host, {model: shape}, trace_file)
        try:
            with pinned_away_from([0]):
                first = back_to_back_ms(gen, model, shape)
                figures = [("back to back", first)]
                for k in range(pairs):
                    for traced in (False, True):
                        ms = open_loop_ms(endpoint, client, model, duty / (first / 1e3), seconds, traced, 2 * k + traced)
                        figures.append(("traced" if traced else "untraced", ms))
                figures.append(("back to back", back_to_back_ms(gen, model, shape)))
        finally:
            client.close()
            gen.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--duty", type=float, default=0.28, help="share of the core the replays keep busy")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            figures = measure(model, args.seconds, args.duty, args.pairs, Path(tmp) / f"{model}.trace.json")
            print(f"{model:<14}" + " | ".join(f"{label} {ms:.2f}" for label, ms in figures), flush=True)


if __name__ == "__main__":
    main()
