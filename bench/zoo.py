"""Reference networks written with the project's model writer: MobileNet V1/V2, ResNet-18 and
NAS-Bench-201, at their published layer shapes (weights are random: latency does not depend on them)."""

from __future__ import annotations

from collections.abc import Callable

from pytest_tflite_latency.bench import nasbench201
from pytest_tflite_latency.bench.writer import GraphWriter, ModelWriter

NB201_EXAMPLE = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                 "skip_connect~2|")


def _head(m: GraphWriter, x: int, classes: int) -> int:
    x = m.mean(x, (1, 2), keepdims=False)
    return m.softmax(m.fully_connected(x, classes))


def mobilenet_v1(m: ModelWriter, size: int = 224, alpha: float = 1.0) -> int:
    def c(n):
        return max(8, int(n * alpha))
    x = m.conv2d(m.input((1, size, size, 3)), c(32), 3, stride=2, activation="relu6")
    for filters, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5,
                            (1024, 2), (1024, 1)):
        x = m.depthwise_conv2d(x, 3, stride, activation="relu6")
        x = m.conv2d(x, c(filters), 1, activation="relu6")
    return _head(m, x, 1000)


def mobilenet_v2(m: ModelWriter, size: int = 224, classes: int = 1000) -> int:
    x = m.conv2d(m.input((1, size, size, 3)), 32, 3, stride=2, activation="relu6")
    cin = 32
    for t, cout, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            y = m.conv2d(x, cin * t, 1, activation="relu6") if t != 1 else x
            y = m.depthwise_conv2d(y, 3, s if i == 0 else 1, activation="relu6")
            y = m.conv2d(y, cout, 1)
            x = m.add(x, y) if i and cin == cout else y
            cin = cout
    x = m.conv2d(x, 1280, 1, activation="relu6")
    return _head(m, x, classes)


def resnet18(m: ModelWriter, size: int = 224) -> int:
    x = m.conv2d(m.input((1, size, size, 3)), 64, 7, stride=2, activation="relu")
    x = m.max_pool(m.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), 3, 2)
    cin = 64
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage and not block else 1
            y = m.conv2d(x, filters, 3, stride=stride, activation="relu")
            y = m.conv2d(y, filters, 3)
            shortcut = m.conv2d(x, filters, 1, stride=stride) if cin != filters else x
            x = m.add(y, shortcut, activation="relu")
            cin = filters
    return _head(m, x, 1000)


MODELS: dict[str, Callable[..., int]] = {
    "mobilenet_v1": mobilenet_v1, "mobilenet_v2": mobilenet_v2, "resnet18": resnet18,
}


def names() -> list[str]:
    return [*MODELS, "nasbench201"]


def build(name: str, dtype: str = "float32", fill: str = "random", **kwargs) -> bytes:
    """The `.tflite` bytes of zoo model ``name`` (see `names()`)."""
    if name == "nasbench201":
        return nasbench201.build(kwargs.get("arch", NB201_EXAMPLE), fill=fill, dtype=dtype)
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(names())}")
    m = ModelWriter(dtype=dtype, fill=fill, description=f"{name} (pytest-tflite-latency zoo)")
    return m.to_bytes([MODELS[name](m, **kwargs)])
