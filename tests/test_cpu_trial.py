"""The CPU (XNNPACK) devices as a new user meets them: device names and their mistakes, models of
another precision than a profile times, and the reports of a CPU estimate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pytest_tflite_latency.bench import cpu_profiles
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.errors import ModelError, UnknownDeviceError
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.html_report import render_html
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import device_names, load_profile
from pytest_tflite_latency.estimator.xnnpack import group_xnnpack

pytest_plugins = ["pytester"]
DATA = Path(__file__).resolve().parents[1] / "bench" / "data"
INT8_GRAPH = DATA / "qed-usc-mobile-cnn-int8" / "mobilenet_wd4.tflite"
needs_cpu_profiles = pytest.mark.skipif(not {"pixel4-cpu", "pixel4-cpu-int8"} <= set(device_names()),
                                        reason="CPU profiles not built")


def hybrid_conv_model() -> bytes:
    """A dynamic-range quantized CONV_2D (int8 weights on float32 activations, as TensorFlow's
    ``Optimize.DEFAULT`` writes it without a representative dataset) between two float ones."""
    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 16, 16, 8)), 16, 3)
    y = m.conv2d(x, 32, 3)
    m.ops[-1][1][1] = m.const(np.zeros((32, 3, 3, 16), np.int8), quant=((0.01,) * 32, (0,) * 32, 0))
    return m.to_bytes([m.conv2d(y, 8, 1)])


@pytest.mark.parametrize(("name", "base", "cores"), [
    ("pixel4-cpu-2med", "pixel4-cpu", "2med"),
    ("pixel4-cpu:2med", "pixel4-cpu", "2med"),
    ("galaxys10-cpu-int8-4small", "galaxys10-cpu-int8", "4small"),
])
@needs_cpu_profiles
def test_a_core_set_that_is_not_bundled_is_named_with_the_command_that_builds_it(name, base, cores):
    with pytest.raises(UnknownDeviceError) as error:
        load_profile(name)
    message = str(error.value)
    assert f"core set {cores!r} is not bundled: {base} times one big core" in message
    assert f"bench.cpu_profiles --only {base}-{cores} --out DIR" in message
    assert message.index("core set") < message.index("known devices")  # before the long list, not after


@pytest.mark.parametrize(("typed", "meant"), [
    ("pixel4cpu", "pixel4-cpu"), ("Pixel4CPU", "pixel4-cpu"), ("pixel4-cpu-int", "pixel4-cpu-int8"),
    ("pixel4-int8", "pixel4-cpu-int8"), ("iphone-xs-cpu", "iphonexs-cpu"),
    ("pixel4-cpu-int8-1large", "pixel4-cpu-int8"),  # the bundled core set, named
])
@needs_cpu_profiles
def test_a_mistyped_cpu_device_is_answered_with_the_name_meant(typed, meant):
    with pytest.raises(UnknownDeviceError, match=rf"unknown device '{typed}'; did you mean '{meant}'\?; known"):
        load_profile(typed)


@needs_cpu_profiles
def test_a_bundled_profile_is_found_by_its_name_in_any_case_as_a_gpus_name_is():
    assert load_profile("Pixel4-CPU-Int8").name == "pixel4-cpu-int8"
    assert load_profile("PIXEL4-GPU").name == load_profile("ADRENO640").name == "pixel4-gpu"


def test_another_phones_model_number_is_not_offered_as_a_typo():
    with pytest.raises(UnknownDeviceError) as error:  # a team's calibrated pixel8, not a typo of pixel4
        load_profile("pixel8-gpu")
    assert "did you mean" not in str(error.value)


@needs_cpu_profiles
def test_cli_refuses_a_core_set_name_in_one_line_with_exit_2(cli, tmp_path):
    model = tmp_path / "m.tflite"
    m = ModelWriter(fill="zeros")
    model.write_bytes(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]))
    r = cli("estimate", model, "--device", "pixel4-cpu-2med")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "core set '2med' is not bundled" in r.stderr and "Traceback" not in r.stderr


def test_dynamic_range_ops_are_noted_as_tflites_hybrid_kernels_with_a_warning():
    kg = group_xnnpack(load_graph(hybrid_conv_model()))
    notes = [k.note for k in kg.kernels]
    assert ["hybrid" in n for n in notes] == [False, True, False]
    assert "int8 weights on float32 inputs (dynamic-range quantization)" in notes[1]
    assert any("1 op(s) with int8 weights on float32 inputs" in w for w in kg.warnings)


def test_float_and_full_integer_int8_models_have_no_hybrid_note():
    m = ModelWriter(fill="zeros")
    float_graph = m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)])
    for graph in (load_graph(float_graph), load_graph(INT8_GRAPH)):
        kg = group_xnnpack(graph)
        assert not any("hybrid" in k.note for k in kg.kernels)
        assert not any("dynamic-range" in w for w in kg.warnings)


@needs_cpu_profiles
def test_a_dynamic_range_model_on_a_cpu_device_is_not_a_silent_float_figure():
    est = estimate(hybrid_conv_model(), "pixel4-cpu")
    assert any("dynamic-range quantization" in w and "no CPU profile measured" in w for w in est.warnings)
    assert est.total_ms > 0 and all(layer.ms >= 0 for layer in est.layers)


@needs_cpu_profiles
def test_a_dynamic_range_kernel_is_timed_as_its_float32_kernel_as_its_warning_says():
    m = ModelWriter(fill="zeros")  # the float32 twin of hybrid_conv_model
    data = m.to_bytes([m.conv2d(m.conv2d(m.conv2d(m.input((1, 16, 16, 8)), 16, 3), 32, 3), 8, 1)])
    hybrid, twin = estimate(hybrid_conv_model(), "pixel4-cpu"), estimate(data, "pixel4-cpu")
    assert "timed as its float32 XNNPACK kernel" in " ".join(hybrid.warnings)
    assert [layer.ms for layer in hybrid.layers] == pytest.approx([layer.ms for layer in twin.layers], rel=1e-9)


def test_an_int8_model_on_nn_meters_float_cpu_profile_says_so():
    int8 = estimate(INT8_GRAPH, "nnmeter-cortexa76")
    assert any("int8-quantized model on nnmeter-cortexa76, which measured float32 models" in w
               for w in int8.warnings)
    m = ModelWriter(fill="zeros")
    float_est = estimate(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]), "nnmeter-cortexa76")
    assert not any("int8" in w for w in float_est.warnings)


@needs_cpu_profiles
def test_html_page_of_a_cpu_estimate_speaks_of_no_gpu_delegate_partition_or_fallback():
    graph = load_graph(INT8_GRAPH)
    cpu_page = render_html(estimate(INT8_GRAPH, "pixel4-cpu-int8"), graph)
    for gpu_words in ("GPU partitions", "CPU fallback", "GPU↔CPU", "GPU delegate", "per-inference overhead"):
        assert gpu_words not in cpu_page
    assert "the CPU, every kernel" in cpu_page
    m = ModelWriter(fill="zeros")
    float_graph = m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)])
    gpu_page = render_html(estimate(float_graph, "pixel4-gpu"), load_graph(float_graph))
    assert "GPU partitions" in gpu_page and "CPU fallback" in gpu_page


@pytest.mark.skipif(not (cpu_profiles.qed.QED_DIR / "models.csv").is_file(), reason="shared data not present")
def test_building_a_cpu_profile_the_study_never_measured_is_refused_with_the_names_it_did(capsys):
    assert cpu_profiles.unbuildable(["pixel4-cpu-2med", "pixel4-cpu-int8", "pixel4-cpu-2large"]) == \
        ["pixel4-cpu-2large"]  # the Pixel 4 has one large core
    assert cpu_profiles.main(["--only", "pixel4-cpu-2large", "--evaluate"]) == 2
    err = capsys.readouterr().err
    assert "--only pixel4-cpu-2large: not a CPU profile the study measured" in err and "pixel4-cpu-2med" in err


def test_the_builtin_kernel_warning_names_the_ops_the_table_cannot_tell_apart():
    """The table says CPU for XNNPACK's kernels and the builtin ones alike: the warning names the latter."""
    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 8, 8, 4)), 4, 1)
    y = m.unary("TANH", m.unary("TANH", m.unary("RSQRT", x)))
    kg = group_xnnpack(load_graph(m.to_bytes([y])))
    (warning,) = [w for w in kg.warnings if "outside XNNPACK" in w]
    assert warning.startswith("3 op(s) outside XNNPACK") and "(TANH ×2, RSQRT;" in warning


