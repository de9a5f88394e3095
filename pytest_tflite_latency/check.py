"""The core check: estimate a model on a device and hold it to a budget, as a `CheckRecord`.

Independent of pytest and of the YAML budget files: `check_budget` is what `assert_latency`, the fixture,
the marker and budget files all end in.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.pipeline import Estimate, estimate
from pytest_tflite_latency.estimator.profile import DeviceProfile, load_profile
from pytest_tflite_latency.records import CheckRecord, checked_budget, checked_margin, checked_policy

BudgetResult = CheckRecord  # the name `assert_latency` has always returned


class LatencyBudgetExceeded(AssertionError):
    """A model is slower than its budget (or regressed beyond the baseline threshold)."""

    def __init__(self, result: CheckRecord):
        super().__init__(result.message())
        self.result = result


def _absolute(device: str, search_dirs: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """The device as given (for messages) and cache keys that name files absolutely (a relative path
    means another file in another directory) and by their version (a profile rewritten since, by a
    recalibration, is another profile)."""
    files = [Path(device)] if device.endswith(".json") else [Path(d) / f"{device}.json" for d in search_dirs]
    where = ";".join(f"{f.absolute()}@{_version(f)}" for f in files)
    return device, where, tuple(str(Path(d).absolute()) for d in search_dirs)


def _version(path: Path) -> str:
    """The file's modification time and size, "" where it is not there."""
    try:
        st = path.stat()
    except (OSError, ValueError):
        return ""
    return f"{st.st_mtime_ns}:{st.st_size}"


def profile_for(device: str, search_dirs: tuple[str, ...] = ()) -> DeviceProfile:
    """The profile ``device`` names: a team profile in ``search_dirs``, a bundled one, or a JSON file."""
    return _cached_profile(*_absolute(device, search_dirs))


@lru_cache(maxsize=64)
def _cached_profile(device: str, where: str, search_dirs: tuple[str, ...]) -> DeviceProfile:
    return load_profile(device, search_dirs)


@lru_cache(maxsize=256)
def _cached_estimate(path: str, version: str, precision: str | None, device: str, where: str,
                     search_dirs: tuple[str, ...]) -> Estimate:
    return estimate(path, _cached_profile(device, where, search_dirs), precision=precision)


def estimate_file(model: str | os.PathLike, device: str = DEFAULT_DEVICE,
                  search_dirs: tuple[str, ...] = (), precision: str | None = None) -> Estimate:
    """Estimate a model file, cached while the file is unchanged; ``precision``: what the app's GPU
    delegate computes in ("fp16"/"fp32"; None: as the profile measured)."""
    path = Path(model)
    version = _version(path)
    if not version:  # let the estimator report the missing file in its own words, one line
        return estimate(path, profile_for(device, search_dirs), precision=precision)
    return _cached_estimate(str(path.resolve()), version, precision, *_absolute(device, search_dirs))


def describe_layers(est: Estimate, n: int = 3) -> list[str]:
    out = []
    for layer in est.top_layers(n):
        shape = "x".join(map(str, layer.output_shape)) if layer.output_shape else ""
        share = 100 * layer.ms / max(est.total_ms, 1e-12)
        out.append(f"#{layer.index} {'+'.join(layer.ops)} → {shape} on {layer.runs_on}: "
                   f"{layer.ms:.2f} ms ({share:.0f}%)")
    if est.overhead_ms > 0:
        out.append(f"and a per-inference overhead no kernel change removes: {est.overhead_ms:.2f} ms "
                   f"({100 * est.overhead_ms / max(est.total_ms, 1e-12):.0f}%)")
    return out


def check_budget(model: str | os.PathLike, max_ms: float, device: str = DEFAULT_DEVICE,
                 policy: str = "estimate", margin_pct: float = 0.0, label: str | None = None,
                 search_dirs: tuple[str, ...] = (), precision: str | None = None) -> CheckRecord:
    """Estimate ``model`` on ``device`` (its GPU delegate computing in ``precision``; None: as the profile
    measured) and compare it with ``max_ms``; never raises on a miss, raises `InputError` for a budget,
    margin or policy that is not usable (checked before anything runs)."""
    policy = checked_policy(policy)
    max_ms = checked_budget(max_ms)
    margin = checked_margin(margin_pct)
    est = estimate_file(model, device, search_dirs, precision)
    return CheckRecord(label or str(model), device, max_ms, policy, margin, est.total_ms, tuple(est.interval_ms),
                       coverage=est.interval_coverage, top_layers=describe_layers(est),
                       layers=est.to_dict()["layers"], warnings=list(est.warnings),
                       path=str(Path(model).resolve()), profile=est.device,
                       profile_sha=profile_for(device, search_dirs).fingerprint)
