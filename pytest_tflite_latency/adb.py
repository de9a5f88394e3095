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
import secrets
import shlex
import socket
import time
from pathlib import Path

from pytest_tflite_latency.measurement import Measurement  # the type the runner returns

REMOTE_DIR = "/data/local/tmp/tflite_latency"  # each session works in a folder of its own inside
PREINSTALLED = "/data/local/tmp/benchmark_model"
STALE_S = 24 * 3600  # another host's session folder left this long is taken as abandoned
PLAUSIBLE_US = (1.0, 3600e6)  # a model runs for at least 1 µs and at most an hour
# "Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): V", and before
# TensorFlow 2.4 "Average inference timings in us: Warmup: .., Init: .., Inference: V"
_TIMINGS = re.compile(r"[Ii]nference timings in us:.*?Inference(?: \(avg\))?: ([^\s,]+)")
# tsl::Stat::OutputToStream: "count=N first=.. curr=.. min=.. max=.. avg=.. std=S", or "count=N curr=V(all same)"
_COUNT = re.compile(r"count=(\S+)(?: [^\n]*?std=(\S+)| curr=\S+)?")
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_SESSION = re.compile(r"([0-9a-f]{8})-(\d{1,10})-(\d{1,12})-[0-9a-f]{8}")  # host-pid-created-token


class DeviceError(Exception):
    """Measuring on the phone failed; the message names the device and the step."""


class BenchmarkOutputError(DeviceError):
    """benchmark_model ran but its output holds no usable timing."""


class AdbMissingError(DeviceError):
    """adbutils, from the ``adb`` extra, is not installed."""


def _adbutils():
    """The adbutils module, or an `AdbMissingError` that says how to install it."""
    try:
        import adbutils
    except ModuleNotFoundError:
        raise AdbMissingError("measuring over adb needs adbutils: pip install 'pytest-tflite-latency[adb]'") \
            from None
    return adbutils


def _client():
    adbutils = _adbutils()
    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    return adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=30)


def _server_port() -> int:
    return int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))


def server_running() -> bool:
    """Does an adb server answer on its port (ANDROID_ADB_SERVER_PORT, else 5037)?"""
    try:
        with socket.create_connection(("127.0.0.1", _server_port()), timeout=3):
            return True
    except OSError:
        return False


