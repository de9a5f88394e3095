"""Models converted by TensorFlow's own TFLite converter (tests/tf/convert.py).

TensorFlow runs in its own virtual environment, named by TFLITE_LATENCY_TF_PYTHON (.ci/run
creates it); without it these tests are skipped with that reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.pipeline import estimate

TF_PYTHON = os.environ.get("TFLITE_LATENCY_TF_PYTHON", "")


@pytest.fixture(scope="module")
def tf_models(tmp_path_factory) -> Path:
    if not (TF_PYTHON and Path(TF_PYTHON).exists()):
        pytest.skip("TFLITE_LATENCY_TF_PYTHON does not name a Python with tensorflow (see .ci/run)")
    out = tmp_path_factory.mktemp("tf")
    subprocess.run([TF_PYTHON, str(Path(__file__).parent / "tf" / "convert.py"), str(out)],
                   check=True, capture_output=True, timeout=600)
    return out


def test_converter_output_parses_with_every_op(tf_models):
    ops = {o.opcode for o in load_graph(tf_models / "mobilenet_v2.tflite").main.ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"} <= ops


def test_tensorflow_and_the_model_writer_agree_on_mobilenet_v2(tf_models):
    """The same architecture, written by TensorFlow and by bench/writer.py, gives the same kernels."""
    tf = estimate(tf_models / "mobilenet_v2.tflite")
    ours = estimate(zoo.build("mobilenet_v2", size=160, classes=100, fill="zeros"))
    assert [(layer.ops, layer.output_shape) for layer in tf.layers] == \
        [(layer.ops, layer.output_shape) for layer in ours.layers]
    assert tf.total_ms == pytest.approx(ours.total_ms, rel=1e-3)


def test_fp16_and_int8_conversions(tf_models):
    f32 = estimate(tf_models / "mobilenet_v2.tflite")
    f16 = estimate(tf_models / "mobilenet_v2_fp16.tflite")
    i8 = estimate(tf_models / "mobilenet_v2_int8.tflite")
    assert "DEQUANTIZE" in {o.opcode for o in load_graph(tf_models / "mobilenet_v2_fp16.tflite").main.ops}
    assert [layer.ops for layer in f16.layers] == [layer.ops for layer in f32.layers]  # weights fold
    assert f16.total_ms == pytest.approx(f32.total_ms, rel=0.01)
    assert i8.total_ms == pytest.approx(f32.total_ms, rel=0.05)  # the delegate computes in float


def test_dynamic_batch_is_reported_once(tf_models):
    est = estimate(tf_models / "small_cnn_dynamic.tflite")
    batch = [w for w in est.warnings if "dynamic batch dimension" in w]
    assert len(batch) == 1 and "assumed 1" in batch[0]
    expected = [("CONV_2D",), ("MAX_POOL_2D",), ("CONV_2D", "LOGISTIC")]
    assert [layer.ops for layer in est.layers][:3] == expected


def test_dynamic_range_conversion_is_timed_as_hybrid_kernels_on_the_cpu_and_refused_on_an_int8_device(tf_models):
    from pytest_tflite_latency.estimator.errors import ModelError
    from pytest_tflite_latency.estimator.profile import device_names
    from pytest_tflite_latency.estimator.xnnpack import group_xnnpack

    path = tf_models / "mobilenet_v2_dynamic_range.tflite"
    kg = group_xnnpack(load_graph(path))
    hybrid = [k for k in kg.kernels if "dynamic-range quantization" in k.note]
    assert hybrid and {k.main_op.opcode for k in hybrid} <= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert any("int8 weights on float32 inputs (dynamic-range quantization)" in w for w in kg.warnings)
    full_integer = group_xnnpack(load_graph(tf_models / "mobilenet_v2_int8.tflite"))
    assert not any("dynamic-range" in k.note for k in full_integer.kernels)
    if "pixel4-cpu-int8" in device_names():
        with pytest.raises(ModelError, match="dynamic-range quantized model"):
            estimate(path, "pixel4-cpu-int8")


def test_a_counted_while_loop_is_priced_once_per_iteration_its_condition_once_more(tf_models):
    import numpy as np

    from pytest_tflite_latency.estimator.features import featurize
    from pytest_tflite_latency.estimator.predict import predict
    from pytest_tflite_latency.estimator.profile import load_profile
    from pytest_tflite_latency.estimator.xnnpack import BACKEND, group_xnnpack

    path = tf_models / "counted_loop.tflite"  # tf.while_loop(i < 12): a matrix product and a tanh
    kernels = group_xnnpack(load_graph(path)).kernels
    assert [(k.op_names, k.runs) for k in kernels] == [(("WHILE",), 1), (("LESS",), 13), (("ADD",), 12),
                                                       (("FULLY_CONNECTED",), 12), (("TANH",), 12)]
    profile = load_profile("pixel4-cpu")
    once = predict(featurize(kernels, BACKEND), np.array([k.runs_on for k in kernels]), profile).ms
    est = estimate(path, profile)
    assert [layer.ms for layer in est.layers] == pytest.approx(once * [1, 13, 12, 12, 12], rel=1e-9)
    assert est.layers[3].runs == 12 and est.layers[3].note.endswith("×12")
    assert any("3 ops estimated on the CPU, 12× per inference (the loop's count of 12, read from its condition)"
               in w for w in est.warnings)


def test_a_model_of_two_signatures_says_which_one_it_estimated(tf_models):
    (said,) = [w for w in estimate(tf_models / "two_signatures.tflite").warnings if "signatures" in w]
    assert said.startswith("2 signatures (") and "the estimate is of subgraph 0" in said
    assert said.endswith("not estimated")
