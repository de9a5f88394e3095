"""Shared fixtures: real .tflite files written by the project's model writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_tflite_latency.bench import zoo


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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def adb_server(monkeypatch):
    """Debian's real adb server on a private port (ANDROID_ADB_SERVER_PORT)."""
    import shutil
    import subprocess

    if not shutil.which("adb"):
        pytest.skip("the adb server is not installed (Debian package 'adb'; .ci/run installs it)")
    port = str(_free_port())
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", port)
    subprocess.run(["adb", "-P", port, "start-server"], check=True, capture_output=True, timeout=30)
    yield port
    subprocess.run(["adb", "-P", port, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def phone_factory(adb_server, tmp_path):
    """Start an emulated phone (optionally with a fault) and `adb connect` the real server to it."""
    import subprocess
    import time

    from emulator import EmulatedPhone

    phones = []

    def make(fault: str | None = None) -> EmulatedPhone:
        phone = EmulatedPhone(fault=fault, root=tmp_path / f"phone{len(phones)}")
        phones.append(phone)
        subprocess.run(["adb", "-P", adb_server, "connect", phone.serial], check=True,
                       capture_output=True, timeout=30)
        for _ in range(50):  # wait until the server lists it as "device"
            out = subprocess.run(["adb", "-P", adb_server, "devices"], capture_output=True, text=True).stdout
            if f"{phone.serial}\tdevice" in out:
                return phone
            time.sleep(0.1)
        raise RuntimeError(f"adb never listed {phone.serial}: {out}")

    yield make
    for phone in phones:
        phone.close()


@pytest.fixture
def benchmark_binary(tmp_path) -> Path:
    """Stands in for TFLite's ARM binary: the emulated phone runs LiteRT when it is invoked."""
    path = tmp_path / "benchmark_model"
    path.write_bytes(b"\x7fELF emulated benchmark_model\n")
    return path