@needs_cpu_profiles
def test_gpu_estimate_with_a_custom_op_names_one_op_left_outside_the_partition_and_the_cpu_profile():
    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    y = m.conv2d(m.op("CUSTOM:MyOp", [x], [(1, 16, 16, 8)])[0], 8, 3)
    est = estimate(m.to_bytes([y]), "pixel4-gpu")
    assert [layer.runs_on for layer in est.layers if layer.ops != ("TRANSFER",)] == ["GPU", "CPU", "CPU"]
    assert "op 2: GPU-capable but outside the largest delegate partition (max_delegated_partitions=1): " \
           "runs on the CPU" in est.warnings  # one op, not "ops 2-2"
    assert "kernels on the CPU timed by pixel4-cpu, the phone's CPU profile" in est.warnings


@needs_cpu_profiles
def test_a_dynamic_range_model_on_an_int8_device_is_refused_as_what_it_is(cli, tmp_path):
    model = tmp_path / "dynamic_range.tflite"
    model.write_bytes(hybrid_conv_model())
    r = cli("estimate", model, "--device", "pixel4-cpu-int8")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "dynamic-range quantized model (int8 weights, float32 activations) on pixel4-cpu-int8" in r.stderr
    assert "estimate it on pixel4-cpu, or convert it with a representative dataset" in r.stderr


