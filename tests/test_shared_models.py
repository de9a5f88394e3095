"""The shared real CNNs (qed-usc): the estimator's GPU kernels against the kernels the delegate
reported, the stock profiles, and the one prediction path that cross-validation judges."""

from __future__ import annotations

import math

import pytest

from pytest_tflite_latency.bench import qed
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import load_profile

pytestmark = pytest.mark.skipif(not (qed.QED_DIR / "models.csv").is_file(),
                                reason=f"shared measurements not found in {qed.QED_DIR}")


@pytest.fixture(scope="module")
def models() -> dict[str, qed.QedModel]:
    return {m.name: m for m in qed.load()}


@pytest.mark.parametrize("name", ["mobilenet_w1", "mobilenetv2_w1", "mobilenetv3_large_w1", "mnasnet_a1",
                                  "efficientnet_edge_small_b", "fbnet_cb", "resnet18", "squeezenet_v1_1"])
def test_kernel_list_matches_the_delegates_rows_exactly(models, name):
    assert models[name].matched()


def test_every_rebuilt_model_runs_the_measured_kernels(models):
    assert len(models) == 69
    assert len(qed.usable(list(models.values()))) == 69


@pytest.mark.parametrize("name", ["regnetx002", "resnext14_16x4d"])
def test_grouped_convolutions_are_one_kernel_each_as_the_phones_ran_them(models, name):
    from pytest_tflite_latency.estimator.features import FEATURES

    m = models[name]
    groups = m.X[m.gpu_listed, FEATURES.index("groups")]
    assert m.aligned() and (groups > 1).any()  # one CONV_2D of G groups, not G convolutions and a concat


def test_families_group_relatives():
    assert qed.family("sepreresnet18") == qed.family("resnet10") == qed.family("preresnetbc14b") == "resnet"
    assert qed.family("mobilenetv3_small_w7d20") == "mobilenet_v3"
    assert qed.family("fdmobilenet_wd4") == qed.family("mobilenetb_w1") == "mobilenet_v1"


def test_estimate_serves_the_predictor_cross_validation_judges(models):
    from pytest_tflite_latency.bench import train

    m = models["mobilenetv3_large_w1"]
    profile = load_profile("pixel4-gpu")
    judged = train.predict(qed.model_records([m], "pixel4"), profile)[0]
    served = estimate(qed.GRAPHS / f"{m.name}.tflite", "pixel4-gpu")
    assert served.total_ms == pytest.approx(judged, rel=1e-12)
    assert served.total_ms == pytest.approx(sum(layer.ms for layer in served.layers) + served.overhead_ms)


def test_stock_profiles_estimate_every_shared_model_finite_and_positive(models):
    for phone, spec in qed.PHONES.items():
        for m in list(models.values())[::7]:
            est = estimate(qed.GRAPHS / f"{m.name}.tflite", spec.profile)
            assert math.isfinite(est.total_ms) and est.total_ms > 0, (phone, m.name)
            assert est.interval_ms[0] <= est.total_ms <= est.interval_ms[1]


def test_a_gpus_name_selects_its_phones_stock_profile():
    assert DEFAULT_DEVICE == "pixel4-gpu"
    for gpu, name in GPU_ALIASES.items():
        assert load_profile(gpu).name == name
        assert load_profile(gpu.upper()).name == name


def test_stock_profiles_state_their_error_on_unseen_families():
    for spec in qed.PHONES.values():
        p = load_profile(spec.profile)
        held = p.provenance["heldout"]
        assert "families" in held["method"] and held["models"] >= 60
        assert {"within_10pct", "within_25pct", "mape_pct", "interval_coverage_pct"} <= set(held)
        assert held["floor"]["models"] == held["models"]
        assert p.device.gpu and p.device.model_precision == "float32"


def test_nnmeter_profiles_state_their_error_on_real_networks():
    for name in ("nnmeter-adreno640", "nnmeter-adreno630", "nnmeter-cortexa76"):
        real = load_profile(name).provenance["real_networks"]
        assert real["models"] >= 60 and real["mape_pct"] >= 0


def test_kernels_beyond_the_data_scale_with_their_work_and_widen_the_interval():
    from pytest_tflite_latency.bench.writer import ModelWriter

    def conv(size: int) -> bytes:
        m = ModelWriter(fill="zeros")
        return m.to_bytes([m.conv2d(m.input((1, size, size, 64)), 64, 3, activation="relu")])

    small, large, huge = (estimate(conv(s)) for s in (224, 448, 896))  # FLOPs ×4 at each step
    assert large.total_ms / small.total_ms > 2.5 and huge.total_ms / large.total_ms > 2.5
    assert not any("outside" in w for w in small.warnings)
    assert any("more than 2× the FLOPs or bytes of the largest it trained on" in w for w in huge.warnings)
    width = lambda e: (e.interval_ms[1] - e.interval_ms[0]) / e.total_ms  # noqa: E731
    assert width(huge) > 2 * width(small)
