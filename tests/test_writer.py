"""The model writer produces real models: LiteRT loads and runs them, shapes match."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench import nasbench201, zoo
from pytest_tflite_latency.bench.litert import ready_interpreter
from pytest_tflite_latency.bench.writer import ModelWriter, conv_output_size

pytest.importorskip("ai_edge_litert")


def run(data: bytes) -> list[np.ndarray]:
    it = ready_interpreter(data, fill=1.0)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_small_network_runs_in_litert(dtype):
    m = ModelWriter(dtype=dtype)
    x = m.input((1, 20, 20, 3))
    y = m.conv2d(x, 8, 3, stride=2, activation="relu")
    y = m.depthwise_conv2d(y, 3, 1, activation="relu6")
    y = m.add(y, m.max_pool(y, 3, 1, "SAME"))
    y = m.fully_connected(m.mean(y), 5)
    (out,) = run(m.to_bytes([y]))
    assert out.shape == (1, 5)
    if dtype != "int8":
        assert np.isfinite(out).all() and np.abs(out).sum() > 0


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "resnet18"])
def test_zoo_models_run_with_declared_output_shape(name):
    (out,) = run(zoo.build(name, size=64))
    assert out.shape == (1, 1000)
    assert np.isclose(out.sum(), 1.0, atol=1e-3)  # softmax head


def test_nasbench201_network_matches_the_described_size():
    data = nasbench201.build(zoo.NB201_EXAMPLE)
    (out,) = run(data)
    assert out.shape == (1, 10)
    assert 2.5e6 < len(data) < 4e6  # "about 3 MB of float32 weights"


@pytest.mark.parametrize("size,kernel,stride,padding,expected", [
    (32, 3, 1, "SAME", 32), (32, 3, 2, "SAME", 16), (33, 3, 2, "SAME", 17), (32, 3, 1, "VALID", 30),
    (32, 2, 2, "VALID", 16), (7, 7, 1, "VALID", 1),
])
def test_conv_output_size_matches_tflite(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected
    m = ModelWriter()
    y = m.conv2d(m.input((1, size, size, 2)), 4, kernel, stride, padding)
    (out,) = run(m.to_bytes([y]))
    assert out.shape[1] == expected


def test_pruned_cell_drops_dead_and_zero_entries():
    nodes = nasbench201.parse_arch("|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|")
    live = nasbench201.live_cell(nodes, "hybrid")
    assert live[0] == []  # node 1 is all-none: constant zero
    assert live[1] == []  # node 2 feeds nothing the output reads: pruned
    assert live[2] == [("skip_connect", 0)]


def test_bad_arch_string_is_rejected():
    with pytest.raises(ValueError, match="cell entry"):
        nasbench201.parse_arch("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