@needs_cpu_profiles
def test_a_float16_quantized_model_on_an_int8_device_is_refused_as_what_it_is():

    m = ModelWriter("float16", fill="zeros")
    model = m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)])
    with pytest.raises(ModelError, match=r"float16-quantized model \(its float16 weights computed in float32\) "
                                         r"on pixel4-cpu-int8.*estimate it on pixel4-cpu$"):
        estimate(model, "pixel4-cpu-int8")
    assert estimate(model, "pixel4-cpu").total_ms > 0


def attention_model(dtype: str) -> bytes:
    """Two projections of a token sequence multiplied (BATCH_MATMUL), as attention scores are."""
    m = ModelWriter(dtype, fill="zeros")
    x = m.input((1, 16, 32))
    q, k = m.fully_connected(x, 32), m.fully_connected(x, 32)
    scores = m.op("BATCH_MATMUL", [q, k], [(1, 16, 16)], {"AdjX": False, "AdjY": True})[0]
    return m.to_bytes([m.softmax(scores)])


@pytest.mark.parametrize(("dtype", "device", "says"), [
    ("int8", "pixel4-cpu-int8", True),  # the int8 profiles train on CNNs only
    ("float32", "mi8se-cpu", True),  # the Mi 8 SE timed no ViT
    ("float32", "pixel4-cpu", False),  # trained on the shared ViTs
])
@needs_cpu_profiles
def test_attention_on_a_cpu_profile_that_never_trained_on_a_transformer_says_its_error_is_unmeasured(
        dtype, device, says):
    est = estimate(attention_model(dtype), device)
    said = [w for w in est.warnings if "1 BATCH_MATMUL (attention), 2 FULLY_CONNECTED on more than one row" in w]
    assert bool(said) == says
    if says:
        assert f"{device} trained on CNNs only, whose fully connected layers are one-row classifiers" in said[0]


def dense_or_conv(dtype: str, dense_input: tuple[int, ...] | None) -> bytes:
    """The same multiply-accumulates as a Dense layer on 64 rows (``dense_input``) or as a 1×1 convolution."""
    m = ModelWriter(dtype, fill="zeros")
    if dense_input:
        return m.to_bytes([m.fully_connected(m.input(dense_input), 512)])
    return m.to_bytes([m.conv2d(m.input((1, 8, 8, 128)), 512, 1)])


@pytest.mark.parametrize("rows", [(1, 64, 128), (64, 128)], ids=["64-tokens", "batch-of-64"])
@needs_cpu_profiles
def test_a_dense_layer_on_many_rows_costs_on_int8_about_what_its_1x1_convolution_costs_not_ten_times(rows):
    dense = estimate(dense_or_conv("int8", rows), "pixel4-cpu-int8").total_ms
    conv = estimate(dense_or_conv("int8", None), "pixel4-cpu-int8").total_ms
    ratio = dense / conv
    assert 0.5 < ratio < 3, f"dense {dense:.3f} ms against the 1×1 convolution's {conv:.3f} ms (×{ratio:.2f})"


