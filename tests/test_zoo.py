"""The built-in CNNs: valid graphs, deterministic, cached, with the real networks' relative costs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from perseus import zoo

RESOLUTION = 32


@pytest.mark.parametrize("name", zoo.model_names())
def test_builds_and_runs_with_finite_outputs(name, tmp_path):
    path = zoo.model_path(name, RESOLUTION, directory=tmp_path)
    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = np.random.default_rng(0).random((batch, *zoo.input_shape(name, RESOLUTION)), dtype=np.float32)
        (out,) = session.run(["output"], {"input": x})
        assert out.shape == (batch, zoo.CLASSES) and np.isfinite(out).all()


def test_build_is_deterministic():
    a = zoo.build_model("resnet18", RESOLUTION).SerializeToString()
    b = zoo.build_model("resnet18", RESOLUTION).SerializeToString()
    assert a == b


def test_cache_builds_once(tmp_path):
    first = zoo.model_path("mobilenet_v2", RESOLUTION, directory=tmp_path)
    stamp = first.stat().st_mtime_ns
    again = zoo.model_path("mobilenet_v2", RESOLUTION, directory=tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="resnet50"):
        zoo.build_model("alexnet")


def test_relative_cost_matches_the_real_networks():
    """MACs at 224 px: VGG-11 7.6 G > ResNet-50 4.1 G > ResNet-18 1.8 G > MobileNetV2 0.3 G."""
    macs = {name: zoo.multiply_accumulates(name, 224) / 1e9 for name in zoo.model_names()}
    assert macs["vgg11"] > macs["resnet50"] > macs["resnet18"] > macs["mobilenet_v2"]
    assert macs["resnet50"] == pytest.approx(4.1, rel=0.1)
    assert macs["resnet18"] == pytest.approx(1.8, rel=0.1)
    assert macs["mobilenet_v2"] == pytest.approx(0.3, rel=0.1)
    assert macs["vgg11"] == pytest.approx(7.6, rel=0.1)
    assert zoo.input_bytes("resnet18", 112) == 3 * 112 * 112 * 4
