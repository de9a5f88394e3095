"""Train and export a device profile from a measurement database's records."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.profile import DeviceInfo, DeviceProfile


def device_records(database, device: str) -> tuple[list[Record], list]:
    """A device's training records and the stored rows they come from; none is an `EstimatorError`."""
    stored = database.records(device)
    if not stored:
        known = sorted({r["device"] for r in database.status()})
        raise EstimatorError(f"--device-name: no measurements of {device!r} in {database.path} "
                             f"(devices there: {', '.join(known) or 'none'})")
    return [Record(r.name, r.X, r.mean_ms, r.learned, kind=r.kind) for r in stored], stored


def export_profile(database, device: str, algorithm: str | None, out: Path) -> DeviceProfile:
    """Cross-validate, train on every record of ``device`` and write its profile to ``out``."""
    from pytest_tflite_latency.bench.build_profiles import profile_from_records

    records, stored = device_records(database, device)
    info = database.device_info(device)
    kinds = {r.kind for r in stored}
    profile = profile_from_records(
        device, records, title=info["detail"], backend=info["backend"],
        runtime=f"{info['runtime']} {info['runtime_version']}",
        trained_on=f"{len(stored)} measurements ({', '.join(sorted(kinds))}) in {database.path.name}",
        algorithms=[algorithm] if algorithm else None)
    # what `devices` shows as its phone: this host's processor for the local runner, else the device's name
    profile = dataclasses.replace(profile, device=DeviceInfo(phone=info["detail"] if info["runner"] == "local"
                                                             else device))
    save_profile(profile, out)
    return profile


def save_profile(profile: DeviceProfile, out: Path) -> None:
    """Write the profile (its folder made if missing) through a temporary file: never half-written."""
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        profile.save(tmp)
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # what a failed write left
        raise EstimatorError(f"--out: {out}: cannot write ({exc.strerror})") from None
