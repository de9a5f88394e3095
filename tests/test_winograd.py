"""The GPU delegate's Winograd 4×4→6×6 convolutions: which kernels its rule selects (feature
``winograd``), how a profile whose GPU takes that path prices them, and profiles and stored feature
rows from before the column existed."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.devices import PHONES
from pytest_tflite_latency.estimator.errors import ProfileError
from pytest_tflite_latency.estimator.features import FEATURES, current_rows, featurize, winograd_rule
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.pipeline import estimate
from pytest_tflite_latency.estimator.profile import DeviceProfile, load_profile

WINOGRAD = FEATURES.index("winograd")


def conv_model(size=(16, 32), channels_in=64, filters=64, kernel=3, stride=1, dilation=1) -> bytes:
    m = ModelWriter()
    x = m.input((1, *size, channels_in))
    return m.to_bytes([m.conv2d(x, filters, kernel, stride=stride, dilation=dilation)])


def conv_row(**shape) -> np.ndarray:
    (k,) = group_kernels(load_graph(conv_model(**shape)), "gpu").kernels
    return featurize([k], "gpu")[0]


def test_a_3x3_stride_1_conv_of_64_channels_and_exactly_32_tiles_meets_the_winograd_rule():
    assert conv_row()[WINOGRAD] == 1.0  # 16×32 output: 4 × 8 tiles of 4×4


def test_the_rule_counts_slices_of_four_channels_so_61_channels_meet_it():
    """The delegate compares slices (⌈channels / 4⌉ ≥ 16), not channels."""
    assert conv_row(channels_in=61, filters=61)[WINOGRAD] == 1.0


@pytest.mark.parametrize("shape", [
    {"channels_in": 60}, {"filters": 60}, {"size": (16, 28)}, {"size": (8, 8)}, {"stride": 2},
    {"kernel": 5}, {"kernel": 1}, {"dilation": 2},
], ids=["15-slices-in", "15-slices-out", "28-tiles", "4-tiles", "stride-2", "5x5", "1x1", "dilation-2"])
def test_a_conv_just_outside_the_winograd_rule_does_not_get_the_flag(shape):
    assert conv_row(**shape)[WINOGRAD] == 0.0


def test_the_flag_is_derived_from_the_other_columns_alone():
    rows = np.array([conv_row(), conv_row(channels_in=60), conv_row(stride=2)])
    assert winograd_rule(rows).tolist() == [1.0, 0.0, 0.0]


def test_feature_rows_stored_before_the_winograd_column_are_completed_from_their_own_columns():
    rows = np.array([conv_row(), conv_row(size=(16, 28))])
    completed = current_rows(rows[:, :WINOGRAD].tolist())  # as the measurement database stored them
    assert completed.shape == rows.shape
    np.testing.assert_allclose(completed, rows, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        current_rows(rows[:, :-3])


@pytest.mark.parametrize("phone", PHONES, ids=lambda p: p.profile)
def test_a_bundled_gpu_profile_prices_winograd_exactly_when_its_vendor_runs_it(phone):
    base = load_profile(phone.profile).base
    assert base.winograd is phone.winograd and (base.winograd_kernels is not None) is phone.winograd
    assert phone.winograd is (phone.vendor != "qualcomm")


def test_a_winograd_gpu_prices_an_eligible_conv_below_a_direct_convs_base_and_others_the_same():
    """Both ways a Winograd profile prices them: the prior (Winograd work on the conv coefficients) and
    the served profile's own coefficients, fitted on its measured Winograd kernels."""
    profile = load_profile("galaxys10-gpu")
    direct = replace(profile, base=replace(profile.base, winograd=False, winograd_kernels=None))
    prior = replace(profile, base=replace(profile.base, winograd=True, winograd_kernels=None))
    eligible, outside = conv_row()[None, :], conv_row(channels_in=60)[None, :]
    for winograd in (prior, profile):
        assert winograd.base_ms(eligible)[0] < direct.base_ms(eligible)[0]
        assert winograd.base_ms(outside)[0] == pytest.approx(direct.base_ms(outside)[0], rel=1e-12)


def test_the_winograd_flag_round_trips_through_the_profile_json_and_is_absent_when_off():
    profile = load_profile("galaxys10-gpu")
    on = json.loads(json.dumps(replace(profile, base=replace(profile.base, winograd=True)).to_dict()))
    off = json.loads(json.dumps(replace(profile, base=replace(profile.base, winograd=False)).to_dict()))
    assert on["base"]["winograd"] is True and "winograd" not in off["base"]
    assert DeviceProfile.from_dict(on).base.winograd and not DeviceProfile.from_dict(off).base.winograd


