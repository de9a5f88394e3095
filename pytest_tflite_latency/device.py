"""--on-device: find an attached phone (starting an adb server when none runs) and measure a model on it."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_tflite_latency.adb import (
    AdbBenchmark,
    AdbMissingError,
    DeviceError,
    kill_server,
    list_serials,
    server_running,
    start_server,
)
from pytest_tflite_latency.records import PhoneMeasurement

__all__ = ["DeviceError", "FoundDevice", "find_device", "measure"]
RUNS, WARMUP_RUNS = 50, 5  # benchmark_model's timed and warm-up runs per model
CPU_THREADS = 1  # the bundled CPU profiles time one big core: TensorFlow Lite's default of one thread
# "GLES: <vendor>, <renderer>, OpenGL ES …": the vendor may hold commas ("Samsung Electronics Co., Ltd."),
# so the renderer is the last field before the version.
_GLES = re.compile(r"GLES: ([^\n]*?), OpenGL ES")


@dataclass(frozen=True)
class FoundDevice:
    serial: str | None  # None: no phone; budgets hold the estimates
    note: str  # which phone, or why there is none, for the header
    started_server: bool = False  # this session started the adb server: it stops it at the end


def find_device(wanted: str) -> FoundDevice:
    """The phone to use for ``wanted`` ("auto", "required" or a serial). With no adb server running, one is
    started (and said so). Raises `DeviceError` when the phone asked for cannot be used: a named serial
    that is not attached, none at all with "required", or adbutils not installed."""
    started, why_none = False, "no Android device attached (adb devices is empty)"
    serials: list[str] = []
    try:
        if not server_running():
            problem = start_server()
            if problem is not None:
                raise DeviceError(f"adb server not reachable, and starting one failed: {problem}")
            started = True
        serials = list_serials()
    except AdbMissingError:
        raise
    except DeviceError as exc:
        why_none = str(exc)
    note = "started an adb server (stopped at the end of the session); " if started else ""
    problem = ""
    if wanted not in ("auto", "required") and wanted not in serials:
        problem = f"device {wanted!r} is not attached (adb devices: {', '.join(serials) or 'none'})"
    elif wanted == "required" and not serials:
        problem = why_none
    if problem:  # the session ends here: it leaves no adb server of its own behind
        if started:
            kill_server()
        raise DeviceError(problem)
    if wanted not in ("auto", "required"):
        return FoundDevice(wanted, f"{note}measuring on {wanted}", started)
    if not serials:
        return FoundDevice(None, f"{note}{why_none}; budgets hold the estimates only", started)
    if len(serials) > 1:
        return FoundDevice(serials[0], f"{note}measuring on {serials[0]}, the first of {len(serials)} attached "
                                       f"({', '.join(serials)}); name one with --device-serial SERIAL", started)
    return FoundDevice(serials[0], f"{note}measuring on {serials[0]}", started)


def measure(model: Path, serial: str, benchmark_binary: str | None, on_cpu: bool = False) -> PhoneMeasurement:
    """``model`` measured on the phone, with what the measurement file records about the phone and the
    runtime; pushed files are removed. The GPU delegate on, or with ``on_cpu`` (a CPU profile's check)
    TensorFlow Lite's CPU path (XNNPACK) on `CPU_THREADS` thread, as the CPU profiles were measured."""
    data = Path(model).read_bytes()
    options = {"use_gpu": False, "num_threads": CPU_THREADS} if on_cpu else {"use_gpu": True}
    with AdbBenchmark(serial, benchmark_binary, runs=RUNS, warmup_runs=WARMUP_RUNS,
                      binary_option="--latency-benchmark-binary") as bench:
        m = bench.measure(model, **options)
        phone, gpu = _prop(bench, "ro.product.model"), _gpu(bench)
        binary = f"pushed {Path(benchmark_binary).name}" if benchmark_binary else bench.remote_binary
        runtime = f"benchmark_model ({binary})"
        return PhoneMeasurement(phone=phone or serial, serial=bench.serial, gpu=gpu or None, runtime=runtime,
                           delegate="cpu" if on_cpu else "gpu",
                           delegate_options={**options, "num_runs": RUNS, "warmup_runs": WARMUP_RUNS},
                           mean_ms=m.mean_ms, std_ms=m.std_ms, count=m.runs,
                           model_sha256=hashlib.sha256(data).hexdigest())


def _gpu(bench: AdbBenchmark) -> str | None:
    """The GPU's name as SurfaceFlinger reports it ("GLES: ARM, Mali-G715, OpenGL ES 3.2"); None if unknown."""
    with contextlib.suppress(DeviceError):  # a dropped connection: the GPU is unknown
        return gpu_from_surfaceflinger(str(bench._do("dumpsys", bench.device.shell, "dumpsys SurfaceFlinger")))
    return None


def gpu_from_surfaceflinger(text: str) -> str | None:
    """The renderer of `dumpsys SurfaceFlinger`'s ``GLES: vendor, renderer, version`` line, if it has one."""
    m = _GLES.search(text)
    return m.group(1).rsplit(", ", 1)[-1].strip()[:80] if m else None


def _prop(bench: AdbBenchmark, name: str) -> str:
    """A system property of the phone, "" when it has none or the phone does not answer."""
    with contextlib.suppress(DeviceError):  # a dropped connection: the property is unknown
        return str(bench._do("getprop", bench.device.shell, f"getprop {name}")).strip()[:80]
    return ""
