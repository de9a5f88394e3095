"""The whole pipeline: file → ... → Estimate, on the bundled profiles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pytest_tflite_latency.bench import nasbench201, zoo
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.errors import UnknownDeviceError
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import device_names, load_profile
from pytest_tflite_latency.estimator.report import CSV_COLUMNS, render


def test_bundled_devices_and_their_provenance():
    assert device_names()[0] == DEFAULT_DEVICE == "pixel4-gpu"
    assert {"pixel4-gpu", "mi8se-gpu", "galaxys10-gpu", "galaxya03s-gpu", "iphonexs-gpu", "iphone7-gpu",
            "nnmeter-adreno640", "nnmeter-adreno630", "nnmeter-cortexa76"} == \
        {n for n in device_names() if "-cpu" not in n}  # CPU profiles: tests/test_xnnpack.py
    for name in device_names():
        p = load_profile(name)
        measured = p.provenance["measurements"]
        assert min(measured.values()) if isinstance(measured, dict) else measured > 0
        assert p.provenance["trained_on"]
        held = p.provenance["heldout"]
        assert 0 <= held["mape_pct"] < 100 and 0 <= held["within_10pct"] <= 100
        assert p.interval["low"] < 0 < p.interval["high"]


def test_layers_and_overhead_add_up_and_interval_brackets_the_estimate(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno640")
    assert est.device == "nnmeter-adreno640" and est.overhead_ms == 0
    assert est.total_ms == pytest.approx(sum(layer.ms for layer in est.layers))
    stock = estimate(nb201_path)
    assert stock.device == DEFAULT_DEVICE and stock.overhead_ms > 0
    assert stock.total_ms == pytest.approx(sum(layer.ms for layer in stock.layers) + stock.overhead_ms)
    assert est.interval_ms[0] < est.total_ms < est.interval_ms[1]
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


def test_faster_gpu_is_faster_and_gpu_beats_one_cpu_core(nb201_bytes):
    a640, a630, a76 = (estimate(nb201_bytes, d).total_ms
                       for d in ("nnmeter-adreno640", "nnmeter-adreno630", "nnmeter-cortexa76"))
    assert a640 < a630 < a76


def test_out_of_training_range_kernels_are_flagged_and_widen_the_interval(mobilenet_path, nb201_path):
    mob, nb = estimate(mobilenet_path, "nnmeter-adreno640"), estimate(nb201_path, "nnmeter-adreno640")
    assert any("outside what nnmeter-adreno640 was trained on" in w and "dwconv" in w for w in mob.warnings)
    width = lambda e: (e.interval_ms[1] - e.interval_ms[0]) / e.total_ms  # noqa: E731
    assert width(mob) > 3 * width(nb)


def test_int8_and_float16_models_estimate_like_float32_and_int8_says_so():
    f32, f16, i8 = (estimate(zoo.build("nasbench201", dtype=d, fill="zeros")) for d in ("float32", "float16", "int8"))
    assert f16.total_ms == pytest.approx(f32.total_ms, rel=0.02)  # the delegate folds fp16 weights
    assert i8.total_ms == pytest.approx(f32.total_ms, rel=0.25)  # and computes in float
    assert any("int8-quantized model" in w for w in i8.warnings)
    assert not any("int8" in w for w in (*f32.warnings, *f16.warnings))


def two_convs(custom_between: bool) -> bytes:
    """Two convolutions, with a custom op (CPU fallback, so two GPU partitions) between them or not."""
    from pytest_tflite_latency.bench.writer import ModelWriter

    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 32, 32, 16)), 16, 3)
    if custom_between:
        (x,) = m.op("CUSTOM:Postprocess", [x], [(1, 32, 32, 16)])
    return m.to_bytes([m.conv2d(x, 16, 3)])


def test_cpu_fallback_adds_time_and_copies():
    plain, split = estimate(two_convs(False)), estimate(two_convs(True))
    assert split.total_ms > plain.total_ms
    assert [layer.runs_on for layer in split.layers] == ["GPU", "copy", "CPU", "CPU"]
    assert any("Postprocess" in w for w in split.warnings)


def test_json_csv_and_table_reports(nb201_path):
    est = estimate(nb201_path, "nnmeter-adreno630")
    d = json.loads(render(est, "json"))
    assert d["model"] == str(nb201_path) and d["device"] == "nnmeter-adreno630"
    assert isinstance(d["total_ms"], float) and len(d["interval_ms"]) == 2
    assert {"index", "ops", "runs_on", "ms"} <= set(d["layers"][0]) and d["warnings"] == []
    rows = render(est, "csv").splitlines()
    assert rows[0].split(",") == list(CSV_COLUMNS) and len(rows) == len(est.layers) + 1
    table = render(est, "table")
    assert f"{est.total_ms:.2f} ms" in table and "CONV_2D+ADD" in table


def test_unknown_device():
    with pytest.raises(UnknownDeviceError, match=r"known devices: pixel4-gpu, .*adreno640"):
        load_profile("pixel99")


def test_profile_json_path_is_accepted(tmp_path, nb201_bytes):
    path = tmp_path / "mine.json"
    load_profile("nnmeter-adreno630").save(path)
    assert estimate(nb201_bytes, path).total_ms == estimate(nb201_bytes, "nnmeter-adreno630").total_ms


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
    from pytest_tflite_latency.bench.train import export_sklearn
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor

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
