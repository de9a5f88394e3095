"""Hostile input never hangs, never crashes and never yields a figure that could pass a budget."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import tflite

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.fuzz import find_sites, litert_refusal
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.errors import ModelError, ProfileError
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import DeviceProfile, load_profile


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", *args], capture_output=True,
                          text=True, timeout=60)


def bundled() -> dict:
    """A fresh copy of the default profile's JSON form."""
    return json.loads(json.dumps(load_profile(DEFAULT_DEVICE).to_dict()))


def _set(d: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    target = d
    for key in parents:
        target = target[key]
    target[last] = value
    return d


@pytest.mark.parametrize("text,problem", [
    (json.dumps({"model": "m.tflite", "device": "x", "total_ms": 3.0}), "missing key 'name'"),
    ("[1, 2, 3]", "expected a JSON object, got list"),
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
    (json.dumps(_set(bundled(), "title", 7)), "'title' has the wrong type"),
    (json.dumps(_set(bundled(), "base.ms_per_flop", -1e-8)), "base.ms_per_flop is -1e-08; a cost cannot be negative"),
    (json.dumps(_set(bundled(), "transfer.launch_ms", math.inf)), "transfer.launch_ms is inf, not a finite number"),
    (json.dumps(_set(bundled(), "interval.high", math.nan)), "interval.high is nan, not a finite number"),
    (json.dumps(_set(bundled(), "interval.coverage", 1.5)), "interval.coverage is 1.5, not a share from 0 to 1"),
    (json.dumps(_set(bundled(), "provenance.heldout.mape_pct", -3)),
     "provenance.heldout.mape_pct is -3, not a percentage"),
    (json.dumps(_set(bundled(), "provenance.heldout.within_10pct", 150.0)),
     "provenance.heldout.within_10pct is 150.0, not a percentage"),
    (json.dumps(_set(bundled(), "kernel_scale", 0)), "kernel_scale is 0, outside the plausible factor range"),
    (json.dumps(_set(bundled(), "kernel_scale", 1e308)), "kernel_scale is 1e+308, beyond the plausible ±1e+15"),
    (json.dumps(_set(bundled(), "kernel_scale", 1000)), "kernel_scale is 1000, outside the plausible factor range"),
    (json.dumps(_set(bundled(), "overhead_ms", 1e308)), "overhead_ms is 1e+308, beyond the plausible ±1e+15"),
    (json.dumps(_set(bundled(), "overhead_ms", 3600e3)), "overhead_ms is 3600000.0, more than the plausible 1000 ms"),
    (json.dumps(_set(bundled(), "base.launch_ms", 10**400)), "base.launch_ms is 100000000000…(401 digits), beyond"),
    (json.dumps(_set(bundled(), "correction.base_score", -(10**400))), "correction.base_score is -10000000000…"),
    (json.dumps(_set(bundled(), "correction.threshold", [10**400])), "correction.threshold must be a list of finite"),
    (json.dumps(_set(bundled(), "max_partitions", 10**400)), "max_partitions is 100000000000…(401 digits)"),
    (json.dumps(_set(bundled(), "trained_range.conv", [1.0, "1e3"])), "trained_range.conv[1] is '1e3', not a number"),
    (json.dumps(_set(bundled(), "correction.right", ["1e3"])), "correction.right must be a list of numbers"),
    (json.dumps(_set(bundled(), "correction.left", [10**9])), "correction arrays differ in length"),
    (json.dumps(_set(bundled(), "correction.left.dtype", {})), "correction.left must be a list of numbers or"),
    (json.dumps(_set(bundled(), "trained_range.fc", [1.0, {}])), "trained_range.fc is [1.0, {}], not a pair of"),
    (json.dumps(_set(bundled(), "trained_range.conv", [])), "trained_range.conv is [], not a pair of numbers"),
    (json.dumps(_set(bundled(), "features", ["flops"])), "its 1 features are not the"),
    (None, "no such file"),
])
def test_file_that_is_not_a_usable_profile_exits_2_naming_it(tmp_path, nb201_path, text, problem):
    path = tmp_path / "phone.json"
    if text is not None:
        path.write_text(text)
    r = cli("estimate", str(nb201_path), "--device", str(path))
    assert r.returncode == 2, r.stdout
    assert r.stderr.count("\n") == 1 and f"{path}: not a usable device profile: {problem}" in r.stderr


def test_profile_validation_happens_in_from_dict():
    with pytest.raises(ProfileError, match=r"mine: not a usable device profile: base\.launch_ms is -1"):
        DeviceProfile.from_dict(_set(bundled(), "base.launch_ms", -1), "mine")


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "fifo"])
def test_devices_and_fifos_are_refused_before_reading(tmp_path, path):
    if path == "fifo":
        path = str(tmp_path / "model.tflite")
        os.mkfifo(path)
    r = cli("estimate", path)
    assert r.returncode == 2 and "not a regular file" in r.stderr and path in r.stderr


