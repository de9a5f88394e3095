"""The CPU profiles' training side: device names, core sets, the int8 twin of a float graph, the base fit."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench import cpu_profiles, train
from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.features import FEATURES, REFERENCE_CONV, featurize
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.profile import roofline
from pytest_tflite_latency.estimator.xnnpack import BACKEND


@pytest.mark.parametrize(("phone", "precision", "cores", "name"), [
    ("pixel4", "float", "1large", "pixel4-cpu"), ("pixel4", "quant", "1large", "pixel4-cpu-int8"),
    ("s10", "float", "2med", "galaxys10-cpu-2med"), ("a03s", "quant", "4small", "galaxya03s-cpu-int8-4small")])
def test_profile_names_read_phone_precision_and_core_set(phone, precision, cores, name):
    assert cpu_profiles.profile_name(phone, precision, cores) == name


def test_core_sets_are_described_in_words():
    assert cpu_profiles.describe_cores("1large") == "one big core"
    assert cpu_profiles.describe_cores("1large2med") == "one big core + two mid cores"


@pytest.mark.skipif(not (cpu_profiles.qed.QED_DIR / "models.csv").is_file(), reason="shared data not present")
def test_core_sets_of_a_phone_start_with_the_default():
    sets = cpu_profiles.core_sets("pixel4")
    assert sets[0] == cpu_profiles.DEFAULT_CORES and "2med" in sets and "gpu" not in sets


def test_int8_twin_has_the_kernel_features_of_every_tensorflow_converted_int8_graph():
    agreement = cpu_profiles.int8_agreement()
    assert len(agreement) >= 2
    assert all(difference <= 1e-9 for _, difference in agreement), agreement


@pytest.mark.skipif(not (cpu_profiles.qed.QED_DIR / "models.csv").is_file(), reason="shared data not present")
def test_default_build_is_one_big_core_and_all_cores_adds_every_measured_core_set():
    default = cpu_profiles.wanted(None, all_cores=False)
    assert {cores for _, _, cores in default} == {"1large"} and len(default) == 12
    every = cpu_profiles.wanted(None, all_cores=True)
    assert ("pixel4", "quant", "2med") in every and ("iphone7", "float", "2large") in every
    assert cpu_profiles.wanted(["pixel4-cpu-2med"], all_cores=False) == [("pixel4", "float", "2med")]


def _grouped_model(width: int, groups: int, dense: int) -> np.ndarray:
    """Features of a model with ``dense`` dense 3×3 convolutions and one grouped one."""
    m = ModelWriter()
    x = m.input((1, 14, 14, width))
    for _ in range(dense):
        x = m.conv2d(x, width, 3)
    weights = m.const(np.zeros((width, 3, 3, width // groups), np.float32))
    y = m.op("CONV_2D", [x, weights, m.const(np.zeros(width, np.float32))], [(1, 14, 14, width)], dict(
        Padding=0, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1, FusedActivationFunction=0))[0]
    return featurize(group_kernels(load_graph(m.to_bytes([y])), BACKEND).kernels, BACKEND)


@pytest.mark.parametrize("per_kind", [False, True])
def test_cpu_base_recovers_the_reference_convolution_cost_whole_models_were_timed_with(per_kind):
    truth = {"launch_ms": cpu_profiles.LAUNCH_MS, "ms_per_flop": 2e-8, "ms_per_byte": 0.0,
             "relative_flop_cost": {**train.RELATIVE_FLOP_COST, REFERENCE_CONV: 15.0}}
    shapes = [(16, 16, 1), (32, 4, 2), (64, 64, 1), (32, 32, 3), (48, 6, 2), (64, 8, 4)]
    records = []
    for i, (width, groups, dense) in enumerate(shapes):
        X = _grouped_model(width, groups, dense)
        records.append(Record(f"m{i}", X, float(roofline(X, FEATURES, truth).sum()), np.ones(len(X), bool)))
    base = cpu_profiles.cpu_base(records, per_kind=per_kind)
    assert base["relative_flop_cost"][REFERENCE_CONV] / base["relative_flop_cost"]["conv"] == \
        pytest.approx(15.0, rel=1e-3)
    predicted = [roofline(r.X, FEATURES, base).sum() for r in records]
    assert predicted == pytest.approx([r.y_ms for r in records], rel=1e-3)


def test_cpu_base_without_grouped_convolutions_keeps_the_reference_prior():
    X = _grouped_model(16, 1, 2)  # "groups" of 1: every convolution dense
    records = [Record("dense", X, 1.0, np.ones(len(X), bool)), Record("dense2", X[:2], 0.7, np.ones(2, bool))]
    assert cpu_profiles.cpu_base(records)["relative_flop_cost"][REFERENCE_CONV] == cpu_profiles.REFERENCE_PRIOR


def test_cpu_base_charges_no_fitted_cost_per_kernel_when_times_grow_with_kernel_count():
    """Models whose times carry 0.2 ms a kernel beyond their FLOPs: the base keeps its fixed per-kernel
    cost and prices the work by FLOPs and bytes only, leaving the rest to the trees."""
    records = []
    for i, (width, dense) in enumerate([(16, 1), (16, 4), (32, 2), (64, 1), (64, 6)]):
        X = _grouped_model(width, 1, dense)
        flops = X[:, FEATURES.index("flops")].sum()
        records.append(Record(f"m{i}", X, 2e-8 * flops + 0.2 * len(X), np.ones(len(X), bool)))
    base = cpu_profiles.cpu_base(records)
    assert base["launch_ms"] == cpu_profiles.LAUNCH_MS
    assert base["ms_per_flop"] > 0 and base["ms_per_byte"] >= 0