def _adb_command(*args: str, timeout_s: float = 30) -> str | None:
    """Run adbutils' adb (ADBUTILS_ADB_PATH, else adb on PATH, else its bundled one) on the server's
    port; None when it succeeded, else why it did not."""
    import subprocess

    try:
        exe = _adbutils().adb_path()
        r = subprocess.run([exe, "-P", str(_server_port()), *args], capture_output=True, text=True,
                           timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"adb {args[0]} gave no answer within {timeout_s:g} s"
    except (_adbutils().AdbError, OSError) as exc:
        return getattr(exc, "strerror", None) or str(exc) or "adb could not be run"
    if r.returncode == 0:
        return None
    said = (r.stderr + r.stdout).strip().splitlines()
    return f"{Path(exe).name} {args[0]} exited with {r.returncode}" + (f": {said[-1][:160]}" if said else "")


def start_server() -> str | None:
    """Start an adb server on its port; None when it started, else why it did not."""
    return _adb_command("start-server")


def kill_server() -> None:
    """Stop the adb server on its port (the one `start_server` started)."""
    _adb_command("kill-server")


def list_serials() -> list[str]:
    """Serials of the attached devices that are online."""
    client = _client()
    try:
        return [d.serial for d in client.device_list()]
    except (_adbutils().AdbError, OSError) as exc:
        raise DeviceError(f"adb server not reachable ({exc})") from None


def parse_benchmark_output(text: str) -> Measurement:
    """The mean (and spread) of the timed runs in ``benchmark_model`` output; `BenchmarkOutputError`
    for malformed numbers and for latencies outside 1 µs … 1 hour."""
    m = _TIMINGS.search(text)
    if not m:
        last = next((ln for ln in reversed(text.strip().splitlines()) if ln.strip()), "(no output)")
        raise BenchmarkOutputError(f"benchmark_model printed no 'Inference timings' line; last line: "
                                   f"{last.strip()[:120]!r}")
    mean_us = _number(m.group(1), "average latency")
    if not PLAUSIBLE_US[0] <= mean_us <= PLAUSIBLE_US[1]:
        raise BenchmarkOutputError(f"benchmark_model reported an implausible latency: {m.group(1)[:40]} us")
    counts = _COUNT.findall(text[:m.start()])  # the last statistics before the timings: the timed runs
    runs, std = counts[-1] if counts else ("0", "")
    runs, std_us = _number(runs, "run count"), _number(std, "deviation") if std else 0.0
    if runs != int(runs) or std_us < 0:
        raise BenchmarkOutputError(f"benchmark_model reported {runs:g} runs with deviation {std_us:g} us")
    return Measurement(mean_us / 1000, std_us / 1000, int(runs))


def _number(token: str, what: str) -> float:
    """A finite, non-negative number printed by benchmark_model, else `BenchmarkOutputError`."""
    try:
        value = float(token) if len(token) <= 40 else math.inf
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise BenchmarkOutputError(f"benchmark_model printed {token[:40]!r} as its {what}")
    return value


def session_dir() -> str:
    """A folder on the phone for this process alone: host, pid, creation time and a random token."""
    return f"{REMOTE_DIR}/{_HOST}-{os.getpid()}-{int(time.time())}-{secrets.token_hex(4)}"


def abandoned(name: str, now: float) -> bool:
    """Is ``name`` (an entry of REMOTE_DIR) left behind: another version's file, a folder of a process
    of this host that is gone, or another host's folder older than STALE_S?"""
    m = _SESSION.fullmatch(name)
    if m is None:
        return True
    if m.group(1) == _HOST:
        return not _alive(int(m.group(2)))
    return now - int(m.group(3)) > STALE_S


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class AdbBenchmark:
    """``with AdbBenchmark(serial, binary) as b: b.measure(path)`` — cleans the phone on exit."""

    def __init__(self, serial: str | None = None, benchmark_binary: str | os.PathLike | None = None,
                 runs: int = 50, warmup_runs: int = 5, timeout_s: float = 300,
                 binary_option: str = "--benchmark-binary"):
        self.serial, self.binary_path, self.binary_option = serial, benchmark_binary, binary_option
        self.runs, self.warmup_runs, self.timeout_s = runs, warmup_runs, timeout_s
        self.device = None
        self.remote_binary = PREINSTALLED
        self.remote_dir = session_dir()

    def _fail(self, step: str, exc: BaseException) -> DeviceError:
        return DeviceError(f"adb device {self.serial or '(default)'}: {step} failed: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")

    def _do(self, step: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (_adbutils().AdbError, OSError, EOFError) as exc:
            raise self._fail(step, exc) from None

    def __enter__(self) -> AdbBenchmark:
        client = _client()
        self.device = self._do("connect", client.device, self.serial)
        self.serial = self.device.serial
        self._remove_abandoned()
        self._do("mkdir", self.device.shell, f"mkdir -p {self.remote_dir}")
        if self.binary_path:
            self.remote_binary = f"{self.remote_dir}/benchmark_model"
            self._do("push benchmark_model", self.device.sync.push, str(self.binary_path),
                     self.remote_binary, 0o755)
        else:
            r = self._do("find benchmark_model", self.device.shell2, f"ls {PREINSTALLED}")
            if r.returncode != 0:
                raise DeviceError(f"adb device {self.serial}: no benchmark_model at {PREINSTALLED}; "
                                  f"pass {self.binary_option}")
        return self

    def measure(self, model: str | os.PathLike, use_gpu: bool = True, num_threads: int | None = None) -> Measurement:
        """Push ``model``, benchmark it, remove it; the mean of ``runs`` timed runs (on ``num_threads``
        CPU threads where given, else benchmark_model's default)."""
        data = Path(model).read_bytes()
        remote = f"{self.remote_dir}/{hashlib.sha256(data).hexdigest()[:16]}.tflite"
        self._do("push model", self.device.sync.push, data, remote, 0o644)
        cmd = (f"{self.remote_binary} --graph={remote} --use_gpu={'true' if use_gpu else 'false'} "
               f"--num_runs={self.runs} --warmup_runs={self.warmup_runs}")
        if num_threads is not None:
            cmd += f" --num_threads={int(num_threads)}"
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

    def _remove_abandoned(self) -> None:
        """What earlier sessions left on the phone (a disconnect stops them cleaning up)."""
        r = self._do("list old sessions", self.device.shell2, f"ls {REMOTE_DIR}")
        now = time.time()
        old = [n for n in r.output.split() if re.fullmatch(r"[\w.-]+", n) and abandoned(n, now)] \
            if r.returncode == 0 else []
        if old:
            self._quiet_shell("rm -rf " + " ".join(shlex.quote(f"{REMOTE_DIR}/{n}") for n in old))

    def _quiet_shell(self, cmd: str) -> None:
        with contextlib.suppress(DeviceError):  # the phone may be gone: nothing left to clean then
            self._do("cleanup", self.device.shell, cmd)

    def __exit__(self, *exc) -> None:
        if self.device is not None:
            self._quiet_shell(f"rm -rf {self.remote_dir}; rmdir {REMOTE_DIR}")  # rmdir: when no other session
