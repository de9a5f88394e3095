"""Measuring over adb: the real adb server, an emulated phone over TCP, and every fault."""

from __future__ import annotations

import pytest
from emulator import run_benchmark
from pytest_tflite_latency.bench import zoo

from pytest_tflite_latency.adb import (
    REMOTE_DIR,
    AdbBenchmark,
    BenchmarkOutputError,
    DeviceError,
    parse_benchmark_output,
)

pytest.importorskip("ai_edge_litert")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "mnv1.tflite"
    path.write_bytes(zoo.build("mobilenet_v1", size=64))
    return path


def test_measures_and_cleans_the_phone(phone_factory, benchmark_binary, model):
    phone = phone_factory()
    with AdbBenchmark(phone.serial, benchmark_binary, runs=5) as bench:
        m = bench.measure(model)
        assert phone.path(f"{REMOTE_DIR}/benchmark_model").is_file()
    assert m.mean_ms > 0 and m.runs == 5 and m.std_ms >= 0
    assert phone.benchmarks == 1
    assert not phone.path(REMOTE_DIR).exists()  # everything pushed was removed


def test_missing_binary_on_the_phone_is_a_clear_error(phone_factory, model):
    phone = phone_factory()
    with pytest.raises(DeviceError, match="no benchmark_model at /data/local/tmp/benchmark_model"), \
            AdbBenchmark(phone.serial):
        pass


@pytest.mark.parametrize("fault,error,message", [
    ("crash", DeviceError, "benchmark_model exited with 139 on mnv1.tflite: Segmentation fault"),
    ("nonsense", BenchmarkOutputError, "printed no 'Inference timings' line"),
    ("disconnect", DeviceError, "failed"),
])
def test_faults_are_one_line_device_errors(phone_factory, benchmark_binary, model, fault, error, message):
    phone = phone_factory(fault)
    with pytest.raises(error) as exc, AdbBenchmark(phone.serial, benchmark_binary, runs=3) as bench:
        bench.measure(model)
    assert message in str(exc.value) and phone.serial in str(exc.value)
    assert "\n" not in str(exc.value)


def test_parser_reads_the_real_tool_format(tmp_path, model):
    text, status = run_benchmark(model, {"graph": "/data/local/tmp/m.tflite", "num_runs": "7"})
    assert status == 0 and "Inference timings in us: Init:" in text
    m = parse_benchmark_output(text)
    assert m.runs == 7 and m.mean_ms > 0


@pytest.mark.parametrize("text", [
    "", "Segmentation fault", "Inference timings in us: Init: 5, First inference: 3, "
    "Warmup (avg): 2, Inference (avg): -4", "Inference timings in us: Inference (avg): nan",
])
def test_parser_rejects_nonsense(text):
    with pytest.raises(BenchmarkOutputError):
        parse_benchmark_output(text)
