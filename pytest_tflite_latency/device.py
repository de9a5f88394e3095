"""--on-device: find an attached phone and measure a model on it over adb."""

from __future__ import annotations

from pathlib import Path

from pytest_tflite_latency.adb import AdbBenchmark, AdbMissingError, DeviceError, list_serials

__all__ = ["DeviceError", "find_device", "measure"]


def find_device(wanted: str) -> tuple[str | None, str]:
    """(serial, note) of the phone to use for ``--on-device[=wanted]``, or (None, why there is none)
    when ``wanted`` is "auto". Raises `DeviceError` when the phone asked for cannot be used: a named
    serial that is not attached, none at all with "required", or adbutils not installed."""
    try:
        serials = list_serials()
    except AdbMissingError:
        raise
    except DeviceError as exc:
        serials, why = [], str(exc)
    else:
        why = "no Android device attached (adb devices is empty)"
    if wanted not in ("auto", "required"):
        if wanted in serials:
            return wanted, f"measuring on {wanted}"
        raise DeviceError(f"device {wanted!r} is not attached (adb devices: {', '.join(serials) or 'none'})")
    if not serials:
        if wanted == "required":
            raise DeviceError(why)
        return None, f"{why}; budgets hold the estimates only"
    if len(serials) > 1:
        return serials[0], (f"measuring on {serials[0]}, the first of {len(serials)} attached "
                            f"({', '.join(serials)}); name one with --on-device=SERIAL")
    return serials[0], f"measuring on {serials[0]}"


def measure(model: Path, serial: str, benchmark_binary: str | None) -> float:
    """Mean latency in ms of ``model`` on the phone, GPU delegate on; pushed files are removed."""
    with AdbBenchmark(serial, benchmark_binary, binary_option="--latency-benchmark-binary") as bench:
        return bench.measure(model, use_gpu=True).mean_ms
