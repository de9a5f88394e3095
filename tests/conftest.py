"""Shared fixtures: real .tflite files written by the project's model writer, the CLI run in this
process, Debian's real adb server and an emulated phone."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_tflite_latency.bench import zoo

ADB_ATTEMPTS = 5  # a port picked free can be taken before adb binds it: try another
ADB_TIMEOUT_S = 60  # a busy 2-core machine can take seconds to fork the server


@dataclass(frozen=True)
class CliRun:
    """What one `tflite-latency` command did: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str | os.PathLike, columns: int | None = None) -> CliRun:
    """``tflite-latency ARGS`` in this process (``cli.main``), as a fresh interpreter would run it:
    argparse's exits become the exit status; ``columns`` sets the terminal width it sees."""
    from pytest_tflite_latency import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if columns is not None:
            mp.setenv("COLUMNS", str(columns))
        try:
            code = cli.main([os.fspath(a) for a in args])
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def cli():
    """`run_cli`: ``cli("estimate", path)`` → CliRun(returncode, stdout, stderr), in this process (a fresh
    interpreter costs a second a call; tests/test_cli.py keeps a few for exit codes and the script)."""
    return run_cli


@pytest.fixture(scope="session")
def nb201_bytes() -> bytes:
    return zoo.build("nasbench201", fill="zeros")


@pytest.fixture(scope="session")
def mobilenet_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "mobilenet_v2.tflite"
    path.write_bytes(zoo.build("mobilenet_v2", fill="zeros"))
    return path


@pytest.fixture(scope="session")
def nb201_path(tmp_path_factory, nb201_bytes) -> Path:
    path = tmp_path_factory.mktemp("models") / "nb201.tflite"
    path.write_bytes(nb201_bytes)
    return path


@pytest.fixture(scope="session")
def resnet18_path(tmp_path_factory) -> Path:
    """ResNet-18 (46 MB), written once per session: only for tests that need a large model."""
    path = tmp_path_factory.mktemp("models") / "resnet18.tflite"
    path.write_bytes(zoo.build("resnet18", fill="zeros"))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AdbServer:
    """Debian's adb server on a private port, with a private HOME (its key and logs)."""

    def __init__(self, home: Path):
        self.env = {**os.environ, "HOME": str(home)}
        self.port = ""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``adb -P PORT ARGS``; a failure fails the test with adb's own output."""
        cmd = ["adb", "-P", self.port, *args]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=ADB_TIMEOUT_S, env=self.env)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(cmd)}: no answer within {ADB_TIMEOUT_S} s", pytrace=False)
        if check and r.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} exited with {r.returncode}: {(r.stderr + r.stdout).strip()}",
                        pytrace=False)
        return r

    def start(self) -> None:
        """Start the server on a free port, trying another port when the one picked was taken."""
        errors = []
        for _ in range(ADB_ATTEMPTS):
            self.port = str(_free_port())
            r = self.run("start-server", check=False)
            if r.returncode == 0:
                return
            errors.append(f"port {self.port}: exit {r.returncode}: {(r.stderr + r.stdout).strip()}")
        pytest.fail("adb start-server failed:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def adb_server(monkeypatch, tmp_path_factory):
    """Debian's real adb server on a private port (ANDROID_ADB_SERVER_PORT)."""
    if not shutil.which("adb"):
        pytest.skip("the adb server is not installed (Debian package 'adb'; .ci/run installs it)")
    server = AdbServer(tmp_path_factory.mktemp("adb-home"))
    server.start()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", server.port)
    yield server
    server.run("kill-server", check=False)


@pytest.fixture
def private_adb_port(monkeypatch, tmp_path_factory) -> Iterator[int]:
    """ANDROID_ADB_SERVER_PORT on a free port with a private HOME (adb's key and logs), for tests that
    start a server themselves; a server left running there is stopped at the end."""
    if not shutil.which("adb"):
        pytest.skip("the adb server is not installed (Debian package 'adb'; .ci/run installs it)")
    port = _free_port()
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("adb-home")))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    yield port
    subprocess.run(["adb", "-P", str(port), "kill-server"], capture_output=True, timeout=ADB_TIMEOUT_S)


@pytest.fixture
def no_adb_server(monkeypatch) -> None:
    """No adb server on ANDROID_ADB_SERVER_PORT, and none started there: adbutils starts one when
    it finds none, and this makes that fail."""
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(_free_port()))
    monkeypatch.setenv("ADBUTILS_ADB_PATH", shutil.which("false") or "/bin/false")


@pytest.fixture
def phone_factory(adb_server, tmp_path):
    """Start an emulated phone (optionally with a fault) and `adb connect` the real server to it."""
    from emulator import EmulatedPhone

    phones = []

    def make(fault: str | None = None) -> EmulatedPhone:
        phone = EmulatedPhone(fault=fault, root=tmp_path / f"phone{len(phones)}")
        phones.append(phone)
        adb_server.run("connect", phone.serial)
        deadline = time.monotonic() + ADB_TIMEOUT_S
        while time.monotonic() < deadline:  # wait until the server lists it as "device"
            out = adb_server.run("devices").stdout
            if f"{phone.serial}\tdevice" in out:
                return phone
            time.sleep(0.1)
        pytest.fail(f"adb never listed {phone.serial} as a device: {out.strip()}", pytrace=False)

    yield make
    for phone in phones:
        phone.close()


@pytest.fixture
def benchmark_binary(tmp_path) -> Path:
    """Stands in for TFLite's ARM binary: the emulated phone runs LiteRT when it is invoked."""
    path = tmp_path / "benchmark_model"
    path.write_bytes(b"\x7fELF emulated benchmark_model\n")
    return path