@needs_cpu_profiles
def test_gemm_rows_leave_one_row_layers_and_float32_profiles_as_the_roofline_prices_them():
    from pytest_tflite_latency.estimator.features import FEATURES, featurize
    from pytest_tflite_latency.estimator.profile import gemm_rows, load_profile, roofline

    for device, dense in (("pixel4-cpu-int8", False), ("pixel4-cpu", True)):
        m = ModelWriter("int8" if device.endswith("int8") else "float32", fill="zeros")
        x = m.input((1, 1, 128) if not dense else (1, 64, 128))
        X = featurize(group_xnnpack(load_graph(m.to_bytes([m.fully_connected(x, 512)]))).kernels, "xnnpack")
        base = load_profile(device).base
        ms = roofline(X, FEATURES, base)
        assert gemm_rows(ms, X, FEATURES, base) == pytest.approx(ms, rel=1e-12)


@needs_cpu_profiles
def test_precision_is_said_to_be_the_gpus_in_help_and_in_the_warning_of_a_cpu_estimate(cli, tmp_path):
    r = cli("estimate", "--help", columns=200)
    assert "GPU devices only: a CPU device times the model's own precision" in " ".join(r.stdout.split())
    model = tmp_path / "m.tflite"
    m = ModelWriter(fill="zeros")
    model.write_bytes(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]))
    r = cli("estimate", model, "--device", "pixel4-cpu", "--precision", "fp16", columns=200)
    assert r.returncode == 0 and "pixel4-cpu is a CPU profile; the GPU delegate's precision does not apply" in r.stdout


def test_gpu_estimate_of_a_phone_without_a_cpu_profile_says_its_cpu_part_is_an_untrained_prior():
    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    model = m.to_bytes([m.conv2d(m.op("CUSTOM:MyOp", [x], [(1, 16, 16, 8)])[0], 8, 3)])
    est = estimate(model, "nnmeter-adreno640")  # the Mi 9 of nn-Meter: no CPU profile
    assert "kernels on the CPU priced by nnmeter-adreno640's untrained CPU prior (a roofline guess): " \
           "no CPU profile of this phone is bundled" in est.warnings
    m = ModelWriter(fill="zeros")
    on_gpu = estimate(m.to_bytes([m.conv2d(m.input((1, 16, 16, 8)), 8, 3)]), "nnmeter-adreno640")
    assert not any("CPU prior" in w for w in on_gpu.warnings)  # nothing on the CPU: nothing to say


@needs_cpu_profiles
def test_an_int8_model_without_convolutions_is_an_int8_model():
    from pytest_tflite_latency.estimator.errors import ModelError
    from pytest_tflite_latency.estimator.xnnpack import model_precision

    m = ModelWriter("int8", fill="zeros")
    x = m.input((1, 16, 16, 8))
    model = m.to_bytes([m.max_pool(m.add(x, x))])
    assert model_precision(load_graph(model)) == "int8"
    assert estimate(model, "pixel4-cpu-int8").total_ms > 0
    with pytest.raises(ModelError, match="int8 model on pixel4-cpu, which times float32 models"):
        estimate(model, "pixel4-cpu")
    m = ModelWriter(fill="zeros")
    x = m.input((1, 16, 16, 8))
    assert model_precision(load_graph(m.to_bytes([m.max_pool(m.add(x, x))]))) == "float32"


def test_a_while_loops_body_is_counted_on_the_cpu_as_the_gpu_estimate_counts_it():
    m = ModelWriter(fill="zeros")
    body = m.subgraph("body")
    body.outputs = [body.fully_connected(body.input((1, 64)), 64)]
    (y,) = m.op("WHILE", [m.input((1, 64))], [(1, 64)], options={"CondSubgraphIndex": 1, "BodySubgraphIndex": 1})
    kg = group_xnnpack(load_graph(m.to_bytes([y])))
    assert [(k.op_names, k.index, k.note) for k in kg.kernels][1:] == [(("FULLY_CONNECTED",), 1, "in subgraph 1")]
    assert "subgraph 1 ('body') run by WHILE: 1 ops estimated on the CPU, counted once: the file does not say how " \
           "many times the loop runs" in kg.warnings


