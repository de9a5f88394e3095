"""The CPU profiles' training side: device names, core sets, the int8 twin of a float graph, the base fit."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench import cpu_profiles, train
from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.features import FEATURES, REFERENCE_CONV, featurize, reference_conv_work
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.profile import roofline, roofline_terms
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


def test_held_inside_judges_each_family_by_the_interval_calibrated_on_the_others():
    errors = np.array([-0.05, 0.05, -0.05, 0.05, 0.30, 0.0])
    families = ["a", "a", "b", "b", "c", "c"]
    inside = cpu_profiles.held_inside(errors, families, (0.0, 1.0))
    # c's +30% lies outside the range of a's and b's errors, its 0% inside; a and b inside the others' range
    assert inside.tolist() == [True, True, True, True, False, True]


def _model(name: str, family: str, transformer: bool) -> cpu_profiles.CpuModel:
    X = _grouped_model(16, 1, 1)
    return cpu_profiles.CpuModel(name, family, 1000, X, {"pixel4|1large": 1.0}, transformer=transformer)


def test_heldout_figures_state_the_cnns_apart_from_the_vits_they_trained_with():
    models = [_model("c1", "resnet", False), _model("c2", "resnet", False), _model("c3", "squeezenet", False),
              _model("v1", "deit", True), _model("v2", "swin", True)]
    errors = np.array([0.05, -0.20, 0.01, 0.12, -0.30])
    ev = cpu_profiles.Evaluation("pixel4-cpu", errors, np.zeros(5), (0.0, 1.0),
                                 cpu_profiles.held_inside(errors, [m.family for m in models], (0.0, 1.0)),
                                 np.array([m.transformer for m in models]))
    heldout = cpu_profiles.heldout_figures(ev, models)
    assert heldout["models"] == 3 and heldout["within_10pct"] == pytest.approx(200 / 3, abs=0.1)
    vit = heldout["vit"]
    assert vit["models"] == 2 and vit["within_15pct"] == pytest.approx(50.0)
    assert set(vit["by_family"]) == {"deit", "swin"} and vit["by_family"]["swin"]["within_15pct"] == 0.0
    assert "over 4 families" in heldout["method"] and "the 3 CNNs'" in heldout["method"]


def test_the_family_line_gives_each_familys_median_error_and_its_models_within_their_tolerance():
    models = [_model("c1", "resnet", False), _model("c2", "resnet", False), _model("c3", "squeezenet", False),
              _model("v1", "swin", True)]
    errors = np.array([0.05, -0.20, 0.09, 0.12])
    ev = cpu_profiles.Evaluation("pixel4-cpu", errors, np.zeros(4), (0.0, 1.0), np.ones(4, bool),
                                 np.array([m.transformer for m in models]))
    line = cpu_profiles.family_line(ev, models)
    assert line.endswith("resnet -8% (1/2), squeezenet +9% (1/1), swin +12% (1/1)"), line


def test_heldout_figures_of_a_profile_without_vits_have_no_vit_part():
    models = [_model("c1", "resnet", False), _model("c2", "squeezenet", False)]
    errors = np.array([0.05, -0.02])
    ev = cpu_profiles.Evaluation("pixel4-cpu", errors, np.zeros(2), (0.0, 1.0), np.ones(2, bool), np.zeros(2, bool))
    assert "vit" not in cpu_profiles.heldout_figures(ev, models)


@pytest.mark.skipif(not (cpu_profiles.VIT_DIR / "models.csv").is_file(), reason="shared ViT data not present")
def test_vits_join_the_float_training_set_as_transformers_of_their_own_families():
    vits = cpu_profiles.load_vits("float")
    assert vits and all(m.transformer for m in vits)
    assert {m.family for m in vits} <= {"cvt", "deit", "mit", "swin"}
    assert cpu_profiles.TRAIN_ON_VITS["float"]
    assert all("pixel4|1large" in m.ms for m in vits)


def _five_grouped_models() -> list[Record]:
    """Five whole models of dense and grouped 3×3 convolutions, timed 0.05 ms a kernel times their rank."""
    records = []
    for i, (width, groups, dense) in enumerate([(16, 16, 1), (32, 4, 2), (64, 64, 1), (32, 32, 3), (48, 6, 2)]):
        X = _grouped_model(width, groups, dense)
        records.append(Record(f"m{i}", X, 0.05 * (i + 1) * len(X), np.ones(len(X), bool)))
    return records


def test_kernel_latencies_solved_per_base_cost_match_the_trainers_own_solution():
    records = _five_grouped_models()
    base = cpu_profiles.cpu_base(records)
    configs, latency, counts = cpu_profiles.kernel_latencies(records, base)
    expected = train.kernel_latencies(records, base)
    assert np.array_equal(configs, expected[0]) and np.array_equal(counts, expected[2])
    assert latency == pytest.approx(expected[1], rel=1e-3)


def test_a_weaker_solver_pull_lets_kernel_latencies_leave_the_base_to_explain_the_whole_models():
    records = _five_grouped_models()
    base = cpu_profiles.cpu_base(records)
    X, owner = train._learned(records)
    y = np.array([r.y_ms for r in records])

    def solved(pull: float) -> tuple[float, float]:
        """(largest relative miss of a whole model, largest |log(latency / base)|) of the solution."""
        configs, latency, _ = cpu_profiles.kernel_latencies(records, base, pull)
        index = [int(np.flatnonzero((configs == row).all(axis=1))[0]) for row in X]
        totals = np.bincount(owner, weights=latency[index], minlength=len(records))
        distance = np.abs(np.log(latency / roofline(configs, FEATURES, base)))
        return float(np.abs(totals / y - 1).max()), float(distance.max())

    weak, strong = solved(0.001), solved(1.0)
    print(f"whole-model miss {weak[0]:.2e} (pull 0.001) vs {strong[0]:.2e} (pull 1); "
          f"largest log distance from the base {weak[1]:.3f} vs {strong[1]:.3f}")
    assert weak[0] < strong[0] and weak[1] > strong[1]
    assert cpu_profiles.SETTINGS["quant"].pull < cpu_profiles.SETTINGS["float"].pull == train.PRIOR_PULL


def test_only_the_dense_convolutions_no_cnn_has_are_kept_from_the_trees():
    cnn = _grouped_model(16, 1, 2)  # dense 3×3 convolutions of 16 channels
    vit = np.vstack([cnn[:1], _grouped_model(32, 4, 1)])  # one of the CNN's, then 32-channel ones of its own
    models = [cpu_profiles.CpuModel("cnn", "resnet", 1, cnn, {"pixel4|1large": 1.0}),
              cpu_profiles.CpuModel("vit", "mit", 1, vit, {"pixel4|1large": 2.0}, transformer=True)]
    configs = np.unique(np.vstack([cnn, vit]), axis=0)
    kept_out = cpu_profiles.vit_only_convolutions(models, configs)
    in_cnn = np.array([any(np.array_equal(c, row) for row in cnn) for c in configs])
    conv, grouped = configs[:, FEATURES.index("kind_conv")] > 0, configs[:, FEATURES.index("groups")] > 1
    assert kept_out.any() and not (kept_out & in_cnn).any()
    assert (conv & grouped & ~in_cnn).any() and not (kept_out & grouped).any()  # the ViT's grouped one stays
    assert (kept_out == (~in_cnn & conv & ~grouped)).all()
    trained = cpu_profiles.fit(models, "pixel4|1large")
    assert trained.correction is not None


def test_roofline_terms_count_a_grouped_convolutions_reference_work_only_for_a_cpu_base():
    X = _grouped_model(32, 4, 1)  # one dense 3×3 convolution, then one in 4 groups
    grouped, reference_work = reference_conv_work(X, FEATURES)
    assert grouped.tolist() == [False, True]
    _, plain, _ = roofline_terms(X, FEATURES, winograd=False)
    _, cpu, _ = roofline_terms(X, FEATURES, winograd=False, reference=True)
    assert cpu[0] == pytest.approx(plain[0], rel=1e-12) and cpu[1] == pytest.approx(reference_work[1], rel=1e-12)
    assert cpu[1] > plain[1]  # the window taps' cost on top of the FLOPs
    base = {"launch_ms": 0.0, "ms_per_flop": 1e-9, "ms_per_byte": 0.0,
            "relative_flop_cost": {**train.RELATIVE_FLOP_COST, REFERENCE_CONV: 20.0}}
    assert roofline(X, FEATURES, base) == pytest.approx([1e-9 * plain[0], 20e-9 * reference_work[1]], rel=1e-12)
