"""The whole pipeline: file → ... → Estimate, on the bundled profiles."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from pytest_tflite_latency.bench import nasbench201, zoo
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.errors import EstimatorError, ProfileError, UnknownDeviceError
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.predict import NEGLIGIBLE_SHARE
from pytest_tflite_latency.estimator.profile import (
    TREE_ARRAYS,
    DeviceProfile,
    PredictionInterval,
    Roofline,
    device_names,
    load_profile,
)
from pytest_tflite_latency.estimator.report import CSV_COLUMNS, render


def test_the_default_device_is_listed_first():
    assert device_names()[0] == DEFAULT_DEVICE == "pixel4-gpu"


def test_every_stock_gpu_and_nnmeter_profile_is_bundled():
    assert {"pixel4-gpu", "mi8se-gpu", "galaxys10-gpu", "galaxya03s-gpu", "iphonexs-gpu", "iphone7-gpu",
            "nnmeter-adreno640", "nnmeter-adreno630", "nnmeter-cortexa76"} == \
        {n for n in device_names() if "-cpu" not in n}  # CPU profiles: tests/test_xnnpack.py


@pytest.mark.parametrize("name", device_names())
def test_every_bundled_profile_says_what_it_learned_from(name):
    provenance = load_profile(name).provenance
    measured = provenance["measurements"]
    counts = list(measured.values()) if isinstance(measured, dict) else [measured]
    assert provenance["trained_on"] and all(isinstance(n, int) and n > 0 for n in counts)


@pytest.mark.parametrize("name", device_names())
def test_every_bundled_profile_states_an_error_that_matches_its_held_out_figures(name):
    held = load_profile(name).provenance["heldout"]
    assert held["models"] > 0 and held["method"]
    # MAPE bounds the share within ±10%: at least (100 - within) % of models are off by more than 10%
    assert held["mape_pct"] >= 0.1 * (100 - held["within_10pct"]) - 0.02  # both are rounded


@pytest.mark.parametrize("name", device_names())
def test_every_bundled_profiles_interval_brackets_zero_error(name):
    interval = load_profile(name).interval
    assert interval.low < 0 < interval.high


def test_layers_add_up_to_the_total_without_an_overhead(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno640")
    assert est.overhead_ms == 0
    assert est.total_ms == pytest.approx(sum(layer.ms for layer in est.layers), rel=1e-9)


def test_layers_and_the_per_inference_overhead_add_up_to_the_total(nb201_path):
    stock = estimate(nb201_path)
    assert stock.device == DEFAULT_DEVICE and stock.overhead_ms > 0
    assert stock.total_ms == pytest.approx(sum(layer.ms for layer in stock.layers) + stock.overhead_ms, rel=1e-9)


def test_interval_brackets_the_estimate(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno640")
    assert est.interval_ms[0] < est.total_ms < est.interval_ms[1]


def test_every_kernel_of_a_known_network_takes_time_without_a_warning(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno640")
    assert all(layer.ms > 0 for layer in est.layers)
    assert not est.warnings


def test_more_convolutions_cost_more_on_every_device():
    light = nasbench201.build("|skip_connect~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|"
                              "skip_connect~1|nor_conv_1x1~2|", fill="zeros")
    heavy = nasbench201.build("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                              "nor_conv_3x3~1|nor_conv_3x3~2|", fill="zeros")
    for device in device_names():
        if "-int8" in device:
            continue  # float32 models are refused there (tests/test_xnnpack.py)
        assert estimate(heavy, device).total_ms > 1.5 * estimate(light, device).total_ms


def test_the_adreno640_is_faster_than_the_adreno630_which_beats_one_cpu_core(nb201_bytes):
    a640, a630, a76 = (estimate(nb201_bytes, d).total_ms
                       for d in ("nnmeter-adreno640", "nnmeter-adreno630", "nnmeter-cortexa76"))
    assert a640 < a630 < a76


def test_kernels_outside_the_training_range_are_named_in_a_warning(mobilenet_path):
    mob = estimate(mobilenet_path, "nnmeter-adreno640")
    assert any("outside what nnmeter-adreno640 was trained on" in w and "dwconv" in w for w in mob.warnings)


def test_kernels_outside_the_training_range_widen_the_interval(mobilenet_path, nb201_path):
    mob, nb = estimate(mobilenet_path, "nnmeter-adreno640"), estimate(nb201_path, "nnmeter-adreno640")
    width = lambda e: (e.interval_ms[1] - e.interval_ms[0]) / e.total_ms  # noqa: E731
    assert width(mob) > 3 * width(nb)


def _zoo_estimates() -> dict[str, object]:
    return {d: estimate(zoo.build("nasbench201", dtype=d, fill="zeros")) for d in ("float32", "float16", "int8")}


def test_a_float16_model_estimates_like_its_float32_twin():
    e = _zoo_estimates()
    assert e["float16"].total_ms == pytest.approx(e["float32"].total_ms, rel=0.02)  # the delegate folds fp16 weights


def test_an_int8_model_on_a_gpu_estimates_near_its_float32_twin():
    e = _zoo_estimates()
    assert e["int8"].total_ms == pytest.approx(e["float32"].total_ms, rel=0.25)  # the delegate computes in float


def test_only_an_int8_model_gets_the_int8_warning():
    e = _zoo_estimates()
    assert any("int8-quantized model" in w for w in e["int8"].warnings)
    assert not any("int8" in w for w in (*e["float32"].warnings, *e["float16"].warnings))


def two_convs(custom_between: bool) -> bytes:
    """Two convolutions, with a custom op (CPU fallback, so two GPU partitions) between them or not."""
    from pytest_tflite_latency.bench.writer import ModelWriter

    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 32, 32, 16)), 16, 3)
    if custom_between:
        (x,) = m.op("CUSTOM:Postprocess", [x], [(1, 32, 32, 16)])
    return m.to_bytes([m.conv2d(x, 16, 3)])


def test_cpu_fallback_costs_time():
    assert estimate(two_convs(True)).total_ms > estimate(two_convs(False)).total_ms


def test_cpu_fallback_places_copies_between_gpu_and_cpu_kernels():
    split = estimate(two_convs(True))
    assert [layer.runs_on for layer in split.layers] == ["GPU", "copy", "CPU", "CPU"]


def test_cpu_fallback_names_the_op_in_a_warning():
    assert any("Postprocess" in w for w in estimate(two_convs(True)).warnings)


def test_json_report_holds_model_device_total_interval_and_layers(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno630")
    d = json.loads(render(est, "json"))
    assert d["model"] == str(nb201_path) and d["device"] == "nnmeter-adreno630"
    assert isinstance(d["total_ms"], float) and len(d["interval_ms"]) == 2
    assert {"index", "ops", "runs_on", "ms"} <= set(d["layers"][0]) and d["warnings"] == []


def test_csv_report_has_its_header_and_one_row_per_kernel(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno630")
    rows = render(est, "csv").splitlines()
    assert rows[0].split(",") == list(CSV_COLUMNS) and len(rows) == len(est.layers) + 1


def test_table_report_shows_the_total_and_the_fused_ops(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno630")
    table = render(est, "table")
    assert f"{est.total_ms:.2f} ms" in table and "CONV_2D+ADD" in table


def test_unknown_device():
    with pytest.raises(UnknownDeviceError, match=r"known devices: pixel4-gpu, .*adreno640"):
        load_profile("pixel99")


def test_an_unknown_device_name_says_how_a_team_profile_is_found(tmp_path):
    with pytest.raises(UnknownDeviceError, match=r"\.json path.*latency_profiles"):
        load_profile("pixel8-gpu")
    with pytest.raises(UnknownDeviceError) as given_a_folder:  # the folder was given: no hint, its names listed
        load_profile("pixel8-gpu", (tmp_path,))
    assert "latency_profiles" not in str(given_a_folder.value)


def test_profile_json_path_is_accepted(tmp_path, nb201_bytes):
    path = tmp_path / "mine.json"
    load_profile("nnmeter-adreno630").save(path)
    assert estimate(nb201_bytes, path).total_ms == pytest.approx(estimate(nb201_bytes, "nnmeter-adreno630").total_ms,
                                                                 rel=1e-12)


def test_exported_xgboost_trees_evaluate_in_numpy_exactly_like_xgboost():
    """Trees exported as a profile stores them (`TreeEnsemble`) reproduce the library bit for bit."""
    xgb = pytest.importorskip("xgboost")
    from pytest_tflite_latency.bench.train import export_xgboost

    rng = np.random.default_rng(0)
    X = rng.random((400, 6))
    model = xgb.XGBRegressor(n_estimators=60, max_depth=5, n_jobs=1).fit(X, np.sin(6 * X[:, 0]) + X[:, 1])
    Xt = rng.random((1000, 6)) * 1.3 - 0.1
    assert np.array_equal(export_xgboost(model.get_booster()).predict(Xt).astype(np.float32),
                          model.predict(Xt))


@pytest.mark.parametrize("algorithm", ["random_forest", "decision_tree"])
def test_exported_scikit_learn_trees_evaluate_in_numpy_exactly_like_scikit_learn(algorithm):
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor

    from pytest_tflite_latency.bench.train import export_sklearn

    rng = np.random.default_rng(0)
    X = rng.random((300, 5))
    y = np.cos(5 * X[:, 2]) * X[:, 0]
    model = (RandomForestRegressor(20, random_state=0) if algorithm == "random_forest"
             else DecisionTreeRegressor(random_state=0)).fit(X, y)
    trees = [t.tree_ for t in getattr(model, "estimators_", [model])]
    Xt = rng.random((500, 5))
    assert np.array_equal(export_sklearn(trees, algorithm).predict(Xt), model.predict(Xt))



def test_interval_holds_the_estimate_when_held_out_errors_lie_on_one_side(nb201_bytes):
    """A bench-trained profile can have held-out errors all of one sign; the interval still holds
    the estimate (the estimator refuses an estimate outside its own interval)."""
    from dataclasses import replace

    from pytest_tflite_latency.estimator import DEFAULT_DEVICE

    for low, high in ((0.2, 0.5), (-0.6, -0.3)):
        profile = replace(load_profile(DEFAULT_DEVICE), interval={"low": low, "high": high})
        est = estimate(nb201_bytes, profile)
        assert 0 <= est.interval_ms[0] <= est.total_ms <= est.interval_ms[1]


def test_interval_holds_the_estimate_when_kernels_fall_below_zero(nb201_bytes):
    """An in-network correction that takes every kernel below zero leaves a total the pipeline lifts;
    the interval moves with it (the estimator refuses an estimate outside its own interval)."""
    from dataclasses import replace

    from pytest_tflite_latency.estimator import DEFAULT_DEVICE

    profile = load_profile(DEFAULT_DEVICE)
    profile = replace(profile, context={"ms_per_weight_byte": 0.0, "ms_per_kernel": -1000.0})
    est = estimate(nb201_bytes, profile)
    assert 0 <= est.interval_ms[0] <= est.total_ms <= est.interval_ms[1]


def test_a_stored_profile_and_its_list_form_predict_the_same(tmp_path, nb201_bytes, mobilenet_path):
    """Older profiles (tree arrays as JSON lists) keep loading, and predict what the stored form does."""
    stored = load_profile(DEFAULT_DEVICE)
    listed = json.loads(json.dumps(stored.to_dict()))
    listed["correction"] = {k: getattr(stored.correction, k).tolist() if k in TREE_ARRAYS else v
                            for k, v in listed["correction"].items()}
    old = DeviceProfile.from_dict(listed, "listed")
    for model in (nb201_bytes, mobilenet_path):
        a, b = estimate(model, stored), estimate(model, old)
        assert a.total_ms == pytest.approx(b.total_ms, rel=1e-12)
        assert [x.ms for x in a.layers] == pytest.approx([x.ms for x in b.layers], rel=1e-12)
    old.save(tmp_path / "saved.json")
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert set(saved["correction"]["threshold"]) == {"dtype", "base64"}  # save writes the stored form
    reloaded = estimate(nb201_bytes, str(tmp_path / "saved.json"))
    assert reloaded.total_ms == pytest.approx(estimate(nb201_bytes, old).total_ms, rel=1e-12)


@pytest.mark.parametrize("array,message", [
    ({"dtype": "<f8", "base64": "AAAA!AAA"}, "correction.threshold.base64 is not valid base64"),
    ({"dtype": "<f8", "base64": "AAAA"}, "correction.threshold holds 3 bytes, not a whole number of <f8 values"),
    ({"dtype": "object", "base64": ""}, "correction.threshold must be a list of numbers or"),
    ({"dtype": "<f8", "base64": "AAAAAAAA+H8="}, "correction.threshold holds nan, not a finite number"),
])
def test_a_broken_stored_array_is_refused_with_one_line(array, message):
    d = json.loads(json.dumps(load_profile("nnmeter-adreno640").to_dict()))
    d["correction"]["threshold"] = array
    with pytest.raises(ProfileError, match=re.escape(message)):
        DeviceProfile.from_dict(d, "mine.json")


def test_profile_parts_round_trip_through_their_json_form():
    for name in device_names():
        p = load_profile(name)
        again = DeviceProfile.from_dict(json.loads(json.dumps(p.to_dict())), name)
        assert again.to_dict() == p.to_dict()
        assert isinstance(p.base, Roofline) and isinstance(p.interval, PredictionInterval)


def one_softmax(shape: tuple[int, ...]) -> bytes:
    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input(shape), shape[-1], 3)
    return m.to_bytes([m.softmax(x)])


def test_kernels_outside_training_warn_only_above_a_negligible_share():
    """pixel4-gpu never trained on softmax: a softmax that is 0.1% of MobileNet V2 says nothing, one
    that is a large share of a model is named."""
    small = estimate(zoo.build("mobilenet_v2", fill="zeros"))
    (softmax,) = [layer for layer in small.layers if layer.kind == "softmax"]
    assert softmax.ms / small.total_ms < NEGLIGIBLE_SHARE and not small.warnings
    large = estimate(one_softmax((1, 64, 64, 64)))
    (layer,) = [layer for layer in large.layers if layer.kind == "softmax"]
    assert layer.ms / large.total_ms > NEGLIGIBLE_SHARE
    assert any("softmax" in w and "outside what pixel4-gpu was trained on" in w for w in large.warnings)


def test_an_fp32_delegate_on_an_fp16_profile_is_estimated_with_a_warning_naming_the_assumption(nb201_bytes):
    plain, fp32 = estimate(nb201_bytes), estimate(nb201_bytes, precision="fp32")
    assert fp32.total_ms == pytest.approx(plain.total_ms, rel=1e-12)
    (warning,) = set(fp32.warnings) - set(plain.warnings)
    assert "precision fp32" in warning and "computing in fp16" in warning and "assumes fp16 speed" in warning
    assert estimate(nb201_bytes, precision="fp16").warnings == plain.warnings


def test_an_unknown_precision_is_a_one_line_error(nb201_bytes):
    with pytest.raises(EstimatorError, match="precision: expected one of fp16, fp32, got 'fp8'"):
        estimate(nb201_bytes, precision="fp8")


def test_the_interval_label_comes_from_the_profiles_coverage(nb201_bytes):
    from pytest_tflite_latency.estimator.graph import load_graph
    from pytest_tflite_latency.estimator.html_report import render_html

    profile = load_profile(DEFAULT_DEVICE)
    assert profile.interval.coverage == 0.9 and "90% interval" in render(estimate(nb201_bytes, profile))
    eighty = replace(profile, interval=replace(profile.interval, coverage=0.8))
    est = estimate(nb201_bytes, eighty)
    assert est.interval_coverage == 0.8
    assert "(80% interval " in render(est).splitlines()[-1] and "90%" not in render(est)
    assert "<dt>80% interval</dt>" in render_html(est, load_graph(nb201_bytes))
    unknown = estimate(nb201_bytes, replace(profile, interval=replace(profile.interval, coverage=None)))
    assert "(interval " in render(unknown).splitlines()[-1]


def test_a_budget_may_state_the_delegates_precision(tmp_path, nb201_bytes):
    from pytest_tflite_latency.budgets import load_budgets
    from pytest_tflite_latency.check import check_budget, estimate_file

    (tmp_path / "net.tflite").write_bytes(nb201_bytes)
    (tmp_path / "b.yaml").write_text("defaults:\n  precision: fp32\nbudgets:\n  - model: net.tflite\n    max_ms: 50\n"
                                     "  - model: net.tflite\n    device: mi8se-gpu\n    max_ms: 50\n"
                                     "    precision: fp16\n  - model: net.tflite\n    device: iphone7-gpu\n"
                                     "    max_ms: 50\n    precision: fp64\n")
    fp32, fp16, bad = load_budgets(tmp_path / "b.yaml", DEFAULT_DEVICE)
    assert (fp32.precision, fp16.precision) == ("fp32", "fp16")
    assert bad.error == "precision must be one of fp16, fp32, got 'fp64'"
    result = check_budget(fp32.model, fp32.max_ms, fp32.device, precision=fp32.precision)
    assert result.estimate_ms == pytest.approx(estimate(nb201_bytes).total_ms, rel=1e-12)
    assert any("precision fp32" in w for w in result.warnings)
    assert any("precision fp32" in w for w in estimate_file(fp32.model, fp32.device, precision="fp32").warnings)
    assert f"({100 * estimate(nb201_bytes).interval_coverage:.4g}% interval " in result.what()


def _open_size_model(open_dims) -> bytes:
    m = ModelWriter()
    x = m.input((1, 1, 1, 3), open_dims=open_dims)
    return m.to_bytes([m.conv2d(x, 8, 3)])


def test_an_input_of_open_spatial_size_is_refused_with_how_to_fix_it_not_priced_at_one_pixel(cli, tmp_path):
    with pytest.raises(EstimatorError, match=r"input 'input0' has an open size in dimensions 1, 2 \(shape signature "
                                             r"-1, stored as \[1, 1, 1, 3\]\): the estimate needs the size the app "
                                             r"runs; convert the model with a fixed input shape"):
        estimate(_open_size_model((1, 2)))
    path = tmp_path / "open.tflite"
    path.write_bytes(_open_size_model((2,)))
    r = cli("estimate", str(path))
    assert r.returncode == 2 and "open size in dimension 2 (" in r.stderr and "Traceback" not in r.stderr


def test_an_input_of_open_batch_size_only_is_estimated_at_batch_one():
    est = estimate(_open_size_model((0,)))
    assert est.total_ms > 0 and any("dynamic batch dimension" in w for w in est.warnings)


@pytest.mark.parametrize("device", ["pixel4-gpu", "nnmeter-cortexa76"])
def test_a_select_tf_op_is_named_with_the_flex_delegate_it_needs_not_priced_silently(device):
    m = ModelWriter()
    (inverse,) = m.op("CUSTOM:FlexMatrixInverse", [m.input((1, 4, 4))], [(1, 4, 4)])
    (flex,) = [w for w in estimate(m.to_bytes([inverse]), device).warnings if "SELECT_TF_OPS" in w]
    assert flex.startswith("1 TensorFlow op(s) kept by SELECT_TF_OPS (FlexMatrixInverse) run only with the Flex "
                           "delegate (the app must link tensorflow-lite-select-tf-ops)")
