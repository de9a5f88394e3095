"""--on-device: find an attached phone and measure a model on it (bench's adb runner)."""

from __future__ import annotations

from pathlib import Path

from pytest_tflite_latency.adb import AdbBenchmark, DeviceError, list_serials

__all__ = ["DeviceError", "find_device", "measure"]


def find_device(wanted: str) -> tuple[str | None, str]:
    """(serial, "") of the phone to use, or (None, why there is none)."""
    try:
        serials = list_serials()
    except DeviceError as exc:
        return None, str(exc)
    if wanted in ("auto", "required"):
        return (serials[0], "") if serials else (None, "no Android device attached (adb devices is empty)")
    if wanted in serials:
        return wanted, ""
    return None, f"device {wanted!r} is not attached (adb devices: {', '.join(serials) or 'none'})"


def measure(model: Path, serial: str | None, benchmark_binary: str | None) -> float:
    """Mean latency in ms of ``model`` on the phone, GPU delegate on; pushed files are removed."""
    with AdbBenchmark(serial, benchmark_binary) as bench:
        return bench.measure(model, use_gpu=True).mean_ms
