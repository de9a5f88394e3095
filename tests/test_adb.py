"""Measuring over adb: the real adb server, an emulated phone over TCP, and every fault."""

from __future__ import annotations

import os
import time

import pytest
from emulator import run_benchmark

from pytest_tflite_latency.adb import (
    REMOTE_DIR,
    AdbBenchmark,
    BenchmarkOutputError,
    DeviceError,
    abandoned,
    kill_server,
    parse_benchmark_output,
    server_running,
    session_dir,
    start_server,
)
from pytest_tflite_latency.bench import zoo

pytest.importorskip("ai_edge_litert")


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "mnv1.tflite"
    path.write_bytes(zoo.build("mobilenet_v1", size=64))
    return path


def test_measure_runs_the_benchmark_once_with_the_runs_asked_for(phone_factory, benchmark_binary, model):
    phone = phone_factory()
    with AdbBenchmark(phone.serial, benchmark_binary, runs=5) as bench:
        m = bench.measure(model)
    assert m.mean_ms > 0 and m.runs == 5 and m.std_ms >= 0
    assert phone.benchmarks == 1


def test_a_session_removes_everything_it_pushed(phone_factory, benchmark_binary, model):
    phone = phone_factory()
    with AdbBenchmark(phone.serial, benchmark_binary, runs=2) as bench:
        bench.measure(model)
        assert phone.path(f"{bench.remote_dir}/benchmark_model").is_file()
    assert not phone.path(REMOTE_DIR).exists()


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