def test_a_winograd_flag_that_is_not_true_or_false_is_refused_with_one_line():
    d = load_profile("galaxys10-gpu").to_dict()
    d["base"]["winograd"] = "yes"
    with pytest.raises(ProfileError, match=r"base\.winograd must be true or false"):
        DeviceProfile.from_dict(d, "team.json")


def test_a_profile_saved_before_the_winograd_column_loads_and_prices_convs_directly():
    """A team's calibrated profile from an older version: one feature fewer, no flag in its base."""
    current = replace(load_profile("galaxys10-gpu"), correction=None)
    old = current.to_dict()
    old["features"] = old["features"][:WINOGRAD]
    old["base"].pop("winograd", None)
    old["base"].pop("winograd_kernels", None)
    loaded = DeviceProfile.from_dict(json.loads(json.dumps(old)), "old.json")
    assert loaded.features == FEATURES[:WINOGRAD] and not loaded.base.winograd
    direct = replace(current, base=replace(current.base, winograd=False, winograd_kernels=None))
    model = conv_model()
    assert estimate(model, loaded).total_ms == pytest.approx(estimate(model, direct).total_ms, rel=1e-9)
    assert estimate(model, loaded).total_ms > 0


def test_a_profile_with_features_of_no_known_version_is_refused():
    d = load_profile("galaxys10-gpu").to_dict()
    d["features"] = d["features"][:-2]
    with pytest.raises(ProfileError, match="features are not"):
        DeviceProfile.from_dict(d, "team.json")


def test_a_profile_calibrated_from_a_winograd_source_serves_what_the_calibration_fitted():
    """Whole-model calibration scales the source's Winograd coefficients with its conv group."""
    from pytest_tflite_latency.bench import calibrate
    from pytest_tflite_latency.bench.dataset import Record, model_features
    from pytest_tflite_latency.bench.train import predict

    source = load_profile("galaxys10-gpu")
    assert source.base.winograd_kernels is not None
    records = []
    for i, height in enumerate((16, 20, 24, 32, 40, 48, 64, 8)):
        m = ModelWriter()
        x = m.conv2d(m.input((1, height, 32, 64)), 64, 3)  # the rule holds from 16 rows (32 tiles)
        X, learned = model_features(m.to_bytes([m.conv2d(x, 32 * (i % 3 + 1), 1)]), "gpu")
        y = 2.0 * predict([Record(f"net{i}", X, 1.0, learned)], source)[0] * (1 + 0.1 * (i % 2))
        records.append(Record(f"net{i}", X, y, learned))
    assert sum(r.X[:, WINOGRAD].sum() for r in records) == 7
    result = calibrate.calibrate_from([source], records, "new-phone")
    c = np.array(list(result.profile.provenance["calibration"]["scales"].values()))  # as stated: 4 decimals
    assert predict(records, result.profile) == pytest.approx(calibrate.parts(source, records) @ c, rel=1e-4)


def test_a_measurement_database_written_before_the_winograd_column_reads_back_with_the_flag(tmp_path):
    from pytest_tflite_latency.bench.db import Database
    from pytest_tflite_latency.measurement import Measurement

    rows = np.array([conv_row(), conv_row(stride=2)])
    old = rows[:, :WINOGRAD]  # what an older version stored
    with Database(tmp_path / "m.sqlite") as db:
        device = db.device("phone", "adb", "gpu", "benchmark_model", "2.16")
        model = db.model("sha", "model", "model", {}, "net", {"gpu": (old, np.ones(2, bool)),
                                                              "cpu": (old, np.ones(2, bool))})
        db.record(device, model, Measurement(2.0, 0.1, 3, (2.0, 2.0, 2.0)))
        (record,) = db.records("phone")
    assert record.X.shape == rows.shape and record.X[:, WINOGRAD].tolist() == [1.0, 0.0]


def test_the_trainer_gives_winograd_kernels_the_conv_coefficients_times_how_much_faster_they_measured():
    from pytest_tflite_latency.bench import train
    from pytest_tflite_latency.estimator.profile import roofline

    X = np.array([conv_row(), conv_row(size=(32, 32)), conv_row(channels_in=60), conv_row(kernel=1)])
    conv = {"launch_ms": 0.01, "ms_per_flop": 2e-9, "ms_per_byte": 3e-8}
    base = {**conv, "relative_flop_cost": {}, "per_kind": {"conv": conv}}
    y = roofline(X, FEATURES, base) * np.where(X[:, WINOGRAD] > 0, 0.5, 1.0)  # twice a direct conv's speed
    own = train.winograd_kernels(X, y, base)["winograd_kernels"]
    assert own == pytest.approx({k: 0.5 * v for k, v in conv.items()}, rel=1e-9)
    assert train.winograd_kernels(X[2:], y[2:], base) == {}  # none measured: the prior prices them
    assert train.fit_kind_base(X[2:], y[2:], winograd=True)["winograd"] is True
