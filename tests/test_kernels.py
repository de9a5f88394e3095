"""graph → kernels: what the TFLite GPU delegate fuses, folds, and leaves on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels


def kernels(m: ModelWriter, outputs, backend="gpu", max_partitions=1):
    return group_kernels(load_graph(m.to_bytes(outputs)), backend, max_partitions)


def test_activation_and_add_link_into_the_convolution():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    y = m.relu(m.add(m.conv2d(x, 8, 3), x))
    kg = kernels(m, [y])
    assert [k.op_names for k in kg.kernels] == [("CONV_2D", "ADD", "RELU")]
    assert kg.kernels[0].runs_on == "GPU"


def test_no_linking_into_a_kernel_whose_output_has_two_consumers():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    c = m.conv2d(x, 8, 3)
    y = m.add(m.relu(c), m.avg_pool(c, 3, 1, "SAME"))
    names = [k.op_names for k in kernels(m, [y]).kernels]
    # the ADD's inputs are reordered latest-written first, so it links into the pooling kernel
    assert names == [("CONV_2D",), ("RELU",), ("AVERAGE_POOL_2D", "ADD")]


def test_residual_add_links_into_the_later_of_its_two_producers():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    main = m.conv2d(m.conv2d(x, 8, 3, activation="relu"), 8, 3)
    shortcut = m.conv2d(x, 8, 1)
    kg = kernels(m, [m.add(main, shortcut, activation="relu")])
    assert [(k.op_names, k.linked) for k in kg.kernels] == [
        (("CONV_2D",), ("relu",)), (("CONV_2D",), ()), (("CONV_2D", "ADD"), ("add", "relu"))]


def test_broadcast_multiply_of_a_squeeze_excitation_block_stays_a_kernel_of_its_own():
    m = ModelWriter()
    x = m.conv2d(m.input((1, 14, 14, 32)), 32, 3, activation="relu")
    s = m.reshape(m.mean(x), (1, 1, 1, 32))
    s = m.unary("LOGISTIC", m.conv2d(m.conv2d(s, 8, 1, activation="relu"), 32, 1))
    kg = kernels(m, [m.mul(x, s)])
    assert [(k.kind, k.op_names, k.linked) for k in kg.kernels] == [
        ("conv", ("CONV_2D",), ("relu",)), ("reduce", ("MEAN",), ()), ("fc", ("CONV_2D",), ("relu",)),
        ("fc", ("CONV_2D", "LOGISTIC"), ("sigmoid",)), ("elementwise", ("MUL",), ())]


def test_global_average_pooling_runs_as_a_mean():
    m = ModelWriter()
    x = m.conv2d(m.input((1, 7, 7, 64)), 64, 1)
    kg = kernels(m, [m.avg_pool(x, 7, 1)])
    assert [(k.kind, k.runs_as) for k in kg.kernels] == [("conv", ""), ("reduce", "MEAN")]


def test_multiply_by_a_constant_folds_into_the_convolution_weights():
    m = ModelWriter()
    x = m.conv2d(m.input((1, 8, 8, 16)), 16, 3)
    y = m.relu(m.mul(x, m.channel_const(x, 0.5)))
    (k,) = kernels(m, [y]).kernels
    assert k.op_names == ("CONV_2D", "MUL", "RELU") and k.linked == ("relu",)


def test_pad_convolution_and_activation_keep_the_convolution_as_main_op():
    from pytest_tflite_latency.estimator.features import FEATURES, featurize, params

    m = ModelWriter()
    x = m.pad(m.input((1, 32, 32, 16)), [(0, 0), (1, 1), (1, 1), (0, 0)])
    y = m.unary("HARD_SWISH", m.conv2d(x, 32, 3, stride=2, padding="VALID"))
    (k,) = kernels(m, [y]).kernels
    assert k.op_names == ("PAD", "CONV_2D", "HARD_SWISH") and k.main_op.opcode == "CONV_2D"
    p = params(k)
    assert p.kernel == (3, 3) and p.stride == 2 and p.filters == 32
    flops = featurize([k], "gpu")[0, FEATURES.index("flops")]
    assert flops >= 2 * 16 * 16 * 32 * 3 * 3 * 16


def test_cpu_backend_runs_every_op_as_its_own_kernel():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    y = m.relu(m.add(m.conv2d(x, 8, 3), x))
    kg = kernels(m, [y], backend="cpu")
    assert [k.op_names for k in kg.kernels] == [("CONV_2D",), ("ADD",), ("RELU",)]
    assert {k.runs_on for k in kg.kernels} == {"CPU"}


def test_unsupported_op_falls_back_to_cpu_with_copies_and_a_warning():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    a = m.conv2d(x, 8, 3)
    (b,) = m.op("CUSTOM:MyPostProcess", [a], [(1, 16, 16, 8)])
    c = m.conv2d(b, 8, 3)
    two = kernels(m, [c], max_partitions=2)
    assert [(k.op_names, k.runs_on) for k in two.kernels] == [
        (("CONV_2D",), "GPU"), (("TRANSFER",), "copy"), (("CUSTOM:MyPostProcess",), "CPU"),
        (("TRANSFER",), "copy"), (("CONV_2D",), "GPU")]
    assert any("CUSTOM:MyPostProcess is not supported" in w for w in two.warnings)
    one = kernels(m, [c])  # the delegate's default: only the first of two equal partitions
    assert [k.runs_on for k in one.kernels] == ["GPU", "copy", "CPU", "CPU"]


def test_only_the_largest_partition_is_delegated():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    small = m.conv2d(x, 8, 3)
    (cut,) = m.op("TOPK_V2", [small], [(1, 16, 16, 8)])
    big = cut
    for _ in range(3):
        big = m.conv2d(big, 8, 3)
    kg = kernels(m, [big])
    first = next(k for k in kg.kernels if k.ops and k.ops[0].index == 0)
    assert first.runs_on == "CPU" and "outside the delegate partition" in first.note
    assert sum(k.runs_on == "GPU" for k in kg.kernels) == 3
    assert kg.partitions == 1


def test_fp16_weights_fold_and_pad_merges_into_the_convolution():
    m = ModelWriter(dtype="float16")
    x = m.input((1, 16, 16, 8))
    y = m.conv2d(m.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), 8, 3, padding="VALID")
    kg = kernels(m, [y])
    assert [k.op_names for k in kg.kernels] == [("PAD", "CONV_2D")]


def test_no_op_reshape_is_removed_but_a_real_one_is_a_kernel():
    m = ModelWriter()
    x = m.input((1, 1, 1, 64))
    flat = m.reshape(x, (1, 64))
    y = m.fully_connected(flat, 10)
    grid = m.reshape(y, (1, 2, 5))
    names = [k.op_names for k in kernels(m, [grid]).kernels]
    assert names == [("FULLY_CONNECTED",), ("RESHAPE",)]


def test_while_body_runs_on_cpu_and_is_reported():
    m = ModelWriter()
    x = m.input((1, 4))
    body = m.subgraph("body")
    bx = body.input((1, 4))
    body.outputs = [body.relu(bx)]
    (y,) = m.op("WHILE", [x], [(1, 4)], options={"CondSubgraphIndex": 1, "BodySubgraphIndex": 1})
    kg = kernels(m, [y])
    assert ("RELU",) in [kk.op_names for kk in kg.kernels if kk.runs_on == "CPU"]
    assert any("run by WHILE" in w for w in kg.warnings)


def test_mobilenet_v2_structure():
    kg = group_kernels(load_graph(zoo.build("mobilenet_v2", fill="zeros")), "gpu")
    kinds = [k.kind for k in kg.kernels]
    assert kinds.count("dwconv") == 17
    assert all(k.runs_on == "GPU" for k in kg.kernels)
    residual = [k for k in kg.kernels if k.op_names == ("CONV_2D", "ADD")]
    assert len(residual) == 10
    assert np.all([k.output is not None for k in kg.kernels])


def _transpose_conv(k: int) -> bytes:
    m = ModelWriter(fill="zeros")
    x = m.input((1, 16, 16, 64))
    shape, w = m.const(np.array([1, 32, 32, 32], np.int32)), m.const(np.zeros((32, k, k, 64), np.float32))
    (y,) = m.op("TRANSPOSE_CONV", [shape, w, x], [(1, 32, 32, 32)], {"Padding": 0, "StrideW": 2, "StrideH": 2})
    return m.to_bytes([y])


def test_a_transpose_convolution_reads_its_window_from_its_filter_not_its_output_shape():
    from pytest_tflite_latency.estimator.features import FEATURES, featurize, params

    kernels = {k: group_kernels(load_graph(_transpose_conv(k)), "gpu").kernels for k in (1, 3)}
    assert [params(kern).kernel for kern in kernels[3]] == [(3, 3)]
    flops = {k: featurize(ks, "gpu")[0, FEATURES.index("flops")] for k, ks in kernels.items()}
    assert flops[3] == pytest.approx(9 * flops[1], rel=1e-9)