# benchmark_model's output, written from the real tool's format strings (not from this project's emulated
# phone): BenchmarkModel::LogParams, Run and BenchmarkLoggingListener::OnBenchmarkEnd in TensorFlow's
# tensorflow/lite/tools/benchmark/benchmark_model.cc, and the statistics lines of tsl::Stat::OutputToStream
# (tsl/util/stats_calculator.h): "count=N first=F curr=C min=L max=H avg=A std=S", or "count=N curr=C(all same)".
REAL_OUTPUT = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Min num runs: [50]
INFO: Graph: [/data/local/tmp/tflite_latency/3f2a.tflite]
INFO: Use gpu: [1]
INFO: Loaded model /data/local/tmp/tflite_latency/3f2a.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite delegate for GPU.
INFO: GPU delegate created.
INFO: Replacing 65 out of 66 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions.
INFO: The input model file size (MB): 3.57794
INFO: Initialized session in 1243.65ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=38 first=29811 curr=12904 min=12577 max=29811 avg=13299.8 std=2731
INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: {runs}
INFO: Inference timings in us: Init: 1243650, First inference: 29811, Warmup (avg): 13299.8, Inference (avg): {avg}
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the \
actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=53.1758 overall=61.8203
"""


@pytest.mark.parametrize("runs,avg,expected", [
    ("count=77 first=12923 curr=12873 min=12702 max=13560 avg=12961.4 std=152", "12961.4", (12.9614, 0.152, 77)),
    ("count=50 curr=1500(all same)", "1500", (1.5, 0.0, 50)),
    ("count=51 first=1.1e+06 curr=1.2e+06 min=1e+06 max=1.3e+06 avg=1.2e+06 std=50000", "1.2e+06",
     (1200.0, 50.0, 51)),
])
def test_parser_reads_the_real_tools_format(runs, avg, expected):
    m = parse_benchmark_output(REAL_OUTPUT.format(runs=runs, avg=avg))
    assert (round(m.mean_ms, 6), round(m.std_ms, 6), m.runs) == expected


def test_parser_reads_the_emulated_phones_output(model):
    text, status = run_benchmark(model, {"graph": "/data/local/tmp/m.tflite", "num_runs": "7"})
    assert status == 0 and parse_benchmark_output(text).runs == 7


TIMINGS = "Inference timings in us: Init: 5, First inference: 3, Warmup (avg): 2, Inference (avg): {}"


@pytest.mark.parametrize("text", [
    "", "Segmentation fault", TIMINGS.format("-4"), TIMINGS.format("nan"), TIMINGS.format("1.2.3"),
    TIMINGS.format("-"), TIMINGS.format("e"), TIMINGS.format("9" * 5000), TIMINGS.format("0.5"),
    TIMINGS.format("4e9"), "count=" + "9" * 5000 + " first=1 avg=10 std=1\n" + TIMINGS.format("10"),
    "count=5 first=1 avg=10 std=-1\n" + TIMINGS.format("10"),
])
def test_parser_rejects_figures_it_cannot_trust(text):
    with pytest.raises(BenchmarkOutputError):
        parse_benchmark_output(text)


def test_two_sessions_on_one_phone_keep_their_files(phone_factory, benchmark_binary, model):
    phone = phone_factory()
    with AdbBenchmark(phone.serial, benchmark_binary, runs=2) as a:
        with AdbBenchmark(phone.serial, benchmark_binary, runs=2) as b:
            assert a.remote_dir != b.remote_dir
            b.measure(model)
        assert phone.path(f"{a.remote_dir}/benchmark_model").is_file()  # b's exit left a's files alone
        assert a.measure(model).runs == 2
    assert not phone.path(REMOTE_DIR).exists()


def test_what_a_disconnected_session_left_is_removed_by_the_next(phone_factory, benchmark_binary, model):
    phone = phone_factory()
    gone = phone.path(f"{REMOTE_DIR}/{session_dir().split('/')[-1]}".replace(f"-{os.getpid()}-", "-999999999-"))
    old_layout = phone.path(f"{REMOTE_DIR}/0123456789abcdef.tflite")
    for path in (gone / "benchmark_model", old_layout):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left behind")
    with AdbBenchmark(phone.serial, benchmark_binary, runs=2) as bench:
        assert not gone.exists() and not old_layout.exists()
        assert phone.path(bench.remote_dir).is_dir()


def test_abandoned_sessions_are_told_from_live_ones():
    now = time.time()
    mine = session_dir().split("/")[-1]
    other_host = "f" * 8 + mine[8:]
    assert not abandoned(mine, now)
    assert abandoned(mine.replace(f"-{os.getpid()}-", "-999999999-"), now)
    assert not abandoned(other_host, now) and abandoned(other_host, now + 2 * 24 * 3600)
    assert abandoned("benchmark_model", now)


@pytest.mark.parametrize("command", ["cat {up}/outside.txt", "rm -rf {up}/outside.txt",
                                     "ls /data/local/{up}/outside.txt", "mkdir {up}/made"])
def test_emulated_phone_keeps_paths_inside_its_root(phone_factory, tmp_path, command):
    import adbutils

    phone = phone_factory()
    secret = tmp_path / "outside.txt"
    secret.write_text("host file")
    device = adbutils.AdbClient(port=int(os.environ["ANDROID_ADB_SERVER_PORT"])).device(phone.serial)
    up = "../" * 40 + str(tmp_path).lstrip("/")  # the host's tmp_path, were ".." not confined
    out = device.shell2(command.format(up=up))
    assert out.returncode != 0 and "Permission denied" in out.output
    assert secret.read_text() == "host file" and not (tmp_path / "made").exists()
    with pytest.raises(adbutils.AdbError):
        device.sync.push(b"x", f"/{up}/pushed.txt")
    assert not (tmp_path / "pushed.txt").exists()


def _gone_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while server_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not server_running()


def test_start_server_starts_one_where_none_answers(private_adb_port):
    assert not server_running()
    assert start_server() is None
    assert server_running()


def test_kill_server_stops_the_server_it_started(private_adb_port):
    assert start_server() is None
    kill_server()
    assert _gone_within(10)


def test_start_server_without_an_adb_executable_says_why(no_adb_server):
    why = start_server()
    assert why and "\n" not in why
    assert not server_running()