def test_file_beyond_two_gigabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.tflite"
    with open(path, "wb") as f:
        f.truncate(2**31 + 10)  # sparse: takes no disk space
    with pytest.raises(ModelError, match=r"the \.tflite file is 2,147,483,658 bytes, beyond the 2 GB a TFLite"):
        estimate(path)


def test_tensor_beyond_two_billion_elements_is_a_model_error():
    m = ModelWriter()
    x = m.input((1, 8, 8, 2))
    (y,) = m.op("RELU", [x], [(1, 65536, 65536, 2)])
    with pytest.raises(ModelError, match=r"tensor \d+ has shape \(1, 65536, 65536, 2\), more than 2\^31"):
        estimate(m.to_bytes([y]))


def test_strides_beyond_65536_are_clamped_with_a_warning_and_litert_accepts_them():
    m = ModelWriter()
    x = m.input((1, 8, 8, 4))
    (y,) = m.op("AVERAGE_POOL_2D", [x], [(1, 8, 1, 4)],
                {"StrideW": 2**20, "StrideH": 1, "FilterWidth": 2, "FilterHeight": 2, "Padding": 0})
    data = m.to_bytes([y])
    est = estimate(data)
    assert est.total_ms > 0 and math.isfinite(est.interval_ms[1])
    assert any("StrideW 1048576, above 65536: clamped" in w for w in est.warnings)
    pytest.importorskip("ai_edge_litert")
    assert litert_refusal(data) == ""


def _pool(filter_width: int, padding: int) -> bytes:
    m = ModelWriter()
    (y,) = m.op("MAX_POOL_2D", [m.input((1, 8, 32, 4))], [(1, 8, 32, 4)],
                {"StrideW": 1, "StrideH": 1, "FilterWidth": filter_width, "FilterHeight": 1, "Padding": padding})
    return m.to_bytes([y])


def test_pooling_window_beyond_65536_is_refused_as_implausible_and_litert_fails_on_it():
    data = _pool(2**30, padding=1)
    with pytest.raises(ModelError, match=r"implausible model: subgraph 0 operator 0 \(MAX_POOL_2D\) has "
                                         r"FilterWidth 1073741824, a window beyond 65536"):
        estimate(data)
    pytest.importorskip("ai_edge_litert")
    assert litert_refusal(data) != ""


def test_same_pooling_window_of_65537_is_refused_as_litert_refuses_it_and_65536_estimates():
    """pooling.cc holds a SAME window's padding in an int16: a window of 65,537 pads 32,768 pixels."""
    with pytest.raises(ModelError, match=r"MAX_POOL_2D\) has FilterWidth 65537, a window beyond 65536"):
        estimate(_pool(65537, padding=0))
    assert estimate(_pool(65536, padding=0)).total_ms > 0
    pytest.importorskip("ai_edge_litert")
    assert litert_refusal(_pool(65537, padding=0)) != ""
    assert litert_refusal(_pool(65536, padding=0)) == ""


def _conv(m: ModelWriter, x: int, weights: tuple, bias: int | None, out: tuple, **options) -> int:
    w = m.const(np.zeros(weights, np.float32))
    b = m.const(np.zeros(bias, np.float32)) if bias is not None else -1
    opts = {"Padding": 1, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1, "DilationHFactor": 1, **options}
    return m.op("CONV_2D", [x, w, b], [out], opts)[0]


