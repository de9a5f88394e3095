"""``--on-device``: the plugin against Debian's real adb server and the emulated phone over TCP."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from pytest_tflite_latency.estimator import DEFAULT_DEVICE

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, nb201_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "net.tflite").symlink_to(nb201_path)
    shutil.copyfile(nb201_path, pytester.path / "models" / "other.tflite")  # a file of its own
    return pytester


def budgets(pytester, text: str) -> None:
    (pytester.path / "latency-budgets.yaml").write_text(text)


def test_on_device_without_a_phone_still_holds_the_estimate_to_the_budget(project, no_adb_server):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n"
                     "  - model: models/other.tflite\n    max_ms: 1\n")
    r = project.runpytest("--on-device")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*--on-device: adb server not reachable*budgets hold the estimates only*"])
    r.stdout.fnmatch_lines([f"*models/other.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 1.00 ms budget*"])


def test_quiet_run_still_says_once_that_no_phone_was_found(project, no_adb_server):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device", "-q")
    r.assert_outcomes(passed=1)
    assert r.stdout.str().count("budgets hold the estimates only") == 1


def test_on_device_is_a_flag_that_leaves_the_next_argument_a_path(project, no_adb_server):
    (project.path / "tests").mkdir()
    (project.path / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    r = project.runpytest("--on-device", "tests")
    r.assert_outcomes(passed=1)


def test_on_device_required_without_a_phone_is_one_usage_error(project, no_adb_server):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device-required")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--on-device-required: adb server not reachable*"])
    assert "Error" not in r.stderr.str().replace("UsageError", "")


@pytest.fixture
def adb_port(monkeypatch, tmp_path) -> int:
    """A free port for an adb server the session starts itself (Debian's adb package)."""
    import shutil

    if not shutil.which("adb"):
        pytest.skip("the adb server is not installed (Debian package 'adb')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("ADBUTILS_ADB_PATH", shutil.which("adb"))
    monkeypatch.setenv("HOME", str(tmp_path))  # the server's key and logs
    return port


def _no_server_on(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_on_device_starts_a_missing_adb_server_says_so_and_stops_it(project, adb_port):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device")
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["*--on-device: started an adb server (stopped at the end of the session); "
                            "no Android device attached*"])
    assert _no_server_on(adb_port), "the adb server the session started still runs"


@pytest.mark.parametrize("args", [["--on-device-required"], ["--device-serial", "emulator-5554"]])
def test_a_phone_that_cannot_be_used_leaves_no_adb_server_the_session_started(project, adb_port, args):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest(*args)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert _no_server_on(adb_port), "the adb server the session started still runs after its usage error"


def test_device_serial_that_is_not_attached_is_a_usage_error(project, phone_factory):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--device-serial", "emulator-5554")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*--device-serial emulator-5554: device 'emulator-5554' is not attached "
                            f"(adb devices: {phone.serial})*"])


def test_on_device_with_several_phones_says_which_one_it_uses(project, phone_factory, benchmark_binary):
    first, second = phone_factory(), phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary))
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["*--on-device: measuring on 127.0.0.1:*, the first of 2 attached*"
                            "name one with --device-serial SERIAL*"])
    assert first.benchmarks + second.benchmarks == 1


def test_missing_benchmark_binary_hint_names_the_plugin_option(project, phone_factory):
    phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*no benchmark_model at /data/local/tmp/benchmark_model; "
                            "pass --latency-benchmark-binary*"])


def test_on_device_holds_the_measurement_to_the_budget(project, phone_factory, benchmark_binary):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--device-serial", phone.serial, "--latency-benchmark-binary", str(benchmark_binary),
                          "--latency-report", "r.json")
    r.assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert res["measured_ms"] > 0 and res["compared_ms"] == res["measured_ms"]
    r.stdout.fnmatch_lines(["*models/net.tflite*pixel4-gpu*ms phone*ok"])
    assert phone.benchmarks == 1 and not any(phone.path("/data/local/tmp").iterdir())


