"""Vision Transformers on the CPU: the committed ViT graphs (bench/rebuild_qed_vit.py) read as XNNPACK kernels
whose attention work is counted and priced."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pytest_tflite_latency.estimator.features import FEATURES, featurize
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import device_names
from pytest_tflite_latency.estimator.xnnpack import BACKEND, model_precision

VIT_GRAPHS = Path(__file__).resolve().parents[1] / "bench" / "data" / "qed-usc-vit"
DEIT_TINY = VIT_GRAPHS / "deit-tiny-distilled-patch16-224.tflite"
needs_cpu_profile = pytest.mark.skipif("pixel4-cpu" not in device_names(), reason="CPU profiles not built")


@needs_cpu_profile
def test_vit_estimates_on_a_cpu_device_with_every_attention_kernel_priced():
    est = estimate(DEIT_TINY, "pixel4-cpu")
    assert math.isfinite(est.total_ms) and est.total_ms > 0
    by_op: dict[str, list[float]] = {}
    for layer in est.layers:
        for op in layer.ops:
            by_op.setdefault(op, []).append(layer.ms)
    # DeiT-Tiny: 12 blocks, each Q·Kᵀ and attention·V, one softmax, one GELU, two layer norms (MEAN, RSQRT)
    assert len(by_op["BATCH_MATMUL"]) == 24 and len(by_op["SOFTMAX"]) == 12 and len(by_op["GELU"]) == 12
    assert len(by_op["RSQRT"]) == 25 and {"MEAN", "TRANSPOSE", "RESHAPE"} <= set(by_op)
    for op in ("BATCH_MATMUL", "SOFTMAX", "GELU", "MEAN", "TRANSPOSE"):
        assert all(math.isfinite(ms) and ms > 0 for ms in by_op[op]), op
    assert est.total_ms == pytest.approx(sum(layer.ms for layer in est.layers) + est.overhead_ms, rel=1e-6)


def test_batched_matmul_flops_are_those_of_its_matrix_products():
    kernels = group_kernels(load_graph(DEIT_TINY), BACKEND).kernels
    matmuls = [k for k in kernels if k.main_op is not None and k.main_op.opcode == "BATCH_MATMUL"]
    X = featurize(matmuls, BACKEND)
    # three heads of 198 tokens × 64 channels: Q·Kᵀ (198×64 · 64×198) and A·V (198×198 · 198×64)
    expected = 2.0 * 3 * 198 * 198 * 64
    assert X[:, FEATURES.index("flops")] == pytest.approx([expected] * len(matmuls), rel=1e-9)
    # both operands are activations read at run time, none a weight
    assert (X[:, FEATURES.index("bytes_weights")] == 0).all()
    scores, values = 3 * 198 * 198 * 4.0, 3 * 198 * 64 * 4.0
    assert X[:, FEATURES.index("bytes_in")] == pytest.approx([2 * values, scores + values] * 12, rel=1e-9)


def test_gelu_counts_a_function_evaluation_per_element_where_an_add_counts_one():
    kernels = group_kernels(load_graph(DEIT_TINY), BACKEND).kernels
    by_op = {k.main_op.opcode: k for k in kernels if k.main_op is not None}
    X = featurize([by_op["GELU"], by_op["ADD"]], BACKEND)
    elements = [math.prod(by_op[op].output.shape) for op in ("GELU", "ADD")]
    assert X[:, FEATURES.index("flops")] == pytest.approx([10.0 * elements[0], 1.0 * elements[1]], rel=1e-9)


@pytest.mark.parametrize("path", sorted(VIT_GRAPHS.glob("*.tflite")), ids=lambda p: p.stem)
def test_every_committed_vit_graph_is_a_float32_transformer_the_cpu_backend_reads(path):
    graph = load_graph(path)
    opcodes = {k.main_op.opcode for k in group_kernels(graph, BACKEND).kernels if k.main_op is not None}
    assert model_precision(graph) == "float32"
    assert {"BATCH_MATMUL", "SOFTMAX", "FULLY_CONNECTED", "MEAN", "RSQRT"} <= opcodes
