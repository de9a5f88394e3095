"""`CheckRecord` (the verdict, defined once, and its transport) and the summary's recalibration flag."""

from __future__ import annotations

import json

import pytest

from pytest_tflite_latency.records import CheckRecord, PhoneMeasurement
from pytest_tflite_latency.summary import drift_lines, phone_drift, terminal_lines


def record(**kw) -> CheckRecord:
    base = dict(model="m.tflite", device="pixel4-gpu", max_ms=10.0, estimate_ms=5.0, interval_ms=(4.0, 6.0),
                coverage=0.9, regression_limit_pct=5.0)
    return CheckRecord(**{**base, **kw})


@pytest.mark.parametrize("kw,verdict", [
    ({}, "ok"),
    ({"max_ms": 4.0}, "OVER"),
    ({"policy": "upper", "max_ms": 5.5}, "OVER"),
    ({"baseline_ms": 4.0}, "REGRESSED"),
    ({"max_ms": 4.0, "baseline_ms": 4.0}, "OVER"),
    ({"measured_ms": 12.0}, "OVER"),
    ({"margin_pct": 60.0}, "OVER"),
    ({"error": "m.tflite: no such file", "estimate_ms": None, "interval_ms": None}, "ERROR"),
])
def test_verdict_of_each_way_a_check_ends(kw, verdict):
    assert record(**kw).verdict == verdict


def test_record_survives_json_transport_unchanged():
    m = PhoneMeasurement("Pixel 8", "abc", "Mali-G715", "benchmark_model", "gpu", {"use_gpu": True}, 5.5, 0.2, 50, "00")
    original = record(measured_ms=5.5, measurement=m, warnings=["w"], layers=[{"index": 0, "ms": 5.0}])
    back = CheckRecord.from_dict(json.loads(json.dumps(original.to_dict())))
    assert back == original and back.verdict == original.verdict


def test_headline_states_figure_budget_and_overshoot():
    assert record(estimate_ms=20.5, interval_ms=(18.0, 23.0), max_ms=5.0).headline() == \
        "m.tflite on pixel4-gpu: 20.5 ms > 5 ms budget (+310%)"


def test_interval_label_comes_from_the_profiles_coverage():
    assert "80% interval" in record(coverage=0.8).what()


def _measured(ms: float) -> CheckRecord:
    m = PhoneMeasurement("Pixel 8", "abc", None, "benchmark_model", "gpu", {}, ms, None, 50, "00")
    return record(measured_ms=ms, measurement=m)


def test_drift_flags_a_phone_with_many_measurements_outside_the_interval():
    records = [_measured(9.0)] * 4 + [_measured(5.0)] * 2
    assert drift_lines(records) == ["Pixel 8 (abc) against pixel4-gpu: recalibrate: 4 of 6 measured outside the "
                                    "interval (a 90% interval leaves out about 10%)"]
    (drift,) = phone_drift(records)
    assert drift["drifted"] is True and drift["recalibrate"] is True  # a GPU profile: calibrate mends it


def test_drift_lets_one_miss_in_six_pass_as_the_interval_allows():
    assert drift_lines([_measured(9.0)] + [_measured(5.0)] * 5) == []


def test_terminal_lines_fit_the_width_given():
    long = record(model="models/" + "x" * 120 + ".tflite", test="tests/test_" + "y" * 100 + ".py::test_z")
    assert max(len(line) for line in terminal_lines([long, record()], width=80)) <= 80


@pytest.mark.parametrize("text,gpu", [
    ("Display 0\nGLES: ARM, Mali-G715, OpenGL ES 3.2 v1.r38p1\nmore", "Mali-G715"),
    ("GLES: Qualcomm, Adreno (TM) 640, OpenGL ES 3.2 V@415.0", "Adreno (TM) 640"),
    ("GLES: Samsung Electronics Co., Ltd., ANGLE (Samsung Xclipse 920) on Vulkan 1.3.231, OpenGL ES 3.2 ANGLE",
     "ANGLE (Samsung Xclipse 920) on Vulkan 1.3.231"),
    ("GLES: Imagination Technologies, PowerVR Rogue GE8320, OpenGL ES 3.2 build 1.13@5776728", "PowerVR Rogue GE8320"),
    ("/system/bin/sh: dumpsys: not found", None),
])
def test_measurement_names_the_gpu_surfaceflinger_reports(text, gpu):
    from pytest_tflite_latency.device import gpu_from_surfaceflinger

    assert gpu_from_surfaceflinger(text) == gpu


def test_drift_of_a_cpu_profile_does_not_send_the_user_to_calibrate_which_makes_gpu_profiles_only():
    def on_cpu(ms: float) -> CheckRecord:
        m = PhoneMeasurement("Pixel 8", "abc", None, "benchmark_model", "cpu", {"use_gpu": False}, ms, None, 50, "00")
        return record(device="pixel4-cpu", measured_ms=ms, measurement=m)

    records = [on_cpu(9.0)] * 4 + [on_cpu(5.0)] * 2
    (line,) = drift_lines(records)
    assert line.startswith("Pixel 8 (abc) against pixel4-cpu: 4 of 6 measured outside the interval")
    assert "recalibrate" not in line and "calibrate makes GPU profiles only" in line
    (drift,) = phone_drift(records)  # the JSON report's entry: drifted, but not a case for calibrate
    assert drift["drifted"] is True and drift["recalibrate"] is False


def test_each_row_is_listed_under_its_own_test_when_results_arrive_interleaved():
    # as under pytest-xdist: the two tests' results arrive in turn
    arrived = [record(model=f"{t}.tflite", test=f"tests/test_{t}.py::test_it") for t in ("a", "b", "a", "b")]
    lines = terminal_lines(arrived, width=120)
    under = {}
    for line in lines[2:]:
        if line.startswith("tests/"):
            test = line.split("::")[0]
        elif line.startswith("  ") and ".tflite" in line:
            under.setdefault(test, []).append(line.split()[0])
    assert under == {"tests/test_a.py": ["a.tflite"] * 2, "tests/test_b.py": ["b.tflite"] * 2}