def _counted_loop(bound: int, step: int = 1, compare: str = "LESS") -> bytes:
    """WHILE (i < bound) {i += step; x = FC(x)}, i from 0, written as TensorFlow writes tf.while_loop."""
    m = ModelWriter(fill="zeros")
    cond = m.subgraph("cond")
    i, _ = cond.input((), dtype="int32"), cond.input((1, 64))
    cond.outputs = cond.op(compare, [i, cond.const(np.array(bound, np.int32))], [()], output_dtype="bool")
    body = m.subgraph("body")
    i, x = body.input((), dtype="int32"), body.input((1, 64))
    body.outputs = [*body.op("ADD", [i, body.const(np.array(step, np.int32))], [()]), body.fully_connected(x, 64)]
    outs = m.op("WHILE", [m.const(np.array(0, np.int32)), m.input((1, 64))], [(), (1, 64)],
                options={"CondSubgraphIndex": 1, "BodySubgraphIndex": 2})
    return m.to_bytes([outs[1]])


@pytest.mark.parametrize(("bound", "step", "compare", "iterations"), [
    (7, 1, "LESS", 7), (7, 1, "LESS_EQUAL", 8), (7, 2, "LESS", 4), (0, 1, "LESS", 0)])
def test_a_counted_while_loops_body_runs_once_per_iteration_read_from_its_condition(bound, step, compare,
                                                                                     iterations):
    kg = group_xnnpack(load_graph(_counted_loop(bound, step, compare)))
    assert [(k.op_names, k.runs) for k in kg.kernels] == [
        (("WHILE",), 1), ((compare,), iterations + 1), (("ADD",), iterations), (("FULLY_CONNECTED",), iterations)]
    assert any(f"{iterations}× per inference (the loop's count of {iterations}, read from its condition)" in w
               for w in kg.warnings)


def test_the_table_marks_a_loop_kernel_with_its_runs_and_says_its_ms_is_all_of_them():
    from pytest_tflite_latency.estimator.report import render

    table = render(estimate(_counted_loop(7), "pixel4-cpu"), "table", width=100)
    assert re.search(r"FULLY_CONNECTED ×7 +CPU", table) and re.search(r"LESS ×8 +CPU", table)
    assert "(×N: a loop's kernel, run N times per inference; its ms is all N runs)" in table


def test_a_loop_whose_count_is_a_runtime_value_is_counted_once_and_says_so():
    kg = group_xnnpack(load_graph(_counted_loop(7, compare="GREATER")))
    assert {k.runs for k in kg.kernels} == {1}
    assert any("counted once: the file does not say how many times the loop runs" in w for w in kg.warnings)


def test_an_int8_model_on_nn_meters_gpu_profiles_says_the_float_graph_is_estimated():
    for device in ("nnmeter-adreno630", "nnmeter-adreno640"):
        warnings = estimate(INT8_GRAPH, device).warnings
        assert any(w.startswith("int8-quantized model: the GPU delegate dequantizes it") and
                   f"{device} measured float32 models" in w for w in warnings)


def test_html_page_of_a_gpu_estimate_that_fell_back_whole_keeps_the_delegates_facts():
    m = ModelWriter(fill="zeros")
    model = m.to_bytes([m.op("CUSTOM:MyOp", [m.input((1, 16, 16, 8))], [(1, 16, 16, 8)])[0]])
    est = estimate(model, "pixel4-gpu")
    assert {layer.runs_on for layer in est.layers} == {"CPU"}
    page = render_html(est, load_graph(model))
    assert "GPU partitions" in page and "per-inference overhead" in page and "the CPU, every kernel" not in page


