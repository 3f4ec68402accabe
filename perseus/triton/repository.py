"""The model repository Perseus writes for the embedded host, and Triton model configs.

A model's Triton settings (instance group, max batch size, dynamic batcher) come from
:class:`~perseus.config.scenario.ModelConfig`. The same dict is written as
``config.pbtxt`` and sent as a ``load_model(config=...)`` override, so the file and the
override can never disagree.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from perseus import zoo
from perseus.config.scenario import ModelConfig
from perseus.triton.control import dynamic_batching
from perseus.triton.install import site_packages

MODEL_SOURCE = Path(__file__).with_name("python_model.py")
OUTPUT_CLASSES = 1000

InstanceKind = Literal["KIND_CPU", "KIND_GPU"]


def model_config(
    name: str,
    settings: ModelConfig,
    *,
    resolution: int = zoo.DEFAULT_RESOLUTION,
    kind: InstanceKind = "KIND_CPU",
    intra_op_threads: int = 1,
) -> dict[str, Any]:
    """Triton's model configuration (JSON form) for zoo model ``name`` with ``settings``."""
    config: dict[str, Any] = {
        "name": name,
        "backend": "python",
        "max_batch_size": max(settings.max_batch_size, 1),
        "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": list(zoo.input_shape(name, resolution))}],
        "output": [{"name": "output", "data_type": "TYPE_FP32", "dims": [OUTPUT_CLASSES]}],
        "instance_group": [{"count": settings.instances, "kind": kind}],
        "parameters": {
            "onnx_path": {"string_value": str(zoo.model_path(name, resolution))},
            "sys_path": {"string_value": os.pathsep.join(site_packages())},
            "intra_op_threads": {"string_value": str(intra_op_threads)},
        },
    }
    batching = dynamic_batching(settings)
    if batching is not None:
        config["dynamic_batching"] = batching
    return config


def to_pbtxt(config: dict[str, Any]) -> str:
    """A JSON-form model config as ``config.pbtxt`` text."""
    message = json_format.ParseDict(config, model_config_pb2.ModelConfig())
    return text_format.MessageToString(message)


def write_repository(root: Path, configs: dict[str, dict[str, Any]]) -> Path:
    """Write ``config.pbtxt`` and ``1/model.py`` for each model under ``root`` (replaced whole)."""
    if root.exists():
        shutil.rmtree(root)
    for name, config in configs.items():
        version = root / name / "1"
        version.mkdir(parents=True)
        shutil.copyfile(MODEL_SOURCE, version / "model.py")
        (root / name / "config.pbtxt").write_text(to_pbtxt(config))
    return root


def config_json(config: dict[str, Any]) -> str:
    """The override string ``load_model(config=...)`` takes."""
    return json.dumps(config)
