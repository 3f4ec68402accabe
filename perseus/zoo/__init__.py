"""The built-in CNN models: ONNX graphs built in code, random deterministic weights, cached.

Nothing is downloaded. Weights do not change latency on a CPU; architecture and input
size do, so these graphs cost what the real networks cost at the same resolution.
``DEFAULT_RESOLUTION`` is chosen so that a full profile of all models on one core stays
within minutes (see the README for the measured per-image times).
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from perseus.zoo.architectures import ARCHITECTURES
from perseus.zoo.graph import GraphBuilder

DEFAULT_RESOLUTION = 112
CLASSES = 1000
CHANNELS = 3


def model_names() -> list[str]:
    return list(ARCHITECTURES)


def _architecture(name: str):  # type: ignore[no-untyped-def]
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(model_names())}") from None


def build_model(name: str, resolution: int = DEFAULT_RESOLUTION) -> onnx.ModelProto:
    """The ONNX graph of zoo model ``name`` for ``resolution`` x ``resolution`` images."""
    builder, hidden, seed = _architecture(name)
    graph = GraphBuilder(seed)
    tensor, channels, _ = builder(graph, "input", resolution)
    graph.classifier(tensor, channels, CLASSES, hidden)
    return graph.model(name, resolution, CLASSES)


def cache_dir() -> Path:
    root = os.environ.get("PERSEUS_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "perseus") / "zoo"


def model_path(name: str, resolution: int = DEFAULT_RESOLUTION, directory: Path | None = None) -> Path:
    """The cached ``.onnx`` file of ``name`` (built once; safe with concurrent builders)."""
    _architecture(name)
    directory = directory or cache_dir()
    path = directory / f"{name}-{resolution}.onnx"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        onnx.save(build_model(name, resolution), tmp)
        os.replace(tmp, path)
    return path


def input_shape(name: str, resolution: int = DEFAULT_RESOLUTION) -> tuple[int, int, int]:
    """(channels, height, width) of one image."""
    _architecture(name)
    return (CHANNELS, resolution, resolution)


def input_bytes(name: str, resolution: int = DEFAULT_RESOLUTION) -> int:
    channels, height, width = input_shape(name, resolution)
    return channels * height * width * 4


def multiply_accumulates(name: str, resolution: int = DEFAULT_RESOLUTION) -> int:
    """Multiply-accumulates of one image through ``name`` (convolutions and dense layers)."""
    builder, hidden, seed = _architecture(name)
    graph = GraphBuilder(seed)
    tensor, channels, _ = builder(graph, "input", resolution)
    graph.classifier(tensor, channels, CLASSES, hidden)
    return graph.macs