@pytest.mark.parametrize("stated", ["int4", ["int8"], 8])
@needs_cpu_profiles
def test_a_profile_stating_a_model_precision_no_runtime_has_is_refused_on_load(cli, tmp_path, stated):
    import json

    d = load_profile("pixel4-cpu").to_dict()
    d["device"]["model_precision"] = stated
    path = tmp_path / "hand-made.json"
    path.write_text(json.dumps(d))
    model = tmp_path / "m.tflite"
    m = ModelWriter(fill="zeros")
    model.write_bytes(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]))
    r = cli("estimate", model, "--device", path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "device.model_precision must be one of 'float32', 'int8'" in r.stderr


@needs_cpu_profiles
def test_the_fixtures_estimate_of_a_model_a_cpu_device_refuses_fails_in_one_line(pytester):
    m = ModelWriter("int8", fill="zeros")
    (pytester.path / "int8.tflite").write_bytes(m.to_bytes([m.conv2d(m.input((1, 8, 8, 4)), 4, 3)]))
    pytester.makepyfile(test_fx="""
        def test_estimate(tflite_latency):
            tflite_latency.estimate("int8.tflite", device="pixel4-cpu")
    """)
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["test_fx.py:2: *int8.tflite: int8 model on pixel4-cpu, which times float32 models*"])
    assert "raise ModelError" not in r.stdout.str() and "pipeline.py" not in r.stdout.str()


@needs_cpu_profiles
def test_a_partly_quantized_model_says_how_many_ops_are_of_the_other_precision_and_which():
    m = ModelWriter("int8", fill="zeros")
    y = m.conv2d(m.conv2d(m.input((1, 8, 8, 4)), 4, 3), 4, 3)
    back = m.op("DEQUANTIZE", [y], [(1, 8, 8, 4)], output_dtype="float32")[0]  # a float fallback layer
    conv = dict(Padding=0, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1, FusedActivationFunction=0)
    z = m.op("CONV_2D", [back, m.const(np.zeros((4, 3, 3, 4), np.float32)), m.const(np.zeros(4, np.float32))],
             [(1, 8, 8, 4)], conv)[0]
    lrn = m.op("LOCAL_RESPONSE_NORMALIZATION", [z], [(1, 8, 8, 4)], output_dtype="float32")[0]  # no int8 kernel
    est = estimate(m.to_bytes([lrn]), "pixel4-cpu-int8")
    assert any(w.startswith("2 op(s) compute in float32 (CONV_2D, LOCAL_RESPONSE_NORMALIZATION; a partly "
                            "quantized model): pixel4-cpu-int8 times int8 ops") for w in est.warnings), est.warnings
    assert not any("partly quantized" in w for w in estimate(INT8_GRAPH, "pixel4-cpu-int8").warnings)


def int16x8_conv() -> bytes:
    """A 16x8-quantized CONV_2D (int16 activations, int8 weights, int64 bias), as TensorFlow's
    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 writes it; LiteRT accepts it."""
    m = ModelWriter(fill="zeros")
    x = m.input((1, 8, 8, 4), dtype="int16")
    m.tensors[x].quant = ((0.01,), (0,), 0)
    w = m.const(np.zeros((8, 3, 3, 4), np.int8), quant=((0.01,) * 8, (0,) * 8, 0))
    b = m.const(np.zeros(8, np.int64), quant=((0.0001,) * 8, (0,) * 8, 0))
    (y,) = m.op("CONV_2D", [x, w, b], [(1, 6, 6, 8)], {"Padding": 1, "StrideW": 1, "StrideH": 1,
                                                       "DilationWFactor": 1, "DilationHFactor": 1})
    m.tensors[y].quant = ((0.02,), (0,), 0)
    return m.to_bytes([y])


@pytest.mark.parametrize("device", ["pixel4-cpu", "pixel4-cpu-int8"])
@needs_cpu_profiles
def test_a_16x8_model_on_a_cpu_device_is_refused_as_what_it_is_not_priced_as_int8(device):
    with pytest.raises(ModelError, match=rf"16x8-quantized model \(int16 activations, int8 weights\) on {device}: "
                                         "XNNPACK 2.10 has no int16 kernel"):
        estimate(int16x8_conv(), device)


@pytest.mark.parametrize(("device", "why"), [("pixel4-gpu", "the GPU delegate takes no int16 op"),
                                           ("adreno640", "the GPU delegate takes no int16 op"),
                                           ("nnmeter-cortexa76", "TensorFlow Lite's builtin int16 kernels run it")])
