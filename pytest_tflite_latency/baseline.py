"""``--latency-baseline``: a previous ``--latency-report``, read as a regular file of bounded size, every
figure checked before use."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_tflite_latency.estimator.inputs import InputError, checked_number, read_regular_file
from pytest_tflite_latency.records import CheckRecord

MAX_REPORT_BYTES = 256 * 2**20
Key = tuple[str, str]


class BaselineMissing(InputError):
    """The baseline file does not exist (a pipeline's first run)."""


def baseline_key(r: CheckRecord | dict) -> Key:
    """What a check is matched on in a baseline: its model file from the rootdir and the profile it used, so
    two files of one name in two folders, or a GPU's name and its profile's, are told apart or matched;
    (model, device) as written for a report from before they were recorded."""
    get = r.get if isinstance(r, dict) else lambda name: getattr(r, name)
    return (get("model_key") or get("model"), get("profile") or get("device"))


def baseline_entry(baseline: dict[Key, CheckRecord], record: CheckRecord) -> CheckRecord | None:
    """The check's entry in the baseline: by its model file and profile; in a report from before they were
    recorded, by the names as written; None where there is none."""
    old = baseline.get(baseline_key(record))
    if old is None:
        legacy = baseline.get((record.model, record.device))
        old = legacy if legacy is not None and not legacy.model_key else None
    return old


def same_profile(old: CheckRecord, record: CheckRecord) -> bool:
    """Whether a baseline entry was made with the profile version the check used (``profile_sha``; a
    report from before it was recorded counts as the same): a recalibrated or retrained profile's figure
    is not compared with the old one's."""
    return not (old.profile_sha and record.profile_sha) or old.profile_sha == record.profile_sha


def load_baseline(path: Path) -> dict[Key, CheckRecord]:
    """`baseline_key` → that check's record in a previous report, each estimate a finite positive time.
    `BaselineMissing` when there is no such file, `InputError` (one line naming the file) when it is not a
    usable report."""
    where = f"--latency-baseline: {path}"
    try:
        data = read_regular_file(path, MAX_REPORT_BYTES, "latency report")
    except InputError as exc:
        if exc.problem == "no such file":
            raise BaselineMissing(where, "no such file") from None
        raise InputError("--latency-baseline", str(exc)) from None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise InputError(where, "not a latency report: not valid JSON (or nested too deeply)") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise InputError(where, "not a latency report: expected an object with a 'results' list")
    baseline = {}
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise InputError(where, f"not a latency report: results[{i}] is not an object")
        if r.get("error"):
            continue
        model, device = r.get("model"), r.get("device")
        if not isinstance(model, str) or not isinstance(device, str):
            raise InputError(where, f"not a latency report: results[{i}] has no model and device names")
        try:
            ms = checked_number(r.get("estimate_ms"), f"{model} on {device}: estimate_ms", low=0, low_open=True)
        except InputError as exc:
            raise InputError(where, f"{exc}; not a finite positive time") from None
        layers = r.get("layers") if isinstance(r.get("layers"), list) else []
        keyed = {k: r[k] for k in ("model_key", "profile", "profile_sha") if isinstance(r.get(k), str)}
        baseline[baseline_key(r)] = CheckRecord(model, device, None, estimate_ms=ms, layers=layers, **keyed)
    return baseline