def test_on_device_summary_shows_estimate_beside_measured(project, phone_factory, benchmark_binary):
    phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary))
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["on the phone, estimate vs measured:",
                            "  models/net.tflite on pixel4-gpu:",
                            "    measured *, estimated * ms, 90% interval *: *side"])


def test_on_device_report_counts_each_phones_measurements_outside_the_interval(project, phone_factory,
                                                                              benchmark_binary):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary),
                      "--latency-report", "r.json").assert_outcomes(passed=1)
    report = json.loads((project.path / "r.json").read_text())
    (res,) = report["results"]
    lo, hi = res["interval_ms"]
    (drift,) = report["phones"]
    assert (drift["serial"], drift["device"], drift["measured"]) == (phone.serial, "pixel4-gpu", 1)
    assert drift["outside"] == int(not lo <= res["measured_ms"] <= hi) and drift["recalibrate"] is False


def test_on_device_writes_the_measurements_file_calibrate_reads(project, phone_factory, benchmark_binary, nb201_path):
    import hashlib

    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    devices: [pixel4-gpu, nnmeter-adreno630]\n"
                     "    max_ms: 1000\n")
    project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary),
                      "--latency-measurements", "out/measured.json").assert_outcomes(passed=2)
    data = json.loads((project.path / "out" / "measured.json").read_text())
    assert data["format"] == "tflite-latency-measurements/1"
    first = data["measurements"][0]
    assert len(data["measurements"]) == 2 and first["serial"] == phone.serial
    assert first["phone"] == "EmulatedPhone" and first["delegate"] == "gpu" and first["count"] > 0
    assert first["model_sha256"] == hashlib.sha256(nb201_path.read_bytes()).hexdigest()
    assert first["interval_ms"][0] < first["estimate_ms"] < first["interval_ms"][1] and first["mean_ms"] > 0


def test_on_device_measurement_over_budget_fails(project, phone_factory, benchmark_binary):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 0.001\n")
    r = project.runpytest("--on-device-required", "--latency-benchmark-binary", str(benchmark_binary))
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*measured * ms on the phone (estimated * ms) exceeds the 0.00 ms budget*"])
    assert phone.benchmarks == 1


def test_phone_crash_fails_the_item_with_one_line(project, phone_factory, benchmark_binary):
    phone_factory("crash")
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary),
                          "--latency-report", "r.json")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*benchmark_model exited with 139*Segmentation fault*"])
    assert "Traceback" not in r.stdout.str()
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert "exited with 139" in res["error"] and not res["passed"]


def test_on_device_under_xdist_workers_keep_their_own_files(project, phone_factory, benchmark_binary):
    pytest.importorskip("xdist")
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    devices: [adreno640, nnmeter-adreno630]\n"
                     "    max_ms: 100000\n")
    r = project.runpytest("-n", "2", "--device-serial", phone.serial, "--latency-benchmark-binary",
                          str(benchmark_binary), "--latency-report", "r.json")
    r.assert_outcomes(passed=4)
    results = json.loads((project.path / "r.json").read_text())["results"]
    assert all(res["measured_ms"] > 0 for res in results)
    assert phone.benchmarks == 4 and not any(phone.path("/data/local/tmp").iterdir())


def test_on_device_measures_a_cpu_budget_on_the_phones_cpu_with_one_thread(project, phone_factory, benchmark_binary):
    """A CPU profile's budget is held to the CPU's time (XNNPACK, one thread, as the profile measured),
    not to the GPU delegate's; a GPU profile's in the same run still to the GPU delegate's."""
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    devices: [pixel4-cpu, pixel4-gpu]\n"
                     "    max_ms: 1000\n")
    project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary),
                      "--latency-measurements", "measured.json").assert_outcomes(passed=2)
    by_gpu = {o["use_gpu"]: o for o in phone.benchmark_options}
    assert set(by_gpu) == {"true", "false"} and by_gpu["false"].get("num_threads") == "1"
    records = json.loads((project.path / "measured.json").read_text())["measurements"]
    assert sorted((r["device"], r["delegate"]) for r in records) == [("pixel4-cpu", "cpu"), ("pixel4-gpu", "gpu")]