def test_a_16x8_model_on_a_gpu_or_nn_meter_device_is_refused_as_its_int16_kernels_are_unmeasured(device, why):
    name = load_profile(device).name
    with pytest.raises(ModelError, match=rf"16x8-quantized model \(int16 activations, int8 weights\) on {name}: "
                                         f"{re.escape(why)}"):
        estimate(int16x8_conv(), device)


@pytest.mark.parametrize(("scale", "refused"), [(2.5e-6, False), (1.9e-6, True), (1e30, False)])
@needs_cpu_profiles
def test_an_int8_convolution_xnnpack_cannot_requantize_is_refused_as_litert_refuses_it(scale, refused):
    """XNNPACK refuses a requantization scale (input × filter / output scale) of 256 or more, and LiteRT the
    model with it (0.05 × 0.01 / 1.9e-6 = 263 is refused on this host's LiteRT, 200 runs)."""
    m = ModelWriter("int8", fill="zeros")
    y = m.conv2d(m.input((1, 8, 8, 4)), 4, 3)
    m.tensors[y].quant = ((scale,), (0,), 0)
    if refused:
        with pytest.raises(ModelError, match="at least XNNPACK's 256: it cannot create the model's runtime"):
            estimate(m.to_bytes([y]), "pixel4-cpu-int8")
    else:
        assert estimate(m.to_bytes([y]), "pixel4-cpu-int8").total_ms > 0


def hybrid_loop() -> bytes:
    """A WHILE loop whose body holds a dynamic-range FULLY_CONNECTED (int8 weights on float32 inputs), as
    TensorFlow writes a Keras LSTM converted with Optimize.DEFAULT: the main subgraph has no layer of its own."""
    m = ModelWriter(fill="zeros")
    x = m.input((1, 16))
    body = m.subgraph("body")
    bx = body.input((1, 16))
    w, b = body.const(np.zeros((16, 16), np.int8)), body.const(np.zeros(16, np.float32))
    body.outputs = body.op("FULLY_CONNECTED", [bx, w, b], [(1, 16)])
    (y,) = m.op("WHILE", [x], [(1, 16)], options={"CondSubgraphIndex": 1, "BodySubgraphIndex": 1})
    return m.to_bytes([y])


@needs_cpu_profiles
def test_dynamic_range_weights_in_a_loop_body_are_told_as_on_the_main_graph():
    with pytest.raises(ModelError, match=r"dynamic-range quantized model .* on pixel4-cpu-int8"):
        estimate(hybrid_loop(), "pixel4-cpu-int8")
    warnings = estimate(hybrid_loop(), "pixel4-cpu").warnings
    assert any(w.startswith("1 op(s) with int8 weights on float32 inputs (dynamic-range quantization)")
               for w in warnings), warnings


@needs_cpu_profiles
def test_diff_compares_a_float_model_on_the_float_profile_with_its_int8_twin_on_the_int8_one(cli, tmp_path):
    for dtype in ("float32", "int8"):
        m = ModelWriter(dtype, fill="zeros")
        (tmp_path / f"{dtype}.tflite").write_bytes(m.to_bytes([m.conv2d(m.input((1, 32, 32, 16)), 32, 3)]))
    r = cli("diff", tmp_path / "float32.tflite", tmp_path / "int8.tflite", "--old-device", "pixel4-cpu",
            "--device", "pixel4-cpu-int8", columns=200)
    assert r.returncode == 0, r.stderr
    title = " ".join(r.stdout.split("total:")[0].split())  # the title, however the terminal wrapped it
    assert title.endswith(f"float32.tflite on pixel4-cpu → {tmp_path}/int8.tflite on pixel4-cpu-int8"), title
    float_ms = estimate(tmp_path / "float32.tflite", "pixel4-cpu").total_ms
    int8_ms = estimate(tmp_path / "int8.tflite", "pixel4-cpu-int8").total_ms
    assert f"total: {float_ms:.2f} ms → {int8_ms:.2f} ms" in r.stdout
    r = cli("diff", tmp_path / "float32.tflite", tmp_path / "int8.tflite", "--device", "pixel4-cpu-int8")
    assert r.returncode == 2 and "float32 model on pixel4-cpu-int8" in r.stderr
