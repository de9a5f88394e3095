"""graph → kernels on the CPU with XNNPACK, and the CPU devices that time them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.errors import ModelError
from pytest_tflite_latency.estimator.features import FEATURES, REFERENCE_CONV, REFERENCE_TAP_FLOPS, featurize
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import device_names, load_profile, roofline
from pytest_tflite_latency.estimator.xnnpack import model_precision

pytest_plugins = ["pytester"]
DATA = Path(__file__).resolve().parents[1] / "bench" / "data"
FLOAT_GRAPH = DATA / "qed-usc-mobile-cnn" / "mobilenet_wd4.tflite"
INT8_GRAPH = DATA / "qed-usc-mobile-cnn-int8" / "mobilenet_wd4.tflite"
CPU_DEVICES = [n for n in device_names() if "-cpu" in n]
needs_cpu_profiles = pytest.mark.skipif(not {"pixel4-cpu", "pixel4-cpu-int8"} <= set(CPU_DEVICES),
                                        reason="CPU profiles not built")


def xnnpack_kernels(m: ModelWriter, outputs):
    return group_kernels(load_graph(m.to_bytes(outputs)), "xnnpack")


def test_standalone_relu_fuses_into_the_convolution_it_follows():
    m = ModelWriter()
    y = m.relu(m.conv2d(m.input((1, 16, 16, 8)), 8, 3))
    kg = xnnpack_kernels(m, [y])
    assert [(k.op_names, k.linked, k.runs_on) for k in kg.kernels] == [(("CONV_2D", "RELU"), ("relu",), "CPU")]


def test_relu_of_a_tensor_read_twice_stays_a_kernel_of_its_own():
    m = ModelWriter()
    c = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    kg = xnnpack_kernels(m, [m.add(m.relu(c), c)])
    assert [k.op_names for k in kg.kernels] == [("CONV_2D",), ("RELU",), ("ADD",)]


def test_pad_fuses_into_the_convolution_but_not_into_a_pooling():
    m = ModelWriter()
    x = m.input((1, 16, 16, 8))
    conv = m.conv2d(m.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), 8, 3, padding="VALID")
    pool = m.max_pool(m.pad(conv, [(0, 0), (1, 1), (1, 1), (0, 0)]), 2, 2)
    kg = xnnpack_kernels(m, [pool])
    assert [k.op_names for k in kg.kernels] == [("PAD", "CONV_2D"), ("PAD",), ("MAX_POOL_2D",)]
    assert kg.kernels[0].inputs[0].shape == (1, 16, 16, 8)  # the convolution reads the unpadded tensor


def test_op_without_an_xnnpack_node_runs_on_builtin_kernels_with_a_note_and_a_warning():
    m = ModelWriter()
    x = m.conv2d(m.input((1, 8, 8, 4)), 4, 1)
    kg = xnnpack_kernels(m, [m.unary("TANH", x)])
    assert [k.note != "" for k in kg.kernels] == [False, True]
    assert "TANH" in kg.kernels[1].note
    assert any("builtin" in w for w in kg.warnings)


def test_the_cpu_backend_of_nn_meter_profiles_is_unchanged():
    m = ModelWriter()
    y = m.relu(m.conv2d(m.input((1, 16, 16, 8)), 8, 3))
    assert [k.op_names for k in group_kernels(load_graph(m.to_bytes([y])), "cpu").kernels] == \
        [("CONV_2D",), ("RELU",)]


def test_precision_of_the_committed_float_and_int8_graphs():
    assert model_precision(load_graph(FLOAT_GRAPH)) == "float32"
    assert model_precision(load_graph(INT8_GRAPH)) == "int8"


@needs_cpu_profiles
def test_int8_graph_is_timed_as_the_int8_graph_the_cpu_runs():
    int8 = estimate(INT8_GRAPH, "pixel4-cpu-int8")
    assert int8.total_ms > 0 and all(layer.runs_on == "CPU" for layer in int8.layers)
    # the int8 graph's kernels read 1-byte activations: the estimate sees the quantized graph, not its float twin
    assert any("QUANTIZE" in layer.ops for layer in int8.layers)


@needs_cpu_profiles
@pytest.mark.parametrize(("graph", "device", "suggested"), [
    (INT8_GRAPH, "pixel4-cpu", "pixel4-cpu-int8"), (FLOAT_GRAPH, "pixel4-cpu-int8", "pixel4-cpu")])
def test_model_of_the_other_precision_is_refused_naming_the_device_to_use(graph, device, suggested):
    with pytest.raises(ModelError, match=f"estimate it on {suggested}$"):
        estimate(graph, device)


@needs_cpu_profiles
@pytest.mark.parametrize("name", CPU_DEVICES)
def test_every_cpu_profile_states_its_leave_family_out_error_and_its_interval_coverage(name):
    profile = load_profile(name)
    heldout = profile.provenance["heldout"]
    assert profile.backend == "xnnpack"
    assert {"method", "models", "mape_pct", "within_10pct", "within_25pct", "interval_coverage_pct"} <= set(heldout)
    assert "leave-one-family-out" in heldout["method"] and "floor" in heldout
    assert 0 < profile.interval.coverage <= 1
    assert profile.device.model_precision == ("int8" if "-int8" in name else "float32")


@needs_cpu_profiles
def test_budget_file_and_assert_latency_work_for_cpu_devices(pytester):
    (pytester.path / "int8.tflite").symlink_to(INT8_GRAPH)
    (pytester.path / "latency-budgets.yaml").write_text(
        "budgets:\n  - model: int8.tflite\n    device: pixel4-cpu-int8\n    max_ms: 10000\n")
    pytester.makepyfile(test_api="""
        from pytest_tflite_latency import assert_latency

        def test_cpu_int8_budget():
            r = assert_latency("int8.tflite", max_ms=10000, device="pixel4-cpu-int8")
            assert r.device == "pixel4-cpu-int8" and 0 < r.estimate_ms < 10000

        def test_cpu_int8_over_budget():
            assert_latency("int8.tflite", max_ms=0.001, device="pixel4-cpu-int8")
    """)
    r = pytester.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(passed=2, failed=1)
    r.stdout.fnmatch_lines(["*int8.tflite on pixel4-cpu-int8: estimated * exceeds the 0.00 ms budget by *"])
    assert "Traceback" not in r.stdout.str()


@pytest.mark.skipif("pixel4-cpu" not in CPU_DEVICES, reason="CPU profiles not built")
def test_gpu_estimate_times_its_cpu_fallback_with_the_phones_cpu_profile():
    m = ModelWriter()
    a = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    (b,) = m.op("CUSTOM:MyPostProcess", [a], [(1, 16, 16, 8)])
    y = m.conv2d(m.conv2d(b, 8, 3), 8, 3)
    data = m.to_bytes([y])
    gpu = estimate(data, "pixel4-gpu")
    cpu = estimate(data, "pixel4-cpu")  # every kernel on the CPU
    on_cpu = [layer for layer in gpu.layers if layer.runs_on == "CPU"]  # the delegate takes the longer run
    assert [layer.ops for layer in on_cpu] == [("CONV_2D",), ("CUSTOM:MyPostProcess",)]
    assert [layer.ms for layer in on_cpu] == pytest.approx([layer.ms for layer in cpu.layers[:2]], rel=1e-9)
    assert any("timed by pixel4-cpu" in w for w in gpu.warnings)


@needs_cpu_profiles
def test_gpu_estimate_of_an_int8_model_times_its_cpu_fallback_with_the_phones_int8_cpu_profile():
    m = ModelWriter(dtype="int8")
    a = m.conv2d(m.input((1, 16, 16, 8)), 8, 3)
    (b,) = m.op("CUSTOM:MyPostProcess", [a], [(1, 16, 16, 8)])
    data = m.to_bytes([m.conv2d(m.conv2d(b, 8, 3), 8, 3)])
    gpu = estimate(data, "pixel4-gpu")
    int8 = estimate(data, "pixel4-cpu-int8")  # every kernel on the CPU, in int8
    on_cpu = [layer for layer in gpu.layers if layer.runs_on == "CPU"]
    assert [layer.ops for layer in on_cpu] == [("CONV_2D",), ("CUSTOM:MyPostProcess",)]
    assert [layer.ms for layer in on_cpu] == pytest.approx([layer.ms for layer in int8.layers[:2]], rel=1e-9)
    assert "kernels on the CPU timed by pixel4-cpu-int8, the phone's CPU profile" in gpu.warnings


@needs_cpu_profiles
def test_gpu_estimate_warns_of_a_fallback_kernel_its_cpu_profile_never_trained_on_as_a_cpu_estimate_does():
    m = ModelWriter()
    a = m.conv2d(m.input((1, 32, 32, 16)), 16, 3)
    (b,) = m.op("CUSTOM:MyPostProcess", [a], [(1, 32, 32, 16)])
    data = m.to_bytes([m.conv2d(m.conv2d(b, 16, 3), 16, 3)])
    untrained = "1 kernel (other; {}% of the estimate) outside what pixel4-cpu was trained on, of kinds it never"
    gpu = [w for w in estimate(data, "pixel4-gpu").warnings if "outside what" in w]
    cpu = [w for w in estimate(data, "pixel4-cpu").warnings if "outside what" in w]
    assert len(gpu) == len(cpu) == 1  # the custom op: no CPU profile learned its kind
    assert gpu[0].startswith(untrained.split("{}")[0]) and untrained.split("{}")[1] in gpu[0]
    assert gpu[0].split("%")[1] == cpu[0].split("%")[1]  # the same words, each its own share


@needs_cpu_profiles
def test_devices_lists_cpu_profiles_with_their_unseen_family_error_on_the_cpu():
    from pytest_tflite_latency.estimator.report import render_devices

    assert "CPU, int8" in render_devices([load_profile("pixel4-cpu-int8")], "table", 200)
    text = render_devices([load_profile("pixel4-cpu-int8")], "table", 200, verbose=True)
    assert "pixel4-cpu-int8" in text and "measured int8 models, int8 on the CPU" in text
    assert "unseen families:" in text and "floor (FLOPs + file size):" in text


def _grouped_conv(m: ModelWriter, x: int, groups: int) -> int:
    """A CONV_2D whose filter is 1/groups of the input's depth, as Keras writes ``Conv2D(groups=...)``."""
    n, h, w, c = m.shape(x)
    weights = m.const(np.zeros((c, 3, 3, c // groups), np.float32))
    bias = m.const(np.zeros(c, np.float32))
    return m.op("CONV_2D", [x, weights, bias], [(n, h, w, c)], dict(
        Padding=0, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1, FusedActivationFunction=0))[0]


def test_grouped_convolution_runs_on_the_reference_kernel_and_a_dense_one_on_xnnpack():
    m = ModelWriter()
    x = m.input((1, 14, 14, 64))
    kg = xnnpack_kernels(m, [m.conv2d(_grouped_conv(m, x, 64), 64, 3)])
    assert [k.op_names for k in kg.kernels] == [("CONV_2D",), ("CONV_2D",)]
    assert "64 groups" in kg.kernels[0].note and "reference" in kg.kernels[0].note
    assert kg.kernels[1].note == ""
    assert any("builtin" in w for w in kg.warnings)


def test_a_cpu_base_prices_grouped_convolutions_by_their_reference_work_and_other_kernels_as_before():
    m = ModelWriter()
    x = m.input((1, 14, 14, 32))
    outputs = [_grouped_conv(m, x, 32), _grouped_conv(m, x, 4), m.conv2d(x, 32, 3)]
    X = featurize(group_kernels(load_graph(m.to_bytes(outputs)), "xnnpack").kernels, "xnnpack")
    plain = {"launch_ms": 0.01, "ms_per_flop": 1e-9, "ms_per_byte": 1e-7, "relative_flop_cost": {"conv": 1.0}}
    priced = {**plain, "relative_flop_cost": {"conv": 1.0, REFERENCE_CONV: 20.0}}
    before, after = roofline(X, FEATURES, plain), roofline(X, FEATURES, priced)
    flops, moved = X[:, FEATURES.index("flops")], X[:, FEATURES.index("bytes_in")] + X[:, FEATURES.index("bytes_out")] \
        + X[:, FEATURES.index("bytes_weights")]
    taps = 14 * 14 * 32 * 3 * 3
    for row in (0, 1):  # one channel per group, then eight
        expected = 0.01 + 20.0 * 1e-9 * (flops[row] + REFERENCE_TAP_FLOPS * taps) + 1e-7 * moved[row]
        assert after[row] == pytest.approx(expected, rel=1e-9)
    assert after[2] == pytest.approx(before[2], rel=1e-12)
    # per FLOP, a group of one channel pays its window taps more dearly than a group of eight
    assert (after[0] - before[0]) / flops[0] > (after[1] - before[1]) / flops[1]


def _custom_ops_only() -> bytes:
    m = ModelWriter()
    (a,) = m.op("CUSTOM:MyPreProcess", [m.input((1, 32, 32, 16))], [(1, 32, 32, 16)])
    (b,) = m.op("CUSTOM:MyPostProcess", [a], [(1, 32, 32, 16)])
    return m.to_bytes([b])


@needs_cpu_profiles
def test_a_gpu_estimate_with_no_op_on_the_gpu_charges_no_gpu_delegate_overhead():
    gpu, cpu = load_profile("pixel4-gpu"), load_profile("pixel4-cpu")
    est = estimate(_custom_ops_only(), gpu)
    assert {layer.runs_on for layer in est.layers} == {"CPU"}
    assert gpu.overhead_ms > 0 and est.overhead_ms == cpu.overhead_ms  # the delegate is never applied
    assert est.total_ms == pytest.approx(sum(layer.ms for layer in est.layers) + cpu.overhead_ms, rel=1e-9)
    m = ModelWriter()  # one op on the GPU: the delegate runs, and its per-inference cost counts
    (b,) = m.op("CUSTOM:MyPostProcess", [m.conv2d(m.input((1, 32, 32, 16)), 16, 3)], [(1, 32, 32, 16)])
    assert estimate(m.to_bytes([b]), gpu).overhead_ms == gpu.overhead_ms


def test_an_int8_model_of_which_the_gpu_delegate_takes_nothing_is_not_said_to_be_dequantized_by_it():
    m = ModelWriter(dtype="int8")
    (a,) = m.op("CUSTOM:MyPostProcess", [m.input((1, 16, 16, 8))], [(1, 16, 16, 8)])
    said = "the GPU delegate dequantizes it"
    assert not any(said in w for w in estimate(m.to_bytes([a]), "pixel4-gpu").warnings)
    delegated = ModelWriter(dtype="int8")
    data = delegated.to_bytes([delegated.conv2d(delegated.input((1, 16, 16, 8)), 8, 3)])
    assert any(said in w for w in estimate(data, "pixel4-gpu").warnings)
