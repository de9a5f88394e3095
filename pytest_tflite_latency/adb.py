"""Measure models on an Android phone over adb with TFLite's ``benchmark_model``.

Pushes the binary and each model into a private folder under /data/local/tmp, runs the
benchmark (GPU delegate on by default), parses its output, and removes the folder afterwards.
Every fault (no adb server, a phone that disconnects, a binary that crashes or prints nonsense)
becomes a `DeviceError` with one line that says what and where.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

REMOTE_DIR = "/data/local/tmp/tflite_latency"
PREINSTALLED = "/data/local/tmp/benchmark_model"
_TIMINGS = re.compile(r"Inference timings in us:.*?Inference \(avg\): ([0-9.eE+-]+)")
_COUNT = re.compile(r"count=(\d+) .*?avg=([0-9.eE+-]+) std=([0-9.eE+-]+)")


class DeviceError(Exception):
    """Measuring on the phone failed; the message names the device and the step."""


class BenchmarkOutputError(DeviceError):
    """benchmark_model ran but its output holds no usable timing."""


@dataclass(frozen=True)
class Measurement:
    mean_ms: float
    std_ms: float
    runs: int
    repeats_ms: tuple[float, ...] = ()


def _client():
    import adbutils

    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    return adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=30)


def list_serials() -> list[str]:
    """Serials of the attached devices that are online."""
    import adbutils

    try:
        return [d.serial for d in _client().device_list()]
    except (adbutils.AdbError, OSError) as exc:
        raise DeviceError(f"adb server not reachable ({exc})") from None


def parse_benchmark_output(text: str) -> Measurement:
    """The mean (and spread) of the timed runs in ``benchmark_model`` output."""
    m = _TIMINGS.search(text)
    if not m:
        last = next((ln for ln in reversed(text.strip().splitlines()) if ln.strip()), "(no output)")
        raise BenchmarkOutputError(f"benchmark_model printed no 'Inference timings' line; last line: "
                                   f"{last.strip()[:120]!r}")
    mean_us = float(m.group(1))
    counts = _COUNT.findall(text)
    runs, std_us = (int(counts[-1][0]), float(counts[-1][2])) if counts else (0, 0.0)
    if not math.isfinite(mean_us) or mean_us <= 0:
        raise BenchmarkOutputError(f"benchmark_model reported an impossible latency: {m.group(1)} us")
    return Measurement(mean_us / 1000, std_us / 1000, runs)


class AdbBenchmark:
    """``with AdbBenchmark(serial, binary) as b: b.measure(path)`` — cleans the phone on exit."""

    def __init__(self, serial: str | None = None, benchmark_binary: str | os.PathLike | None = None,
                 runs: int = 50, warmup_runs: int = 5, timeout_s: float = 300):
        self.serial, self.binary_path = serial, benchmark_binary
        self.runs, self.warmup_runs, self.timeout_s = runs, warmup_runs, timeout_s
        self.device = None
        self.remote_binary = PREINSTALLED

    def _fail(self, step: str, exc: BaseException) -> DeviceError:
        return DeviceError(f"adb device {self.serial or '(default)'}: {step} failed: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")

    def _do(self, step: str, fn, *args, **kwargs):
        import adbutils

        try:
            return fn(*args, **kwargs)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._fail(step, exc) from None

    def __enter__(self) -> AdbBenchmark:
        client = _client()
        self.device = self._do("connect", client.device, self.serial)
        self.serial = self.device.serial
        self._do("mkdir", self.device.shell, f"mkdir -p {REMOTE_DIR}")
        if self.binary_path:
            self.remote_binary = f"{REMOTE_DIR}/benchmark_model"
            self._do("push benchmark_model", self.device.sync.push, str(self.binary_path),
                     self.remote_binary, 0o755)
        else:
            r = self._do("find benchmark_model", self.device.shell2, f"ls {PREINSTALLED}")
            if r.returncode != 0:
                raise DeviceError(f"adb device {self.serial}: no benchmark_model at {PREINSTALLED}; "
                                  "pass --benchmark-binary")
        return self

    def measure(self, model: str | os.PathLike, use_gpu: bool = True) -> Measurement:
        """Push ``model``, benchmark it, remove it; the mean of ``runs`` timed runs."""
        data = Path(model).read_bytes()
        remote = f"{REMOTE_DIR}/{hashlib.sha256(data).hexdigest()[:16]}.tflite"
        self._do("push model", self.device.sync.push, data, remote, 0o644)
        cmd = (f"{self.remote_binary} --graph={remote} --use_gpu={'true' if use_gpu else 'false'} "
               f"--num_runs={self.runs} --warmup_runs={self.warmup_runs}")
        try:
            r = self._do("benchmark_model", self.device.shell2, cmd, timeout=self.timeout_s)
        finally:
            self._quiet_shell(f"rm -f {remote}")
        if r.returncode != 0:
            last = next((ln for ln in reversed(r.output.strip().splitlines()) if ln.strip()), "")
            raise DeviceError(f"adb device {self.serial}: benchmark_model exited with {r.returncode} on "
                              f"{Path(model).name}: {last.strip()[:120]}")
        try:
            return parse_benchmark_output(r.output)
        except BenchmarkOutputError as exc:
            raise BenchmarkOutputError(f"adb device {self.serial}: {Path(model).name}: {exc}") from None

    def _quiet_shell(self, cmd: str) -> None:
        with contextlib.suppress(DeviceError):  # the phone may be gone: nothing left to clean then
            self._do("cleanup", self.device.shell, cmd)

    def __exit__(self, *exc) -> None:
        if self.device is not None:
            self._quiet_shell(f"rm -rf {REMOTE_DIR}")
