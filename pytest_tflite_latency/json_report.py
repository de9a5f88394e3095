"""The session's JSON files: ``--latency-report`` (every check, extendable through the
``pytest_tflite_latency_update_json`` hook) and ``--latency-measurements`` (what ``--on-device`` measured,
in the format ``calibrate`` reads). Both written atomically with the usual file mode."""

from __future__ import annotations

import errno
import json
import os
import secrets
from pathlib import Path

from pytest_tflite_latency.records import CheckRecord

MEASUREMENTS_FORMAT = "tflite-latency-measurements/1"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees half a file; xdist workers writing one page each
    replace it whole), with mode 0666 less the umask, as `open` gives. A path that is no regular file
    (``/dev/null``, a pipe, or a link to one) is written into, never replaced."""
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{os.strerror(errno.ENOTDIR)}: {path.parent}", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False))


def report_data(records: list[CheckRecord]) -> dict:
    from pytest_tflite_latency.summary import phone_drift

    data = {"tool": "pytest-tflite-latency", "results": [r.to_dict() for r in records],
            "passed": sum(r.passed for r in records), "failed": sum(not r.passed for r in records),
            "errors": sum(bool(r.error) for r in records), "warnings": sum(len(r.warnings) for r in records)}
    drift = phone_drift(records)
    if drift:  # with --on-device: per phone and profile, measured against the estimate's interval
        data["phones"] = drift
    return data


def write_report(path: Path, records: list[CheckRecord], config=None) -> None:
    """The JSON report: each check's record with its kernels and warnings; plugins may add to it."""
    data = report_data(records)
    if config is not None:
        config.hook.pytest_tflite_latency_update_json(config=config, report=data)
    write_json(path, data)


def measurement_entries(records: list[CheckRecord]) -> list[dict]:
    """One entry per measured check, as COMMON's measurement format has it."""
    out = []
    for r in records:
        m = r.measurement
        if m is None or r.estimate_ms is None:
            continue
        out.append({"model": r.path or r.model, "model_sha256": m.model_sha256, "phone": m.phone,
                    "serial": m.serial, "gpu": m.gpu, "runtime": m.runtime, "delegate": m.delegate,
                    "delegate_options": m.delegate_options, "device": r.device, "mean_ms": m.mean_ms,
                    "std_ms": m.std_ms, "count": m.count, "estimate_ms": r.estimate_ms,
                    "interval_ms": list(r.interval_ms)})
    return out


def write_measurements(path: Path, records: list[CheckRecord]) -> None:
    write_json(path, {"format": MEASUREMENTS_FORMAT, "measurements": measurement_entries(records)})