def _int8_conv_with_unquantized_filter(m: ModelWriter) -> int:
    """The int8 convolution of a converted model, its filter's quantization lost (fuzz case 4601)."""
    x = m.input((1, 8, 8, 4), dtype="int8")
    w = m.const(np.zeros((8, 3, 3, 4), np.int8))
    b = m.const(np.zeros(8, np.int32), quant=((0.0005,) * 8, (0,) * 8, 0))
    return m.op("CONV_2D", [x, w, b], [(1, 6, 6, 8)], {"Padding": 1, "StrideW": 1, "StrideH": 1,
                                                       "DilationWFactor": 1, "DilationHFactor": 1})[0]


def _int8_conv_relu6_on_a_vanishing_output_scale(m: ModelWriter) -> int:
    """An int8 convolution with a fused RELU6 whose output scale (1e-10) puts its clamp at 6e10 steps, as a
    16x8 calibration on random weights wrote it (a new user's model)."""
    x = m.input((1, 8, 8, 4), dtype="int8")
    w = m.const(np.zeros((8, 3, 3, 4), np.int8), quant=((0.01,) * 8, (0,) * 8, 0))
    b = m.const(np.zeros(8, np.int32), quant=((0.0005,) * 8, (0,) * 8, 0))
    (y,) = m.op("CONV_2D", [x, w, b], [(1, 6, 6, 8)], {"Padding": 1, "StrideW": 1, "StrideH": 1,
                                                       "DilationWFactor": 1, "DilationHFactor": 1,
                                                       "FusedActivationFunction": 3})
    m.tensors[y].quant = ((1e-10,), (0,), 0)
    return y


def _relu_model() -> bytes:
    m = ModelWriter(fill="zeros")
    return m.to_bytes([m.relu(m.input((1, 8, 8, 4)))])


def _with_builtin_code(data: bytes, code: int) -> bytes:
    """``data`` with its first operator code's builtin code overwritten (what a flipped byte does)."""
    buf = bytearray(data)
    tab = tflite.Model.GetRootAs(data, 0).OperatorCodes(0)._tab
    pos = tab.Pos + tab.Offset(10)  # OperatorCode.builtin_code
    buf[pos:pos + 4] = code.to_bytes(4, "little")
    return bytes(buf)


