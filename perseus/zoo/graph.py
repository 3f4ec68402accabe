"""A tiny ONNX graph builder: layers as methods, deterministic He-initialised weights.

Batch-norm is folded into each convolution's weights and bias, as inference graphs are
exported, so a "conv" here is Conv (+ bias) followed by an optional activation.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 9


class GraphBuilder:
    """Accumulates nodes and initializers; each layer returns its output tensor name."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.macs = 0
        self._count = 0

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}_{self._count}"

    def _weight(self, array: np.ndarray, kind: str) -> str:
        name = self._name(kind)
        self.weights.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv(self, x: str, c_in: int, c_out: int, kernel: int, size: int, *, stride: int = 1, groups: int = 1,
             act: str | None = "relu") -> tuple[str, int]:
        """Convolution with 'same' padding on a ``size`` x ``size`` map; returns (tensor, new size)."""
        fan_in = c_in // groups * kernel * kernel
        weight = self.rng.standard_normal((c_out, c_in // groups, kernel, kernel)) * np.sqrt(2.0 / fan_in)
        bias = np.zeros(c_out)
        out = self._name("conv")
        pad = kernel // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, self._weight(weight, "w"), self._weight(bias, "b")], [out],
            kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4, group=groups))
        new_size = (size + 2 * pad - kernel) // stride + 1
        self.macs += fan_in * c_out * new_size * new_size
        return self.activation(out, act), new_size

    def activation(self, x: str, act: str | None) -> str:
        if act is None:
            return x
        out = self._name(act)
        if act == "relu":
            self.nodes.append(helper.make_node("Relu", [x], [out]))
        elif act == "relu6":
            lo = self._weight(np.array(0.0), "lo")
            hi = self._weight(np.array(6.0), "hi")
            self.nodes.append(helper.make_node("Clip", [x, lo, hi], [out]))
        else:
            raise ValueError(act)
        return out

    def add(self, a: str, b: str, act: str | None = None) -> str:
        out = self._name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [out]))
        return self.activation(out, act)

    def max_pool(self, x: str, size: int, kernel: int = 3, stride: int = 2) -> tuple[str, int]:
        out = self._name("pool")
        pad = kernel // 2 if kernel % 2 else 0
        self.nodes.append(helper.make_node("MaxPool", [x], [out], kernel_shape=[kernel] * 2, strides=[stride] * 2,
                                           pads=[pad] * 4))
        return out, (size + 2 * pad - kernel) // stride + 1

    def classifier(self, x: str, channels: int, classes: int, hidden: tuple[int, ...] = ()) -> str:
        """Global average pool, then fully connected layers (ReLU between) to ``classes``."""
        pooled = self._name("gap")
        flat = self._name("flat")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
        self.nodes.append(helper.make_node("Flatten", [pooled], [flat]))
        width = channels
        for i, units in enumerate((*hidden, classes)):
            weight = self.rng.standard_normal((width, units)) * np.sqrt(2.0 / width)
            out = "output" if i == len(hidden) else self._name("fc")
            self.nodes.append(helper.make_node("Gemm", [flat, self._weight(weight, "fw"),
                                                        self._weight(np.zeros(units), "fb")], [out]))
            self.macs += width * units
            flat = out if i == len(hidden) else self.activation(out, "relu")
            width = units
        return "output"

    def model(self, name: str, resolution: int, classes: int) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, resolution, resolution])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", classes])],
            self.weights,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="perseus")
        model.ir_version = IR_VERSION
        model.doc_string = f"{name} at {resolution}x{resolution}, random weights; {self.macs} multiply-accumulates"
        onnx.checker.check_model(model)
        return model
