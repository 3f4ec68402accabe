"""The built-in CNNs, with the real networks' layer and channel tables.

* ResNet-18: basic blocks [2, 2, 2, 2]; ResNet-50: bottleneck blocks [3, 4, 6, 3] with
  expansion 4 (He et al. 2016);
* MobileNetV2: inverted residuals with expansion 6, depthwise 3x3 convolutions and
  ReLU6 (Sandler et al. 2018), width 1.0;
* VGG-11: configuration "A" with 4096-wide fully connected layers (Simonyan and
  Zisserman 2015), with a global average pool before the classifier so that any input
  resolution works.
"""

from __future__ import annotations

from collections.abc import Callable

from perseus.zoo.graph import GraphBuilder

Builder = Callable[[GraphBuilder, str, int], tuple[str, int, int]]  # (tensor, channels, size)


def _stem(g: GraphBuilder, x: str, size: int) -> tuple[str, int]:
    x, size = g.conv(x, 3, 64, 7, size, stride=2)
    return g.max_pool(x, size)


def _basic_block(g: GraphBuilder, x: str, c_in: int, c_out: int, size: int, stride: int) -> tuple[str, int]:
    y, new = g.conv(x, c_in, c_out, 3, size, stride=stride)
    y, new = g.conv(y, c_out, c_out, 3, new, act=None)
    shortcut = g.conv(x, c_in, c_out, 1, size, stride=stride, act=None)[0] if stride != 1 or c_in != c_out else x
    return g.add(y, shortcut, "relu"), new


def _bottleneck(g: GraphBuilder, x: str, c_in: int, width: int, size: int, stride: int) -> tuple[str, int]:
    c_out = width * 4
    y, _ = g.conv(x, c_in, width, 1, size)
    y, new = g.conv(y, width, width, 3, size, stride=stride)
    y, new = g.conv(y, width, c_out, 1, new, act=None)
    shortcut = g.conv(x, c_in, c_out, 1, size, stride=stride, act=None)[0] if stride != 1 or c_in != c_out else x
    return g.add(y, shortcut, "relu"), new


def resnet(blocks: tuple[int, ...], bottleneck: bool) -> Builder:
    def build(g: GraphBuilder, x: str, size: int) -> tuple[str, int, int]:
        x, size = _stem(g, x, size)
        channels = 64
        for stage, count in enumerate(blocks):
            width = 64 * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                if bottleneck:
                    x, size = _bottleneck(g, x, channels, width, size, stride)
                    channels = width * 4
                else:
                    x, size = _basic_block(g, x, channels, width, size, stride)
                    channels = width
        return x, channels, size

    return build


# (expansion t, output channels c, repeats n, first stride s), the MobileNetV2 paper's table
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))


def mobilenet_v2(g: GraphBuilder, x: str, size: int) -> tuple[str, int, int]:
    x, size = g.conv(x, 3, 32, 3, size, stride=2, act="relu6")
    channels = 32
    for t, c, n, s in _MOBILENET_V2:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = channels * t
            y = x
            if t != 1:
                y, _ = g.conv(y, channels, hidden, 1, size, act="relu6")
            y, new = g.conv(y, hidden, hidden, 3, size, stride=stride, groups=hidden, act="relu6")
            y, new = g.conv(y, hidden, c, 1, new, act=None)
            x = g.add(y, x) if stride == 1 and channels == c else y
            channels, size = c, new
    x, size = g.conv(x, channels, 1280, 1, size, act="relu6")
    return x, 1280, size


_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def vgg11(g: GraphBuilder, x: str, size: int) -> tuple[str, int, int]:
    channels = 3
    for layer in _VGG11:
        if layer == "M":
            x, size = g.max_pool(x, size, kernel=2, stride=2)
        else:
            x, size = g.conv(x, channels, int(layer), 3, size)
            channels = int(layer)
    return x, channels, size


# name -> (builder, hidden fully connected layers, weight seed)
ARCHITECTURES: dict[str, tuple[Builder, tuple[int, ...], int]] = {
    "resnet18": (resnet((2, 2, 2, 2), bottleneck=False), (), 18),
    "resnet50": (resnet((3, 4, 6, 3), bottleneck=True), (), 50),
    "mobilenet_v2": (mobilenet_v2, (), 2),
    "vgg11": (vgg11, (4096, 4096), 11),
}