def _refused_models() -> dict[str, tuple[bytes, str]]:
    """Models LiteRT refuses to prepare, each with the rule the estimator must name."""
    out = {}

    def model(name, build, why):
        m = ModelWriter(fill="zeros")
        out[name] = (m.to_bytes([build(m)]), why)

    model("pool on a 3-D tensor", lambda m: m.op("MAX_POOL_2D", [m.input((8, 8, 4))], [(1, 4, 4, 4)], {
        "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2, "Padding": 1})[0],
        r"operator 0 \(MAX_POOL_2D\): input is 3-D \[8, 8, 4\], the kernel needs 4-D")
    model("pool stride 0", lambda m: m.op("AVERAGE_POOL_2D", [m.input((1, 8, 8, 4))], [(1, 4, 4, 4)], {
        "StrideW": 0, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2, "Padding": 1})[0],
        r"operator 0 \(AVERAGE_POOL_2D\): StrideW is 0, the kernel needs at least 1")
    model("conv channels", lambda m: _conv(m, m.input((1, 8, 8, 4)), (8, 3, 3, 3), 8, (1, 6, 6, 8)),
          r"CONV_2D\): input's 4 channels are no multiple of the filter's 3 input channels")
    model("conv bias", lambda m: _conv(m, m.input((1, 8, 8, 4)), (8, 3, 3, 4), 5, (1, 6, 6, 8)),
          r"CONV_2D\): bias has 5 elements, the filter 8 output channels")
    model("conv 2-D filter", lambda m: _conv(m, m.input((1, 8, 8, 4)), (8, 36), 8, (1, 6, 6, 8)),
          r"CONV_2D\): filter is 2-D \[8, 36\], the kernel needs 4-D")
    model("fully connected depth", lambda m: m.op("FULLY_CONNECTED", [
        m.input((1, 10)), m.const(np.zeros((4, 3), np.float32)), -1], [(1, 4)], {})[0],
        r"FULLY_CONNECTED\): input of 10 elements is no whole number of rows of the weights' depth 3")
    model("add broadcast", lambda m: m.op("ADD", [m.input((1, 8, 8, 4)), m.input((1, 8, 8, 3))],
                                          [(1, 8, 8, 4)])[0],
          r"ADD\): inputs \[1, 8, 8, 4\] and \[1, 8, 8, 3\] do not broadcast")
    model("add types", lambda m: m.op("ADD", [m.input((1, 8, 8, 4)), m.input((1, 8, 8, 4), dtype="int32")],
                                      [(1, 8, 8, 4)])[0],
          r"ADD\): input types differ \(float32, int32\)")
    model("concat ranks", lambda m: m.op("CONCATENATION", [m.input((1, 8, 8, 4)), m.input((1, 8, 4))],
                                         [(1, 8, 8, 8)], {"Axis": 3})[0],
          r"CONCATENATION\): inputs \[1, 8, 8, 4\] and \[1, 8, 4\] differ outside axis 3")
    model("split count", lambda m: m.op("SPLIT", [m.const(np.array(3, np.int32)), m.input((1, 8, 8, 4))],
                                        [(1, 8, 8, 2), (1, 8, 8, 2)])[0],
          r"operator 0 \(SPLIT\): NumSplits is 0, the op has 2 outputs")
    model("reshape without a shape", lambda m: m.op("RESHAPE", [m.relu(m.input((1, 8, 8, 4)))], [(1, 8, 8, 4)])[0],
          r"RESHAPE\): input \[1, 8, 8, 4\] of 256 elements cannot take the requested shape \[\]")
    model("split after a reshape whose declared shape the runtime recomputes", lambda m: m.op(
        "SPLIT", [m.const(np.array(3, np.int32)), m.op("RESHAPE", [m.input((1, 8, 8, 4)), m.const(
            np.array([1, 64, 4], np.int32))], [(1, 8, 8, 4)])[0]], [(1, 8, 8, 2), (1, 8, 8, 2)], {"NumSplits": 2})[0],
          r"operator 0 \(RESHAPE\): declares output \[1, 8, 8, 4\], the kernel computes \[1, 64, 4\]")
    model("mean axis outside the input", lambda m: m.op("MEAN", [m.input((1, 8, 8, 4)), m.const(
        np.array([1, 5], np.int32))], [(1, 8, 4)], {"KeepDims": False})[0],
          r"MEAN\): axis 5 is outside a 4-D input")
    model("negative padding", lambda m: m.op("PAD", [m.input((1, 8, 8, 4)), m.const(
        np.array([[0, 0], [1, -2], [1, 1], [0, 0]], np.int32))], [(1, 7, 10, 4)])[0],
          r"PAD\): paddings \[0, 0, 1, -2, 1, 1, 0, 0\] hold a negative padding")
    model("uneven split", lambda m: m.op("SPLIT", [m.const(np.array(3, np.int32)), m.input((1, 8, 8, 4))],
                                         [(1, 8, 8, 1)] * 3, {"NumSplits": 3})[0],
          r"SPLIT\): the input's 4 entries along the axis do not split evenly into 3")
    model("depthwise dilation beyond int16", lambda m: m.op("DEPTHWISE_CONV_2D", [
        m.input((1, 32, 32, 4)), m.const(np.zeros((1, 1, 3, 4), np.float32)), m.const(np.zeros(4, np.float32))],
        [(1, 32, 32, 4)], {"Padding": 0, "StrideW": 1, "StrideH": 1, "DilationWFactor": 40000, "DilationHFactor": 1,
                           "DepthMultiplier": 1})[0],
          r"DEPTHWISE_CONV_2D\): DilationWFactor is 40000, the kernel takes at most 32767")
    model("int8 conv filter without quantization", _int8_conv_with_unquantized_filter,
          r"CONV_2D\): its int8 filter has no quantization parameters, which the int8 kernel needs")
    model("per-channel scales on the wrong dimension", lambda m: m.op("DEPTHWISE_CONV_2D", [
        m.input((1, 8, 8, 4)), m.const(np.zeros((1, 3, 3, 4), np.int8), quant=((0.01,) * 4, (0,) * 4, 0)), -1],
        [(1, 8, 8, 4)], {"Padding": 0, "StrideW": 1, "StrideH": 1, "DilationWFactor": 1, "DilationHFactor": 1,
                         "DepthMultiplier": 1})[0],
          r"tensor 1 has 4 quantization scales for the 1 entries of its dimension 0")
    model("add after a fully connected whose declared shape the runtime recomputes", lambda m: m.op("ADD", [
        m.op("FULLY_CONNECTED", [m.input((1, 10)), m.const(np.zeros((4, 10), np.float32)), -1], [(2, 2)])[0],
        m.const(np.zeros((2, 2), np.float32))], [(2, 2)])[0],
          r"operator 0 \(FULLY_CONNECTED\): declares output \[2, 2\], the kernel computes \[1, 4\]")
    model("int8 RELU6 clamp beyond int32", _int8_conv_relu6_on_a_vanishing_output_scale,
          r"operator 0 \(CONV_2D\): fused RELU6 on an output of scale 1e-10: its clamp at 6 is 6e\+10 "
          r"quantization steps, beyond int32")
    out["operator code beyond the schema"] = (_with_builtin_code(_relu_model(), 250),
                                              r"operator 0 \(BUILTIN_250\): operator code 250 is no builtin operator")
    out["mobilenet_v2 with every shape removed"] = (_without_shapes(zoo.build("mobilenet_v2", size=32, fill="zeros")),
                                                     r"operator 0 \(CONV_2D\): input is 0-D \[\], the kernel needs 4-D")
    return out


def _without_shapes(data: bytes) -> bytes:
    """Every tensor's shape vector cut to length 0: the rank-0 MobileNet V2 LiteRT refuses."""
    buf = bytearray(data)
    for pos, _ in find_sites(data).rank:
        buf[pos:pos + 4] = (0).to_bytes(4, "little")
    return bytes(buf)


REFUSED = _refused_models()


@pytest.mark.parametrize("name", list(REFUSED))
def test_model_litert_refuses_is_a_one_line_model_error_naming_the_op(name):
    data, why = REFUSED[name]
    with pytest.raises(ModelError, match=why) as err:
        estimate(data, name=name)
    assert "\n" not in str(err.value) and "LiteRT refuses the model" in str(err.value)


@pytest.mark.parametrize("name", list(REFUSED))
def test_litert_itself_refuses_each_model_the_estimator_refuses(name):
    pytest.importorskip("ai_edge_litert")
    assert litert_refusal(REFUSED[name][0]) != ""


def test_negative_dimension_in_a_shape_is_refused_as_litert_does():
    m = ModelWriter(fill="zeros")
    y = m.relu(m.input((1, 8, 8, 4)))
    data = bytearray(m.to_bytes([y]))
    pos = find_sites(bytes(data)).shape[1]  # the input's second dimension
    data[pos:pos + 4] = (-1).to_bytes(4, "little", signed=True)
    with pytest.raises(ModelError, match=r"has shape \(1, -1, 8, 4\): a dynamic size belongs in its shape signature"):
        estimate(bytes(data))
    pytest.importorskip("ai_edge_litert")
    assert litert_refusal(bytes(data)) != ""


def test_declared_output_shape_the_op_does_not_compute_is_refused_though_litert_would_recompute_it():
    """Stricter than LiteRT on purpose: the runtime resizes the output, but the estimate prices the file's
    declared shapes, so a file whose shapes disagree with its own ops cannot be estimated truthfully."""
    m = ModelWriter(fill="zeros")
    (y,) = m.op("RELU", [m.input((1, 8, 8, 4))], [(1, 8, 8, 5)])
    with pytest.raises(ModelError, match=r"RELU\): declares output \[1, 8, 8, 5\], the kernel computes "
                                         r"\[1, 8, 8, 4\] from its inputs \(inconsistent model\)"):
        estimate(m.to_bytes([y]))


def test_conv_carrying_another_ops_options_table_is_refused():
    m = ModelWriter(fill="zeros")
    y = m.conv2d(m.input((1, 8, 8, 4)), 8, 3)
    data = bytearray(m.to_bytes([y]))
    (pos,) = find_sites(bytes(data)).option_type
    data[pos] = tflite.BuiltinOptions.Pool2DOptions
    with pytest.raises(ModelError, match=r"operator 0 \(CONV_2D\): carries Pool2DOptions, not Conv2DOptions"):
        estimate(bytes(data))


def test_legal_but_absurd_work_is_refused_as_implausible():
    m = ModelWriter(fill="zeros")
    y = m.max_pool(m.input((1, 46340, 46340, 1)), 65536, 1, "SAME")
    with pytest.raises(ModelError, match=r"implausible model: estimated at .* beyond the plausible 60 minutes"):
        estimate(m.to_bytes([y]))


def test_every_zoo_model_litert_accepts_still_estimates():
    pytest.importorskip("ai_edge_litert")
    for name in zoo.names():
        for dtype in ("float32", "float16", "int8"):
            data = zoo.build(name, dtype=dtype, fill="zeros", **({} if name == "nasbench201" else {"size": 32}))
            assert litert_refusal(data) == ""
            assert estimate(data, name=f"{name}-{dtype}").total_ms > 0


def test_estimate_works_under_a_one_gigabyte_address_space_limit(nb201_path):
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1_000_000 * 1024,) * 2); "
            "from pytest_tflite_latency.cli import main; sys.exit(main(['estimate', sys.argv[1]]))")
    r = subprocess.run([sys.executable, "-c", code, str(nb201_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ms" in r.stdout


def test_a_negative_total_is_never_returned_even_from_a_hand_made_profile(nb201_bytes):
    profile = load_profile("nnmeter-adreno640")
    broken = replace(profile, base=replace(profile.base, launch_ms=-5.0))  # bypasses from_dict's checks
    with pytest.raises(ModelError, match="not a finite positive time"):
        estimate(nb201_bytes, broken)
    with pytest.raises(ModelError, match="not a finite time"):
        estimate(nb201_bytes, replace(profile, base=replace(profile.base, ms_per_byte=math.inf)))


def test_a_kernel_below_zero_counts_as_zero_with_a_warning(nb201_bytes):
    profile = load_profile("nnmeter-adreno640")
    signed = replace(profile, context={"ms_per_weight_byte": 0.0, "ms_per_kernel": -0.003})
    est = estimate(nb201_bytes, signed)
    assert min(layer.ms for layer in est.layers) == 0 and est.total_ms > 0
    assert est.total_ms == pytest.approx(sum(layer.ms for layer in est.layers))
    assert est.interval_ms[0] <= est.total_ms <= est.interval_ms[1]
    assert any("kernels estimated below zero" in w for w in est.warnings)


def test_json_report_is_strict_json(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(zoo.build("mobilenet_v1", size=32, fill="zeros"))
    r = cli("estimate", str(path), "--format", "json")
    json.loads(r.stdout, parse_constant=lambda token: pytest.fail(f"{token} in the JSON report"))


@pytest.mark.parametrize(("scale", "zero", "problem"), [
    (0.0, 0, "has the quantization scale 0, not a finite positive number"),
    (-0.05, 0, "has the quantization scale -0.05, not a finite positive number"),
    (math.nan, 0, "has the quantization scale nan, not a finite positive number"),
    (math.inf, 0, "has the quantization scale inf, not a finite positive number"),
    (0.05, 1000, "has the zero point 1000, outside what a int8 tensor holds (-128 … 127)"),
])
def test_an_int8_activation_with_quantization_no_kernel_can_compute_is_refused_as_litert_refuses_it(
        scale, zero, problem):
    from pytest_tflite_latency.bench.writer import ModelWriter

    m = ModelWriter("int8", fill="zeros")
    y = m.conv2d(m.input((1, 8, 8, 4)), 4, 3)
    m.tensors[y].quant = ((scale,), (zero,), 0)
    with pytest.raises(ModelError, match=re.escape(problem)):
        estimate(m.to_bytes([y]), "pixel4-cpu-int8")
